"""The command line: every command documented and helpful, and the main paths through it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from archive_fixtures import SHARED_DATA
from typer.testing import CliRunner

from clausewatch.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _names(typer_app: typer.Typer) -> list[str]:
    return [
        c.name or (c.callback.__name__.replace("_", "-") if c.callback else "")
        for c in typer_app.registered_commands
    ]


def all_commands() -> list[str]:
    names = _names(app)
    for group in app.registered_groups:
        assert group.typer_instance is not None
        names.extend(f"{group.name} {sub}" for sub in _names(group.typer_instance))
    return sorted(names)


@pytest.mark.parametrize("command", all_commands())
def test_every_command_has_help_and_is_in_the_readme(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    readme = (ROOT / "README.md").read_text()
    head = command.split()[0]
    assert re.search(rf"`clausewatch {re.escape(head)}[ `\[]", readme), f"{command} not in README"


def test_extract_prints_markdown_of_local_files() -> None:
    page = SHARED_DATA / "extraction" / "Perplexity" / "Terms of Service" / "source-0.html"
    result = runner.invoke(app, ["extract", str(page)])
    assert result.exit_code == 0, result.output
    assert result.output.lstrip().startswith("#") or "\n#" in result.output
    assert "<div" not in result.output


def test_extract_names_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["extract", str(tmp_path / "nope.html")])
    assert result.exit_code == 2
    assert "nope.html" in result.output


def test_registry_validate_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "slug: bad\nname: Bad\ncategory: social-media\nwebsite: https://bad.example\n"
        "documents:\n  - type: Terms of Service\n    fetch: not-a-url\n"
    )
    result = runner.invoke(app, ["registry", "validate", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "documents[0].fetch" in result.output
    ok = runner.invoke(app, ["registry", "validate"])
    assert ok.exit_code == 0 and "platforms" in ok.output


def test_import_list_show_verify_and_export(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    sample = ROOT / "examples" / "ota-sample.jsonl.xz"
    result = runner.invoke(app, ["import", str(sample), *data])
    assert result.exit_code == 0, result.output
    assert "30 records" in result.output
    listed = runner.invoke(app, ["documents", "list", "--format", "json", *data])
    rows = json.loads(listed.output)
    assert {r["type"] for r in rows} == {"Privacy Policy", "Terms of Service"}
    shown = runner.invoke(app, ["documents", "show", rows[0]["id"], "--format", "json", *data])
    detail = json.loads(shown.output)
    assert detail["versions"][0]["kind"] == "first"
    text = runner.invoke(app, ["documents", "text", detail["versions"][0]["id"], *data])
    assert text.exit_code == 0 and len(text.output) > 1000
    assert runner.invoke(app, ["verify", *data]).exit_code == 0
    warc = tmp_path / "out.warc.gz"
    exported = runner.invoke(app, ["export", "warc", str(warc), *data])
    assert exported.exit_code == 0 and "0 WARC" in exported.output  # imports are not web captures
    bad = runner.invoke(app, ["documents", "show", "X-1", *data])
    assert bad.exit_code == 2 and "not a clausewatch ID" in bad.output


def test_provisions_and_changes_commands(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    sample = ROOT / "examples" / "ota-sample.jsonl.xz"
    assert runner.invoke(app, ["import", str(sample), *data]).exit_code == 0
    provisions = json.loads(
        runner.invoke(app, ["provisions", "list", "--format", "json", *data]).output
    )
    assert provisions and all(p["id"].startswith("P-") for p in provisions)
    shown = runner.invoke(
        app, ["provisions", "show", provisions[0]["id"], "--format", "json", *data]
    )
    detail = json.loads(shown.output)
    assert detail["stability"] in ("Stable", "Evolving", "Volatile") and detail["text"]
    changes = json.loads(runner.invoke(app, ["changes", "list", "--format", "json", *data]).output)
    assert changes and all(c["status"] == "substantive" for c in changes)
    one = runner.invoke(app, ["changes", "show", changes[-1]["id"], *data])
    assert one.exit_code == 0 and changes[-1]["id"] in one.output
    rebuilt = runner.invoke(app, ["provisions", "build", *data])
    assert "versions: 0" in rebuilt.output
    missing = runner.invoke(app, ["changes", "show", "C-999999", *data])
    assert missing.exit_code == 2 and "no change record C-999999" in missing.output


def test_classify_reads_json_lines_and_quotes_exactly() -> None:
    text = (
        "Any dispute arising out of these terms shall be resolved by binding arbitration "
        "administered by the American Arbitration Association."
    )
    lines = json.dumps({"text": text, "heading": "Disputes"}) + "\n" + json.dumps({"text": "Hi"})
    result = runner.invoke(app, ["classify"], input=lines + "\n")
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert any(p["type_id"] == "arbitration" for p in first["predictions"])
    for prediction in first["predictions"]:
        assert text[prediction["start"] : prediction["end"]] == prediction["supporting_text"]
    assert isinstance(second["predictions"], list)
    bad = runner.invoke(app, ["classify"], input='{"text": "ok"}\n{"heading": "x"}\n')
    assert bad.exit_code == 2 and "line 2" in bad.output and "text" in bad.output


def test_analysis_commands(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    sample = ROOT / "examples" / "ota-sample.jsonl.xz"
    assert runner.invoke(app, ["import", str(sample), *data]).exit_code == 0
    provisions = json.loads(
        runner.invoke(app, ["provisions", "list", "--format", "json", *data]).output
    )
    early = runner.invoke(app, ["analysis", "show", provisions[0]["id"], *data])
    assert early.exit_code == 2 and "run `clausewatch analyse`" in early.output
    first = runner.invoke(app, ["analyse", *data])
    assert first.exit_code == 0 and "documents refreshed: 2" in first.output
    again = runner.invoke(app, ["analyse", *data])
    assert "revisions classified: 0" in again.output
    types = json.loads(runner.invoke(app, ["analysis", "types", "--format", "json", *data]).output)
    found = {t["type"]: t for t in types if t["platforms"]}
    assert found and all(t["monitored_platforms"] == 2 for t in types)
    type_id = next(iter(found))
    hub = json.loads(runner.invoke(app, ["analysis", "type", type_id, *data]).output)
    assert hub["rarity"] == {k: v for k, v in found[type_id].items() if k in hub["rarity"]}
    shown = runner.invoke(
        app, ["analysis", "show", hub["platforms"][0]["provisions"][0], "--format", "json", *data]
    )
    detail = json.loads(shown.output)
    assert type_id in {c["type"] for c in detail["classifications"]}
    assert detail["narrative"]["why_it_matters"]
    grid = runner.invoke(app, ["analysis", "matrix", "--type", type_id, "--format", "json", *data])
    assert len(json.loads(grid.output)["rows"]) == 2
    one = runner.invoke(app, ["analysis", "compare", type_id, "linkedin", *data])
    assert one.exit_code == 2 and "2 to 4 platforms" in one.output
    unknown = runner.invoke(app, ["analysis", "type", "no-such-type", *data])
    assert unknown.exit_code == 2 and "unknown clause type" in unknown.output
    changes = json.loads(runner.invoke(app, ["changes", "list", "--format", "json", *data]).output)
    assert all(
        c["direction"] in ("less protective", "more protective", "mixed", "neutral")
        for c in changes
    )


# -- issue #12 item 8: one-line errors, --platform, tables at 80 columns ---------------------


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """An archive with the sample history imported and the starter registry synced."""
    data = ["--data-dir", str(tmp_path_factory.mktemp("cli") / "data")]
    sample = ROOT / "examples" / "ota-sample.jsonl.xz"
    assert runner.invoke(app, ["import", str(sample), *data]).exit_code == 0
    assert runner.invoke(app, ["sync", *data]).exit_code == 0
    return data


def _one_error_line(result: Any, code: int = 2) -> str:
    """The command failed with ``code`` and said why in one `error:` line, no traceback."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_documents_text_takes_a_version_or_a_document_id(imported: list[str]) -> None:
    missing = _one_error_line(runner.invoke(app, ["documents", "text", "D-99999", *imported]))
    assert "no document D-99999" in missing
    empty = _one_error_line(runner.invoke(app, ["documents", "text", "D-00125", *imported]))
    assert "D-00125 has no archived version yet" in empty  # declared by sync, never captured
    current = runner.invoke(app, ["documents", "text", "D-00001", *imported])
    assert current.exit_code == 0 and len(current.stdout) > 1000
    bad = _one_error_line(runner.invoke(app, ["documents", "text", "nonsense", *imported]))
    assert "takes a version ID" in bad
    gone = _one_error_line(runner.invoke(app, ["documents", "text", "V-999999", *imported]))
    assert "no version V-999999" in gone


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("garbage.zip", b"PK\x03\x04 not really a zip" * 50, "not a readable zip archive"),
        ("garbage.jsonl.xz", b"\xfd7zXZ\x00 not really xz" * 50, "compressed data is damaged"),
    ],
)
def test_import_of_a_damaged_file_is_one_line(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    result = runner.invoke(app, ["import", str(source), "--data-dir", str(tmp_path / "d")])
    line = _one_error_line(result)
    assert name in line and says in line


def test_serve_refuses_a_port_out_of_range() -> None:
    line = _one_error_line(runner.invoke(app, ["serve", "--port", "99999"]))
    assert "--port 99999 is out of range (0 to 65535)" in line


def test_serve_checks_the_port_before_saying_it_serves(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(
            app, ["serve", "--port", str(port), "--data-dir", str(tmp_path / "d")]
        )
    line = _one_error_line(result)
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert "serving" not in result.output


def test_extract_takes_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "page.html").write_text("<html><body><h1>Hello</h1><p>Text.</p></body></html>")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["extract", "page.html"])
    assert result.exit_code == 0, result.output
    assert "# Hello" in result.stdout


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (bytes(range(256)) * 20, "binary content, not an HTML or PDF file"),
        (b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4, "compressed (gzip)"),
    ],
)
def test_extract_refuses_a_binary_file(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "file.html"
    path.write_bytes(content)
    result = runner.invoke(app, ["extract", str(path)])
    line = _one_error_line(result)
    assert says in line and "file.html" in line
    assert result.stdout == ""  # no mojibake


def test_check_names_an_unknown_document_in_a_synced_archive(imported: list[str]) -> None:
    line = _one_error_line(runner.invoke(app, ["check", "D-99999", *imported]))
    assert "no document D-99999" in line and "sync" not in line
    malformed = _one_error_line(runner.invoke(app, ["check", "P-000001", *imported]))
    assert "is not a D- ID" in malformed


def test_an_unexpected_error_is_one_line(
    imported: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from clausewatch.changes import queries

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(queries, "list_changes", broken)
    line = _one_error_line(runner.invoke(app, ["changes", "list", *imported]), code=1)
    assert "unexpected RuntimeError: boom" in line

    def unreadable(*_args: Any, **_kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied", "/data/blobs/ab")

    monkeypatch.setattr(queries, "list_changes", unreadable)
    line = _one_error_line(runner.invoke(app, ["changes", "list", *imported]))
    assert line == "error: /data/blobs/ab: Permission denied"


@pytest.mark.parametrize("command", ["documents", "provisions", "changes"])
def test_list_commands_filter_by_platform_name_or_slug(imported: list[str], command: str) -> None:
    def listed(*extra: str) -> list[dict[str, Any]]:
        result = runner.invoke(app, [command, "list", "--format", "json", *extra, *imported])
        assert result.exit_code == 0, result.output
        rows: list[dict[str, Any]] = json.loads(result.stdout)
        return rows

    everything = listed()
    linkedin = listed("--platform", "LinkedIn")
    assert linkedin == listed("--platform", "linkedin") == listed("--platform", "LINKEDIN")
    bluesky = listed("--platform", "Bluesky")
    assert linkedin and bluesky
    if command != "documents":  # documents list has every synced platform's documents
        assert sorted(r["id"] for r in linkedin + bluesky) == sorted(r["id"] for r in everything)
    documents = {r["document"] if command != "documents" else r["id"] for r in linkedin}
    assert "D-00001" in documents and "D-00002" not in documents
    unknown = runner.invoke(app, [command, "list", "--platform", "Linkdin", *imported])
    line = _one_error_line(unknown)
    assert "no platform 'Linkdin'" in line and "did you mean linkedin" in line


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["documents", "list", "--platform", "linkedin"], "DV"),
        (["documents", "show", "D-00001"], "VC"),  # versions and captures (CAP-)
        (["provisions", "list"], "PD"),
        (["changes", "list", "--all"], "CD"),  # from/to versions: `changes show`, JSON
    ],
)
def test_tables_fit_80_columns_with_whole_ids(
    imported: list[str], command: list[str], shown: str
) -> None:
    result = runner.invoke(app, [*command, *imported], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines and all(len(line) <= 80 for line in lines)
    as_json = runner.invoke(app, [*command, "--format", "json", *imported]).stdout
    ids = {i for i in re.findall(r'"((?:CAP|[DVPC])-\d+)"', as_json) if i[0] in shown}
    assert ids
    cells = {word for line in lines for word in line.split()}
    assert ids <= cells, sorted(ids - cells)[:5]  # every ID whole, on one line
    assert not any(re.search(r"\b(?:CAP|[DVPC])-\d*…", line) for line in lines)
