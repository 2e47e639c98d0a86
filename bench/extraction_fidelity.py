"""Token F1 of automatic extraction (no selectors) against Open Terms Archive's selector output.

Corpus: ``../shared/data/extraction/<service>/<terms type>/`` (raw sources, ``meta.json`` listing
them in order, ``expected.md``).

Overlays: each document is also extracted with a real consent manager put on every HTML source
(OneTrust's banner and preference centre as rendered on cats.org.uk, before ``</body>``) and with a
login modal (Facebook's login wall text, after ``<body>``), from ``tests/fixtures/extract/``; the
"+ consent" and "+ login" columns score those against the same repaired reference. "overlays"
counts the dialogs, consent banners and login overlays automatic extraction finds in the sources as
fetched. Usage::

    .venv/bin/python bench/extraction_fidelity.py [--write-docs] [--only SUBSTRING] [--diff]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from clausewatch.extract import combine_markdown, extract_markdown
from clausewatch.extract.fidelity import repair_reference, token_fidelity, tokens

try:  # absent from extractors older than overlay removal (to bench them for comparison)
    from clausewatch.extract.content import count_overlays
except ImportError:  # pragma: no cover
    count_overlays = None

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "extraction"
DOCS = ROOT / "docs" / "extraction.md"
FIXTURES = ROOT / "tests" / "fixtures" / "extract"
CONSENT = (FIXTURES / "onetrust_cats_protection.html").read_bytes()
LOGIN = (FIXTURES / "facebook_login_modal.html").read_bytes()
BEGIN, END = "<!-- fidelity-table:begin -->", "<!-- fidelity-table:end -->"


@dataclass
class Result:
    service: str
    terms_type: str
    f1: float
    precision: float
    recall: float
    raw_f1: float
    ms_per_source: float
    sources: int
    kbytes: float
    extracted: str
    expected: str
    consent_f1: float = 0.0
    login_f1: float = 0.0
    overlays: int = 0


def documents(corpus: Path = CORPUS) -> list[Path]:
    return sorted(p.parent for p in corpus.glob("*/*/meta.json"))


def sources(folder: Path) -> list[tuple[Path, str]]:
    meta = json.loads((folder / "meta.json").read_text())
    return [(folder / s["file"], s.get("url", "")) for s in meta["sources"]]


TIMINGS: list[tuple[float, float]] = []  # (KB, ms) of every source extracted


def inject(content: bytes, block: bytes, *, at_start: bool) -> bytes:
    """``block`` just after ``<body …>`` or just before ``</body>`` (at the end if absent)."""
    lower = content.lower()
    if at_start:
        start = lower.find(b"<body")
        end = lower.find(b">", start) + 1 if start >= 0 else 0
        return content[:end] + block + content[end:]
    end = lower.rfind(b"</body>")
    return content[:end] + block + content[end:] if end >= 0 else content + block


def extract_document(
    folder: Path, distinct: bool = False, overlay: str = ""
) -> tuple[str, float, int, float]:
    """Combined Markdown of a document, ms per source, number of sources, KB of input.

    ``distinct``: a URL listed again (an older snapshot of the same page) is skipped.
    ``overlay``: "consent" or "login" puts that real overlay on every HTML source.
    """
    parts, elapsed, size, seen = [], 0.0, 0, set()
    for path, url in sources(folder):
        if distinct and url in seen:
            continue
        seen.add(url)
        content = path.read_bytes()
        size += len(content)
        content_type = "application/pdf" if path.suffix == ".pdf" else "text/html"
        if overlay and content_type == "text/html":
            block = CONSENT if overlay == "consent" else LOGIN
            content = inject(content, block, at_start=overlay == "login")
        start = time.perf_counter()
        parts.append(extract_markdown(content, content_type, url=url))
        took = time.perf_counter() - start
        elapsed += took
        if distinct and not overlay:
            TIMINGS.append((len(content) / 1024, 1000 * took))
    count = len(parts)
    return combine_markdown(parts), 1000 * elapsed / count, count, size / 1024


def evaluate(folder: Path) -> Result:
    """Score against the reference as given (raw) and against the repaired reference.

    Repaired: back-to-back repeats inside one source's reference text are collapsed, and a URL
    listed twice is extracted once (see docs/extraction.md, "The reference").
    """
    expected = (folder / "expected.md").read_text()
    raw, _, _, _ = extract_document(folder)
    extracted, ms, count, kbytes = extract_document(folder, distinct=True)
    reference = repair_reference(expected)
    fid = token_fidelity(extracted, reference)
    consent, _, _, _ = extract_document(folder, distinct=True, overlay="consent")
    login, _, _, _ = extract_document(folder, distinct=True, overlay="login")
    return Result(
        folder.parent.name, folder.name, fid.f1, fid.precision, fid.recall,
        token_fidelity(raw, expected).f1, ms, count, kbytes, extracted, reference,
        token_fidelity(consent, reference).f1, token_fidelity(login, reference).f1,
        overlays_in(folder),
    )  # fmt: skip


def overlays_in(folder: Path) -> int:
    """Dialogs, consent banners and login overlays in the document's HTML sources as fetched."""
    if count_overlays is None:
        return 0
    return sum(
        count_overlays(path.read_bytes()) for path, _ in sources(folder) if path.suffix != ".pdf"
    )


def table(results: list[Result]) -> str:
    rows = [
        "| service | terms type | F1 | precision | recall | raw F1 | + consent | + login "
        "| overlays | ms/source |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rows.append(
            f"| {r.service} | {r.terms_type} | {r.f1:.3f} | {r.precision:.3f} | "
            f"{r.recall:.3f} | {r.raw_f1:.3f} | {r.consent_f1:.3f} | {r.login_f1:.3f} | "
            f"{r.overlays} | {r.ms_per_source:.0f} |"
        )
    f1s = [r.f1 for r in results]
    raw = [r.raw_f1 for r in results]
    html = [r for r in results if r.kbytes / r.sources > 50]
    ms = statistics.median(r.ms_per_source for r in html) if html else 0.0
    kb = statistics.median(r.kbytes / r.sources for r in html) if html else 0.0
    worst = min(results, key=lambda r: r.f1)
    rows += [
        "",
        f"**{len(results)} documents: median F1 {statistics.median(f1s):.3f}, "
        f"mean {statistics.fmean(f1s):.3f}, worst {worst.f1:.3f} "
        f"({worst.service} / {worst.terms_type}); median {ms:.0f} ms per source "
        f"(median source {kb:.0f} KB).**",
        "",
        f"Against the unrepaired references (raw F1): median {statistics.median(raw):.3f}, "
        f"worst {min(raw):.3f}.",
        "",
        _overlay_line("a OneTrust banner and preference centre on every page", results, "consent"),
        _overlay_line("a login modal on every page", results, "login"),
    ]
    big = [ms for kb, ms in TIMINGS if kb >= 350]
    if big:
        rows.append("")
        rows.append(
            f"Sources of 350 KB or more ({len(big)}): median {statistics.median(big):.0f} ms, "
            f"slowest {max(big):.0f} ms."
        )
    return "\n".join(rows)


def _overlay_line(what: str, results: list[Result], kind: str) -> str:
    f1s = [r.consent_f1 if kind == "consent" else r.login_f1 for r in results]
    worst = min(range(len(results)), key=f1s.__getitem__)
    return (
        f"With {what} (+ {kind}): median {statistics.median(f1s):.3f}, worst {f1s[worst]:.3f} "
        f"({results[worst].service} / {results[worst].terms_type})."
    )


def token_diff(result: Result, top: int = 25) -> str:
    got, want = tokens(result.extracted), tokens(result.expected)
    extra = (got - want).most_common(top)
    missing = (want - got).most_common(top)
    return f"  extra:   {extra}\n  missing: {missing}"


def write_docs(text: str) -> None:
    doc = DOCS.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(doc):
        sys.exit(f"{DOCS} has no {BEGIN} … {END} section")
    DOCS.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}\n{END}", doc))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-docs", action="store_true", help="rewrite the docs table")
    parser.add_argument("--only", help="only documents whose path contains this")
    parser.add_argument("--diff", action="store_true", help="print the token bag differences")
    parser.add_argument("--dump", type=Path, help="write each extraction into this folder")
    args = parser.parse_args()
    folders = [f for f in documents() if not args.only or args.only in str(f)]
    results = [evaluate(f) for f in folders]
    text = table(results)
    print(text)
    if args.diff:
        for r in sorted(results, key=lambda r: r.f1)[:8]:
            print(f"\n{r.service} / {r.terms_type}: F1 {r.f1:.3f}\n{token_diff(r)}")
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        for r in results:
            (args.dump / f"{r.service} - {r.terms_type}.md").write_text(r.extracted)
    if args.write_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
