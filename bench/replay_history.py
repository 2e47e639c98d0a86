"""Replay a real history through both ways into the archive, and compare them.

    .venv/bin/python bench/replay_history.py [--documents "TikTok / Community Guidelines" ...]
        [--all] [--clock record|wall] [--examples N] [--write]

The Platform Governance Archive export (`../shared/data/ota/pga-versions.jsonl.xz`) is replayed,
for the chosen documents, two ways into two fresh archives:

* **import**: the chosen records, written to a temporary `.jsonl`, go through the library call
  behind `clausewatch import` (`importers.ota.import_history(read_jsonl(...))`), then
  `provisions.service.build`.
* **live**: a registry declares each document at a loopback URL (`tests/loopback.py`); each
  record's Markdown is rendered to HTML (markdown-it, in a plain `<html><body><main>` page) and
  served there in recording order, a deleted record (text null) as a 404; after each record is
  put up, the document is checked once by the capture cycle behind `clausewatch check`
  (`archive.cycle.CaptureCycle` with `CaptureClient.from_settings`, confirm delay 0, the smallest
  the settings allow): a change is fetched a second time (the confirming fetch) within that same
  check. Then `provisions.service.build`.

The live path takes a check's time from its fetches (`FetchResult.started_at`, the wall clock).
With `--clock record` (the default) the fetch function passed to the cycle sets `started_at` to
the record's `recorded_at`, so versions, pending changes and the 7-day flip-flop window see the
history's own dates, as the import does. `--clock wall` leaves the wall clock: the whole history
is then a few seconds long and every A → B → A is a flip-flop.

For each document and in total: versions kept (status active), kept versions the quality gate
(`archive.quality.assess_text`) refuses on their own (error page, wall, stub) and against their
predecessor (lost most of its text), change records (substantive / other), refused records
(failed, suspicious, deleted), and OTA's recorded changes for reference. Then the records whose
outcome differs between the two routes, counted by (import outcome, live outcome).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import lzma
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from _common import BENCH_DOC, ROOT, SHARED_DATA
from markdown_it import MarkdownIt
from sqlalchemy import select

sys.path.insert(0, str(ROOT / "tests"))
from loopback import LoopbackServer, Response

from clausewatch.archive.cycle import CaptureCycle
from clausewatch.archive.quality import assess_text
from clausewatch.archive.service import Archive
from clausewatch.capture import CaptureClient
from clausewatch.capture.base import FetchRequest, FetchResult
from clausewatch.config import Settings
from clausewatch.importers.ota import OtaRecord, import_history, read_jsonl
from clausewatch.provisions.service import build
from clausewatch.registry.models import (
    DocumentDeclaration,
    PlatformDeclaration,
    SourceDeclaration,
)
from clausewatch.registry.ota import ota_slug
from clausewatch.registry.vocabulary import resolve_document_type
from clausewatch.storage.models import Capture, ChangeRecord, Document, Platform, Version

JSONL = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"
BEGIN, END = "<!-- replay:begin -->", "<!-- replay:end -->"
SECTION = "## Replay: live path vs import"

# Long, eventful histories of modest page size (the default run stays within a few minutes on
# two cores), with the known junk (TikTok's "Oops! 404", Instagram's 1,370-character stub), OTA
# technical re-extractions and the one deletion of the export.
DEFAULT_DOCUMENTS = [
    "TikTok / Community Guidelines",
    "Instagram / Privacy Policy",
    "Instagram / Law Enforcement Guidelines",
    "Facebook / Live Policy",
    "Facebook / Data Processor Agreement",
    "Threads / Terms of Service",
    "Spotify / Community Guidelines",
    "Expedia / Privacy Policy",
]
REFUSED = ("failed", "suspicious", "deleted")
MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def key_of(record: OtaRecord) -> str:
    return f"{record.service} / {record.terms_type}"


def load(names: list[str] | None) -> dict[str, list[OtaRecord]]:
    """The chosen documents' records, in recording order (all documents when names is None)."""
    out: dict[str, list[OtaRecord]] = defaultdict(list)
    for record in read_jsonl(JSONL):
        if names is None or key_of(record) in names:
            out[key_of(record)].append(record)
    missing = [n for n in names or [] if n not in out]
    if missing:
        raise SystemExit(f"no such document in {JSONL.name}: {', '.join(missing)}")
    return dict(out)


def page(markdown: str) -> bytes:
    body = MD.render(markdown)
    return f"<!DOCTYPE html><html><body><main>\n{body}</main></body></html>".encode()


# --- measuring an archive ----------------------------------------------------------------------


@dataclass
class Figures:
    versions: int = 0  # kept: status active
    folded: int = 0  # flip-flop versions folded into a variant
    technical: int = 0  # kept versions of kind technical
    junk: int = 0  # kept versions the gate refuses on their own
    lost: int = 0  # kept versions the gate refuses against their predecessor (and not alone)
    substantive: int = 0
    other_changes: int = 0  # change records not substantive (and not retracted)
    refused: Counter[str] = field(default_factory=Counter)  # failed / suspicious / deleted checks
    outcomes: list[str] = field(default_factory=list)  # one per record (live: the check's last)
    junk_examples: list[str] = field(default_factory=list)


def measure(archive: Archive) -> dict[str, Figures]:
    """Per document ("Service / Type", as the import names it)."""
    out: dict[str, Figures] = {}
    with archive.sessions() as session:
        names = {
            doc_id: (name, doc_type)
            for doc_id, name, doc_type in session.execute(
                select(Document.id, Platform.name, Document.doc_type).join(Platform)
            )
        }
        versions = list(session.scalars(select(Version).order_by(Version.id)))
        changes = list(session.execute(select(ChangeRecord.document_id, ChangeRecord.status)))
        checks = list(
            session.execute(
                select(Capture.document_id, Capture.check_id, Capture.outcome).order_by(Capture.id)
            )
        )
    label = {doc_id: f"{n} / {t}" for doc_id, (n, t) in names.items()}
    for doc_id in names:
        out[label[doc_id]] = Figures()
    texts = {v.id: archive.version_text(v) for v in versions}
    for v in versions:
        fig = out[label[v.document_id]]
        if v.status != "active":
            fig.folded += v.status == "flip_flop"
            continue
        fig.versions += 1
        fig.technical += v.kind == "technical"
        alone = assess_text(texts[v.id], None)
        if alone:
            fig.junk += 1
            fig.junk_examples.append(f"{v.recorded_at:%Y-%m-%d} {alone[:90]}")
        elif v.predecessor_id is not None and assess_text(texts[v.id], texts[v.predecessor_id]):
            fig.lost += 1
    for doc_id, status in changes:
        fig = out[label[doc_id]]
        if status == "substantive":
            fig.substantive += 1
        elif status != "retracted":
            fig.other_changes += 1
    seen: set[str] = set()
    for doc_id, check_id, outcome in checks:
        if check_id in seen:
            continue  # one capture per source of a check
        seen.add(check_id)
        if outcome in REFUSED:
            out[label[doc_id]].refused[outcome] += 1
    return out


# --- the two routes ----------------------------------------------------------------------------


def import_route(records: dict[str, list[OtaRecord]], work: Path) -> tuple[Archive, float]:
    source = work / "replay.jsonl"
    # the export's own lines, in its order, for the chosen documents
    with lzma.open(JSONL, "rt") as src, source.open("w") as dst:
        for line in src:
            row = json.loads(line) if line.strip() else None
            if row and f"{row['service']} / {row['terms_type']}" in records:
                dst.write(line)
    archive = Archive.open(Settings(data_dir=work / "import"))
    start = time.perf_counter()
    import_history(archive, read_jsonl(source))
    build(archive)
    return archive, time.perf_counter() - start


def live_settings(work: Path) -> Settings:
    return Settings(
        data_dir=work / "live",
        confirm_delay=0.0,  # the smallest the settings allow (ge=0)
        per_host_delay=0.0,
        browser_fallback=False,  # no Chromium on a loopback replay
        fetch_retries=0,
    )


def live_route(
    records: dict[str, list[OtaRecord]], work: Path, clock: str
) -> tuple[Archive, float, dict[str, list[tuple[str, str | None]]]]:
    archive = Archive.open(live_settings(work))
    server = LoopbackServer().start()
    pages: dict[str, Response] = {}
    recorded: dict[str, dt.datetime] = {}
    paths: dict[str, str] = {}
    by_service: dict[str, list[DocumentDeclaration]] = defaultdict(list)
    names: dict[str, str] = {}
    for name, rs in records.items():
        service, terms_type = rs[0].service, rs[0].terms_type
        path = f"/replay/{ota_slug(service)}/{ota_slug(terms_type)}"
        paths[name] = path
        server.route(path, lambda request, p=path: pages[p])
        doc_type = resolve_document_type(terms_type) or terms_type  # as the import names it
        by_service[service].append(
            DocumentDeclaration(type=doc_type, sources=(SourceDeclaration(url=server.url(path)),))
        )
        names[f"{service} / {doc_type}"] = name
    archive.sync_registry(
        PlatformDeclaration(
            slug=ota_slug(service),
            name=service,
            category="social-media",
            website="http://127.0.0.1",
            documents=tuple(docs),
        )
        for service, docs in by_service.items()
    )
    doc_ids = {names[f"{d.platform.name} / {d.doc_type}"]: d.id for d in archive.documents()}
    outcomes: dict[str, list[tuple[str, str | None]]] = {name: [] for name in records}

    async def go() -> None:
        client = CaptureClient.from_settings(archive.settings)

        async def fetch(request: FetchRequest) -> FetchResult:
            result = await client.fetch(request)
            if clock == "record":
                result.started_at = recorded[request.url]
            return result

        cycle = CaptureCycle(archive, fetch, confirm_delay=archive.settings.confirm_delay)

        async def replay(name: str) -> None:
            url = server.url(paths[name])
            for record in records[name]:
                if record.text is None:
                    pages[paths[name]] = Response(status=404, body="<h1>Not Found</h1>")
                else:
                    pages[paths[name]] = Response(body=page(record.text))
                recorded[url] = record.recorded_at
                # one check of `clausewatch check`: a detected change is fetched again at once
                result = await cycle.check(archive.document(doc_ids[name]))
                outcomes[name].append((str(result.outcome), result.reason))

        try:
            await asyncio.gather(*(replay(name) for name in records))
        finally:
            await client.aclose()

    start = time.perf_counter()
    try:
        asyncio.run(go())
    finally:
        server.stop()
    build(archive)
    return archive, time.perf_counter() - start, outcomes


def import_outcomes(archive: Archive) -> dict[str, list[tuple[str, str | None]]]:
    out: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    with archive.sessions() as session:
        rows = session.execute(
            select(Platform.name, Document.doc_type, Capture.outcome, Capture.reason)
            .join(Document, Capture.document_id == Document.id)
            .join(Platform)
            .order_by(Capture.id)
        )
        for name, doc_type, outcome, reason in rows:
            out[f"{name} / {doc_type}"].append((outcome, reason))
    return out


# --- the report --------------------------------------------------------------------------------


def refused_text(counter: Counter[str]) -> str:
    return "+".join(str(counter[k]) for k in REFUSED)


def report(
    records: dict[str, list[OtaRecord]],
    imp: dict[str, Figures],
    live: dict[str, Figures],
    import_names: dict[str, str],
    live_names: dict[str, str],
) -> list[str]:
    rows = [
        "| document | OTA records (changes / technical) | versions kept: import / live "
        "| of them technical | junk kept (alone; lost text) | substantive change records "
        "| other change records | flip-flops folded "
        "| refused records (failed+suspicious+deleted) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    total_i, total_l = Figures(), Figures()
    ota_changes = ota_technical = n_records = 0
    for name, rs in records.items():
        i, lv = imp[import_names[name]], live[live_names[name]]
        changes = sum(r.kind == "change" for r in rs)
        technical = sum(r.kind == "technical_upgrade" for r in rs)
        n_records += len(rs)
        ota_changes += changes
        ota_technical += technical
        for total, fig in ((total_i, i), (total_l, lv)):
            for attr in ("versions", "folded", "technical", "junk", "lost", "substantive"):
                setattr(total, attr, getattr(total, attr) + getattr(fig, attr))
            total.other_changes += fig.other_changes
            total.refused.update(fig.refused)
        rows.append(
            f"| {name} | {len(rs)} ({changes} / {technical}) | {i.versions} / {lv.versions} "
            f"| {i.technical} / {lv.technical} | {i.junk}; {i.lost} / {lv.junk}; {lv.lost} "
            f"| {i.substantive} / {lv.substantive} | {i.other_changes} / {lv.other_changes} "
            f"| {i.folded} / {lv.folded} | {refused_text(i.refused)} / {refused_text(lv.refused)} |"
        )
    rows.append(
        f"| **total** ({len(records)} documents) | {n_records} ({ota_changes} / {ota_technical}) "
        f"| {total_i.versions} / {total_l.versions} | {total_i.technical} / {total_l.technical} "
        f"| {total_i.junk}; {total_i.lost} / {total_l.junk}; {total_l.lost} "
        f"| {total_i.substantive} / {total_l.substantive} "
        f"| {total_i.other_changes} / {total_l.other_changes} "
        f"| {total_i.folded} / {total_l.folded} "
        f"| {refused_text(total_i.refused)} / {refused_text(total_l.refused)} |"
    )
    return rows


def disagreements(
    records: dict[str, list[OtaRecord]],
    imp: dict[str, list[tuple[str, str | None]]],
    live: dict[str, list[tuple[str, str | None]]],
    import_names: dict[str, str],
    examples: int,
) -> tuple[list[str], list[str]]:
    pairs: Counter[tuple[str, str, str]] = Counter()
    shown: list[str] = []
    for name, rs in records.items():
        i_out = imp[import_names[name]]
        l_out = live[name]
        for record, (io, ir), (lo, lr) in zip(rs, i_out, l_out, strict=True):
            if io == lo:
                continue
            pairs[(record.kind, io, lo)] += 1
            if len(shown) < examples:
                shown.append(
                    f"- {name} {record.recorded_at:%Y-%m-%d %H:%M} ({record.kind}): "
                    f"import `{io}`{_why(ir)}, live `{lo}`{_why(lr)}"
                )
    rows = [
        "| OTA kind | import | live | records |",
        "|---|---|---|---|",
        *(f"| {k} | {i} | {lv} | {n} |" for (k, i, lv), n in pairs.most_common()),
    ]
    return rows, shown


def _why(reason: str | None) -> str:
    return f" ({reason[:110]})" if reason else ""


def write_doc(body: str) -> None:
    text = BENCH_DOC.read_text()
    block = f"{BEGIN}\n{body.strip()}\n{END}"
    if BEGIN in text and END in text:
        text = re.sub(
            re.escape(BEGIN) + r".*?" + re.escape(END), lambda _m: block, text, flags=re.S
        )
    else:
        if SECTION not in text:
            text = text.rstrip() + f"\n\n{SECTION}\n"
        text = text.rstrip() + f"\n\n{block}\n"
    BENCH_DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", nargs="+", metavar="'SERVICE / TYPE'")
    parser.add_argument("--all", action="store_true", help="every document of the export")
    parser.add_argument("--clock", choices=("record", "wall"), default="record")
    parser.add_argument("--examples", type=int, default=25, help="disagreeing records to list")
    parser.add_argument("--write", action="store_true", help=f"write into {BENCH_DOC.name}")
    parser.add_argument("--keep", type=Path, help="keep both archives in this folder")
    args = parser.parse_args()
    names = None if args.all else (args.documents or DEFAULT_DOCUMENTS)
    records = load(names)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        a, import_s = import_route(records, work)
        print(f"import: {import_s:.1f} s", file=sys.stderr, flush=True)
        b, live_s, live_outcomes = live_route(records, work, args.clock)
        print(f"live: {live_s:.1f} s", file=sys.stderr, flush=True)
        imp, live = measure(a), measure(b)
        imp_outcomes = import_outcomes(a)
        a.close()
        b.close()
    # both archives name a document "Service / registry type"; map the export's names to them
    import_names = {}
    for name, rs in records.items():
        doc_type = resolve_document_type(rs[0].terms_type) or rs[0].terms_type
        import_names[name] = f"{rs[0].service} / {doc_type}"
    rows = report(records, imp, live, import_names, import_names)
    pair_rows, shown = disagreements(
        records, imp_outcomes, live_outcomes, import_names, args.examples
    )
    junk = [
        f"- {route} {name}: {ex}"
        for route, figs in (("import", imp), ("live", live))
        for name, fig in figs.items()
        for ex in fig.junk_examples
    ]
    which = "all documents" if args.all else f"{len(records)} documents"
    command = (
        "`.venv/bin/python bench/replay_history.py"
        + (" --all" if args.all else (" --documents …" if args.documents else ""))
        + (" --clock wall" if args.clock == "wall" else "")
        + " --write`"
    )
    body = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
            f"({platform.python_version()}, {os.cpu_count()} cores shared), SQLite, {which}, "
            f"clock: {args.clock}, {command}. Import (with provisions) {import_s:.0f} s, "
            f"live replay (with provisions) {live_s:.0f} s, "
            f"total {time.perf_counter() - started:.0f} s.",
            "",
            "Each cell is *import / live*. Junk: kept versions the quality gate refuses on their "
            "own (error page, wall, stub); after the semicolon, kept versions it refuses against "
            "their predecessor (lost most of its text).",
            "",
            *rows,
            "",
            "Records whose outcome differs (the live outcome is the check's last: after its "
            "confirming fetch):",
            "",
            *pair_rows,
            *(["", "Kept junk:", "", *junk] if junk else []),
        ]
    )
    print(body)
    if shown:
        print("\nexamples:\n" + "\n".join(shown))
    if args.write:
        write_doc(body)


if __name__ == "__main__":
    main()
