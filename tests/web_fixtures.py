"""A real archive for the web tests: a sample (the OTA one unless told) imported and analysed
once per module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient
from typer.testing import CliRunner

from clausewatch.cli import app as cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "ota-sample.jsonl.xz"
BUNDLED_SAMPLE = ROOT / "src" / "clausewatch" / "data" / "pga-sample.jsonl.xz"  # real pga history


def populate(data_dir: Path, sample: Path = SAMPLE) -> Path:
    runner = CliRunner()
    args = ["--data-dir", str(data_dir)]
    for command in (["import", str(sample)], ["analyse"]):
        result = runner.invoke(cli, [*command, *args])
        assert result.exit_code == 0, result.output
    return data_dir


def get_json(client: TestClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, (url, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    return response.json()
