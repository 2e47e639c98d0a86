"""The command line: every command documented and helpful, and the main paths through it."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
