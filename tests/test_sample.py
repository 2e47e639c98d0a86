"""The bundled offline sample: real records, attributed, reproducible; `clausewatch run` loads it
when nothing can be captured and the archive is empty, so the site is populated."""

from __future__ import annotations

import json
import lzma
import subprocess
import sys
from pathlib import Path

import pytest
from archive_fixtures import SHARED_DATA
from fastapi.testclient import TestClient
from loopback import LoopbackServer
from typer.testing import CliRunner

from clausewatch.cli import app
from clausewatch.config import Settings
from clausewatch.importers import sample
from clausewatch.web import create_app

ROOT = Path(__file__).resolve().parents[1]
SOURCE = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"


def records(path: Path) -> list[dict[str, object]]:
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_sample_is_shipped_in_the_package_and_attributed() -> None:
    rows = records(sample.SAMPLE_PATH)
    platforms = {r["service"] for r in rows}
    documents = {(r["service"], r["terms_type"]) for r in rows}
    assert len(platforms) >= 5 and len(documents) >= 10 and len(rows) >= 50
    assert sample.SAMPLE_PATH.stat().st_size < 3_000_000
    for readme in (sample.SAMPLE_PATH.parent / "README.md", ROOT / "examples" / "README.md"):
        text = readme.read_text()
        assert "ODC-By 1.0" in text
        assert "Open Terms Archive / Platform Governance Archive" in text


@pytest.mark.skipif(not SOURCE.exists(), reason=f"{SOURCE} not available")
def test_sample_is_real_records_unchanged_and_reproducible(tmp_path: Path) -> None:
    with lzma.open(SOURCE, "rt", encoding="utf-8") as fh:
        source = {line.rstrip("\n") for line in fh}
    with lzma.open(sample.SAMPLE_PATH, "rt", encoding="utf-8") as fh:
        assert all(line.rstrip("\n") in source for line in fh)
    rebuilt = tmp_path / "sample.jsonl.xz"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_sample.py"), "--out", str(rebuilt)],
        check=True,
        capture_output=True,
    )
    assert rebuilt.read_bytes() == sample.SAMPLE_PATH.read_bytes()


def test_run_offline_loads_the_sample_and_the_site_is_populated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A subset of the bundled sample (the first version of three platforms' shortest document)
    # keeps the test fast; the code path is the one `make run` takes with the whole sample.
    first: dict[str, dict[str, object]] = {}
    for row in records(sample.SAMPLE_PATH):
        service = str(row["service"])
        if row["kind"] == "first" and (
            service not in first or len(str(row["text"])) < len(str(first[service]["text"]))
        ):
            first[service] = row
    chosen = sorted(first.values(), key=lambda r: len(str(r["text"])))[:3]
    subset = tmp_path / "subset.jsonl.xz"
    with lzma.open(subset, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in chosen)
    monkeypatch.setattr(sample, "SAMPLE_PATH", subset)

    closed = LoopbackServer().start()
    url = closed.url("/terms")
    closed.stop()  # nothing listens there any more: every capture fails
    registry = tmp_path / "registry.yaml"
    registry.write_text(
        "slug: offline-test\nname: Offline Test\ncategory: social-media\n"
        f"website: {url}\ndocuments:\n  - type: Terms of Service\n    fetch: {url}\n"
    )
    for key, value in {"FETCH_RETRIES": "0", "BROWSER_FALLBACK": "false"}.items():
        monkeypatch.setenv(f"CLAUSEWATCH_{key}", value)
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        app, ["run", "--registry", str(registry), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "importing the bundled sample" in result.output
    assert "Platform Governance Archive" in result.output

    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        stats = client.get("/api/v1/stats").json()
        slugs = {p["slug"] for p in client.get("/api/v1/platforms").json()["items"]}
        analysed = client.get("/api/v1/provisions?limit=5").json()
    assert stats["platforms"] >= 4 and stats["versions"] == 3, stats
    assert stats["provisions"] > 0 and stats["current_provisions"] > 0, stats
    assert {str(r["service"]).lower() for r in chosen} <= slugs
    assert analysed["total"] > 0  # provisions were classified: `analyse` ran on the sample

    # the next run finds versions in the archive and does not import the sample again
    again = CliRunner().invoke(
        app, ["run", "--registry", str(registry), "--data-dir", str(data_dir)]
    )
    assert again.exit_code == 0, again.output
    assert "bundled sample" not in again.output
