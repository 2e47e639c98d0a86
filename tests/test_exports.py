"""Bulk exports (JSONL, Parquet, OTA dataset zip) and the PDF pages, on a real archive: the OTA
sample imported and analysed once for the module (SQLite)."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_fixtures import populate

from clausewatch import exports
from clausewatch.archive.service import Archive
from clausewatch.cli import app as cli
from clausewatch.config import Settings
from clausewatch.importers.ota import import_history, read_dataset_zip
from clausewatch.storage.db import transaction
from clausewatch.storage.models import Provision, ProvisionRevision, Version
from clausewatch.web import create_app
from clausewatch.web.exports import FetchRefused, make_fetcher, pdf_from_html, static_path

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return populate(tmp_path_factory.mktemp("exports") / "data")


@pytest.fixture(scope="module")
def archive(data_dir: Path) -> Iterator[Archive]:
    archive = Archive.open(Settings(data_dir=data_dir))
    yield archive
    archive.close()


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield client


@pytest.fixture(scope="module")
def jsonl(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("jsonl") / "out"
    result = runner.invoke(cli, ["export", "jsonl", str(out), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_counts_match_the_database_and_the_manifest(archive: Archive, jsonl: Path) -> None:
    counts = exports.table_counts(archive)
    assert all(counts[t] > 0 for t in exports.TABLE_NAMES), counts
    manifest = json.loads((jsonl / "manifest.json").read_text())
    assert manifest["exporter_version"] == exports.EXPORTER_VERSION
    assert "ODC-By" in manifest["licence"]
    assert list(manifest["tables"]) == list(exports.TABLE_NAMES)
    for table, entry in manifest["tables"].items():
        rows = read_jsonl(jsonl / entry["file"])
        assert len(rows) == entry["rows"] == counts[table], table
        assert entry["sha256"] == exports.sha256_file(jsonl / entry["file"])
        # stable column order, as declared
        assert all(list(row) == entry["columns"] for row in rows), table
    provisions = read_jsonl(jsonl / "provisions.jsonl")
    assert all(p["id"].startswith("P-") and len(p["id"]) == 8 for p in provisions)
    assert [p["id"] for p in provisions] == sorted(p["id"] for p in provisions)
    changes = read_jsonl(jsonl / "changes.jsonl")
    assert any(c["severity"] and c["direction"] for c in changes)
    versions = read_jsonl(jsonl / "versions.jsonl")
    assert all(len(v["text"]) == v["text_length"] for v in versions)


def test_supporting_text_is_a_substring_of_the_exported_text(archive: Archive, jsonl: Path) -> None:
    texts = {p["id"]: p["text"] for p in read_jsonl(jsonl / "provisions.jsonl")}
    rows = read_jsonl(jsonl / "classifications.jsonl")
    latest = [c for c in rows if c["latest_revision"]]
    assert latest
    for c in latest:
        assert c["supporting_text"] in texts[c["provision"]], c
        assert texts[c["provision"]][c["start"] : c["end"]] == c["supporting_text"]
    # older revisions: against their own revision's text in the archive
    older = [c for c in rows if not c["latest_revision"]]
    with archive.sessions() as session:
        for c in older:
            revision = session.get(ProvisionRevision, c["revision"])
            assert revision is not None
            version = session.get(Version, revision.version_id)
            assert version is not None
            text = archive.version_text(version)[revision.start : revision.end]
            assert c["supporting_text"] in text, c


def test_parquet_holds_the_same_rows(data_dir: Path, jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "pq"
    result = runner.invoke(cli, ["export", "parquet", str(out), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    for table in exports.TABLE_NAMES:
        spec = exports.arrow_schema(table)
        read = pq.read_table(out / f"{table}.parquet")
        assert read.schema.names == spec.names
        assert read.num_rows == manifest["tables"][table]["rows"]
        json_columns = {f.name for f in spec if f.name in ("origin", "counts", "items")}
        parquet_rows = []
        for row in read.to_pylist():
            for key, value in row.items():
                if isinstance(value, dt.datetime):
                    row[key] = value.isoformat()
                elif key in json_columns:
                    row[key] = json.loads(value)
            parquet_rows.append(row)
        assert parquet_rows == read_jsonl(jsonl / f"{table}.jsonl"), table


def test_export_refuses_a_non_empty_output_unless_forced(
    data_dir: Path, tmp_path: Path, archive: Archive
) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["export", "jsonl", str(out), "--table", "platforms", "--data-dir", str(data_dir)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert "exists and is not empty" in result.output and "--force" in result.output
    assert runner.invoke(cli, [*args, "--force"]).exit_code == 0
    assert (out / "platforms.jsonl").exists() and (out / "keep.txt").exists()
    zip_out = tmp_path / "x.zip"
    zip_out.write_bytes(b"x")
    result = runner.invoke(cli, ["export", "ota-zip", str(zip_out), "--data-dir", str(data_dir)])
    assert result.exit_code == 2 and "exists and is not empty" in result.output
    with pytest.raises(exports.ExportError, match="unknown table"):
        exports.export_jsonl(archive, tmp_path / "t", tables=["nope"])


def test_ota_zip_round_trips_through_the_importer(
    archive: Archive, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dataset.zip"
    result = runner.invoke(cli, ["export", "ota-zip", str(out), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    assert "dataset/README.md" in names and "dataset/LICENSE" in names
    assert all(n.count("/") == 3 for n in names if n.endswith("Z.md"))

    def history(a: Archive) -> list[tuple[str, str, str, str]]:
        # An OTA dataset cannot say a version is technical (a re-extraction): re-imported, such a
        # text is a variant of the version before it (same comparison key), not a version.
        rows = []
        for document in a.documents(active_only=False):
            for version in a.versions(document.id):
                if version.kind == "technical":
                    continue
                rows.append(
                    (
                        document.platform.name,
                        document.doc_type,
                        version.recorded_at.astimezone(dt.UTC).isoformat(),
                        a.version_text(version),
                    )
                )
        return sorted(rows)

    fresh = Archive.open(Settings(data_dir=tmp_path / "fresh"))
    try:
        report = import_history(fresh, read_dataset_zip(out))
        assert report.records == len(names) - 2
        assert history(fresh) == history(archive)
    finally:
        fresh.close()


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    return "\n".join(page.get_textpage().get_text_range() for page in pdf)


def test_pdf_routes(client: TestClient) -> None:
    provision = client.get("/api/v1/provisions?limit=1").json()["items"][0]["id"]
    change = client.get("/api/v1/changes?limit=1").json()["items"][0]["id"]
    document = client.get("/api/v1/documents").json()["items"][0]["id"]
    for page, record in (("provisions", provision), ("changes", change), ("documents", document)):
        html = client.get(f"/{page}/{record}").text
        assert f'href="/{page}/{record}.pdf"' in html, "PDF link"
        response = client.get(f"/{page}/{record}.pdf")
        assert response.status_code == 200, response.text[:300]
        assert response.headers["content-type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")
        assert record in pdf_text(response.content)
    assert client.get("/provisions/P-999999.pdf").status_code == 404
    assert client.get("/provisions/nonsense.pdf").status_code == 404


def test_pdf_of_hostile_text_keeps_it_as_text(data_dir: Path, client: TestClient) -> None:
    hostile = "Terms <script>alert(1)</script> and <img src=http://example.com/x.png> end."
    provision = client.get("/api/v1/provisions?limit=1").json()["items"][0]["id"]
    settings = Settings(data_dir=data_dir)
    archive = Archive.open(settings)
    pid = int(provision.split("-")[1])
    with transaction(archive.sessions) as session:
        row = session.get(Provision, pid)
        assert row is not None
        original, row.title = row.title, hostile
    try:
        with TestClient(create_app(settings)) as fresh:
            html = fresh.get(f"/provisions/{provision}").text
            assert "<script>alert(1)" not in html and "<img src=http" not in html
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
            text = pdf_text(fresh.get(f"/provisions/{provision}.pdf").content)
        # the markup is printed as text, so it was never an element
        assert "<script>alert(1)</script>" in text.replace("\r", "").replace("\n", "")
    finally:
        with transaction(archive.sessions) as session:
            row = session.get(Provision, pid)
            assert row is not None
            row.title = original
        archive.close()


def test_the_url_fetcher_serves_only_our_static_files() -> None:
    base = "http://testserver/"
    fetcher = make_fetcher(base)
    assert b"print" in fetcher.fetch("http://testserver/static/print.css").read()
    for url in (
        "http://example.com/",
        "https://example.com/static/style.css",
        "http://testserver/api/v1/stats",
        "http://testserver/static/../app.py",
        "http://testserver/static/%2e%2e/app.py",
        "file:///etc/passwd",
        "data:text/css,body{}",
    ):
        with pytest.raises(FetchRefused):
            fetcher.fetch(url)
    with pytest.raises(FetchRefused):
        static_path("http://example.com/static/style.css", base)
    # a page that asks for outside resources still renders, without them
    page = (
        '<html><head><link rel="stylesheet" href="http://example.com/evil.css"></head>'
        '<body><h1>ok</h1><img src="http://example.com/pixel.png"></body></html>'
    )
    assert pdf_from_html(page, base).startswith(b"%PDF")


def test_bulk_downloads_on_the_web(client: TestClient) -> None:
    page = client.get("/exports")
    assert page.status_code == 200 and "clausewatch-parquet.zip" in page.text
    response = client.get("/exports/clausewatch-jsonl.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    import io

    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("clausewatch-jsonl/manifest.json"))
    assert {f"clausewatch-jsonl/{t}.jsonl" for t in exports.TABLE_NAMES} <= names
    assert manifest["tables"]["provisions"]["rows"] > 0
    assert client.get("/exports/other.zip").status_code == 404
