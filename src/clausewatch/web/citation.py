"""Citation records of a provision: plain text, BibTeX and CSL-JSON, all from one record."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from clausewatch.render import to_plain_line

FORMATS = ("text", "bibtex", "csl-json")


def citation_fields(record: dict[str, Any], url: str, accessed: dt.date) -> dict[str, Any]:
    """The fields every format shows, from :func:`clausewatch.analysis.queries.provision_record`."""
    evidence = record["evidence"]
    snapshot = next(
        (c["snapshot_sha256"] for c in evidence["captures"] if c["snapshot_sha256"]), None
    )
    return {
        "id": record["id"],
        "entity": record["platform"],
        "document": f"{record['platform']} {record['document_type']}",
        "document_id": record["document"],
        "title": to_plain_line(record["title"]),  # no Markdown markers in a citation
        "captured": evidence["version_recorded_at"],
        "version": evidence["version"],
        "snapshot_sha256": snapshot,
        "text_sha256": evidence["text_sha256"],
        "url": url,
        "accessed": accessed.isoformat(),
    }


def as_text(f: dict[str, Any]) -> str:
    captured = dt.datetime.fromisoformat(f["captured"]).astimezone(dt.UTC)
    lines = [
        f"Entity: {f['entity']}",
        f"Document: {f['document']} ({f['document_id']})",
        f"Provision: {f['title']}",
        f"Record ID: {f['id']}",
        f"Version: {f['version']}",
        f"Captured: {captured:%Y-%m-%d %H:%M:%S} UTC",
    ]
    if f["snapshot_sha256"]:
        lines.append(f"Snapshot SHA-256: {f['snapshot_sha256']}")
    lines += [
        f"Text SHA-256: {f['text_sha256']}",
        f"URL: {f['url']}",
        f"Accessed: {f['accessed']}",
    ]
    return "\n".join(lines) + "\n"


_BIB_SPECIAL = re.compile(r"([\\{}&%$#_^~])")


def _bib(value: str) -> str:
    def repl(m: re.Match[str]) -> str:
        char = m.group(1)
        return {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}.get(char, "\\" + char)

    return _BIB_SPECIAL.sub(repl, value)


def as_bibtex(f: dict[str, Any]) -> str:
    captured = dt.datetime.fromisoformat(f["captured"]).astimezone(dt.UTC)
    key = "clausewatch-" + f["id"]
    note = f"Record {f['id']}, version {f['version']}, text SHA-256 {f['text_sha256']}"
    if f["snapshot_sha256"]:
        note += f", snapshot SHA-256 {f['snapshot_sha256']}"
    fields = {
        "title": f"{f['title']} ({f['document']})",
        "author": "{" + f["entity"] + "}",
        "year": str(captured.year),
        "howpublished": "\\url{" + f["url"] + "}",
        "url": f["url"],
        "urldate": f["accessed"],
        "note": note,
    }
    body = []
    for name, value in fields.items():
        if name in ("howpublished", "url"):
            body.append(f"  {name} = {{{value}}}")
        elif name == "author":
            body.append(f"  author = {{{{{_bib(f['entity'])}}}}}")
        else:
            body.append(f"  {name} = {{{_bib(value)}}}")
    return f"@misc{{{key},\n" + ",\n".join(body) + "\n}\n"


def _parts(iso: str) -> list[list[int]]:
    day = dt.date.fromisoformat(iso[:10])
    return [[day.year, day.month, day.day]]


def as_csl(f: dict[str, Any]) -> str:
    item = {
        "id": f["id"],
        "type": "webpage",
        "title": f["title"],
        "container-title": f["document"],
        "author": [{"literal": f["entity"]}],
        "publisher": "clausewatch",
        "issued": {"date-parts": _parts(f["captured"])},
        "accessed": {"date-parts": _parts(f["accessed"])},
        "URL": f["url"],
        "note": f"Record {f['id']}; version {f['version']}; text SHA-256 {f['text_sha256']}",
    }
    return json.dumps([item], ensure_ascii=False, indent=2)
