"""Full-text search over current provisions, on SQLite (FTS5) and PostgreSQL (tsvector): entries
written by analyse, ranking and snippets, filters, pagination, new versions and removed
provisions, and user input that never causes an error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from archive_fixtures import *  # noqa: F403
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, literal_column, select
from sqlalchemy import text as sql_text
from sqlalchemy.sql.elements import ColumnClause
from test_analysis import ARBITRATION, LIABILITY, SALE, TERMINATION, body, populated, record  # noqa: F401
from test_archive import T0

from clausewatch.analysis.service import analyse
from clausewatch.archive.service import Archive
from clausewatch.provisions.service import build
from clausewatch.search import SearchPage, fts5_query, parse_query, search, search_json
from clausewatch.storage.models import SearchEntry

DAY = dt.timedelta(days=1)
# one word of each of the seven provisions (none an English stop word)
EVERYTHING = "notify OR dispute OR account OR liability OR personal"
CAFE = "Disputes about the café menu are decided in Zürich by a naïve arbitrator."


def ids(page: SearchPage) -> list[str]:
    return [hit.id for hit in page.hits]


def platforms(page: SearchPage) -> set[str]:
    return {hit.platform_slug for hit in page.hits}


@pytest.fixture
def analysed(archive: Archive, populated: dict[str, int]) -> dict[str, int]:  # noqa: F811
    analyse(archive)
    return populated


def test_analyse_indexes_current_provisions(archive: Archive, analysed: dict[str, int]) -> None:
    with archive.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SearchEntry)) == 7
    page = search(archive, "arbitration")
    assert page.total == 2
    assert platforms(page) == {"alpha", "beta"}
    hit = page.hits[0]
    assert hit.id.startswith("P-") and hit.document.startswith("D-")
    assert hit.document_type == "Terms of Service" and hit.primary_type == "arbitration"
    assert hit.severity in ("High", "Medium", "Low")
    matched = [text for text, is_match in hit.snippet if is_match]
    assert matched and all(text.lower().startswith("arbitration") for text in matched)
    texts = ARBITRATION.replace("shall", "will") + " You may opt out of arbitration." + ARBITRATION
    for fragment in "".join(text for text, _ in hit.snippet).split("…"):
        assert fragment.strip() in texts


def test_platform_name_and_phrases(archive: Archive, analysed: dict[str, int]) -> None:
    assert platforms(search(archive, "gamma")) == {"gamma"}  # the platform name is indexed
    assert search(archive, '"jury trial"').total == 2
    assert search(archive, '"trial jury"').total == 0
    assert search(archive, "arbitration -opt").total == 1
    assert platforms(search(archive, "arbitration -opt")) == {"alpha"}
    assert search(archive, "personal OR terminate").total == 2
    assert search(archive, "personal terminate").total == 0


def test_title_and_text_rank_above_other_fields(archive: Archive, analysed: dict[str, int]) -> None:
    # "liability" is in two provisions' text; one of them has two mentions
    page = search(archive, "liability")
    assert page.total == 2
    assert platforms(page) == {"beta", "gamma"}


def test_word_forms(archive: Archive, analysed: dict[str, int], backend: str | None) -> None:
    # a trailing * is a prefix on both backends
    assert platforms(search(archive, "termin*")) == {"alpha"}
    assert platforms(search(archive, "advertis*")) == {"gamma"}
    if backend is not None:  # PostgreSQL stems English words
        assert platforms(search(archive, "terminating")) == {"alpha"}
        assert platforms(search(archive, "advertisement partner")) == {"gamma"}
    else:  # FTS5 with unicode61 does not stem: whole words only
        assert search(archive, "terminating").total == 0


def test_diacritics_fold_both_ways(
    archive: Archive,
    populated: dict[str, int],  # noqa: F811
) -> None:
    record(archive, populated["gamma"], body([SALE, CAFE]), T0 + 10 * DAY)
    build(archive)
    analyse(archive)
    for query in ("cafe", "café", "ZURICH", "zürich", "naive"):
        assert platforms(search(archive, query)) == {"gamma"}, query


def test_filters(archive: Archive, analysed: dict[str, int]) -> None:
    assert search(archive, EVERYTHING).total == 7
    assert platforms(search(archive, "arbitration", platform="beta")) == {"beta"}
    assert search(archive, "arbitration", platform="nope").total == 0
    by_type = search(archive, EVERYTHING, clause_type="limitation-of-liability")
    assert by_type.total >= 2 and platforms(by_type) == {"beta", "gamma"}
    assert search(archive, "arbitration", clause_type="no-such-type").total == 0
    for severity in ("High", "Medium", "Low"):
        page = search(archive, EVERYTHING, severity=severity)
        assert all(hit.severity == severity for hit in page.hits)
    high = search(archive, "arbitration", severity="High")
    assert high.total == sum(
        1 for hit in search(archive, "arbitration").hits if hit.severity == "High"
    )


def test_pagination_totals(archive: Archive, analysed: dict[str, int]) -> None:
    query = EVERYTHING
    whole = search(archive, query, limit=100)
    assert whole.total == len(whole.hits) == 7
    pages = [search(archive, query, limit=2, offset=o) for o in range(0, whole.total, 2)]
    assert {p.total for p in pages} == {whole.total}
    assert [i for p in pages for i in ids(p)] == ids(whole)
    beyond = search(archive, query, limit=2, offset=whole.total + 5)
    assert beyond.total == whole.total and beyond.hits == []
    api = search_json(archive, query, limit=2, offset=2)
    assert (api["total"], api["limit"], api["offset"]) == (whole.total, 2, 2)
    assert [item["id"] for item in api["items"]] == ids(whole)[2:4]


def test_new_version_replaces_entries(archive: Archive, analysed: dict[str, int]) -> None:
    assert search(archive, "terminate").total == 1
    # alpha drops the termination clause and adds a sale clause
    record(archive, analysed["alpha"], body([ARBITRATION, SALE]), T0 + 40 * DAY)
    build(archive)
    assert search(archive, "terminate").total == 1  # not yet analysed: entries unchanged
    analyse(archive)
    assert search(archive, "terminate").total == 0  # removed provision: gone
    assert platforms(search(archive, "advertising")) == {"alpha", "gamma"}
    with archive.sessions() as session:
        rows = session.execute(
            select(SearchEntry.document_id, func.count()).group_by(SearchEntry.document_id)
        ).all()
    assert dict(rows)[analysed["alpha"]] == 2


def test_edited_text_is_found_by_its_new_words(archive: Archive, analysed: dict[str, int]) -> None:
    edited = TERMINATION.replace("without notice", "with thirty days' warning")
    record(archive, analysed["alpha"], body([ARBITRATION, edited]), T0 + 40 * DAY)
    build(archive)
    analyse(archive)
    assert search(archive, "warning").total == 1
    assert search(archive, '"without notice"').total == 0


@pytest.mark.parametrize(
    "query",
    ["", "   ", "\t\n", "...", '"', '""', "()", "*", "-", "OR", "OR OR", "^", ":", "NEAR(", "-foo"],
)
def test_queries_without_words_give_an_empty_page(
    archive: Archive, analysed: dict[str, int], query: str
) -> None:
    page = search(archive, query)
    assert page.total == 0 and page.hits == []


HOSTILE = [
    'arbitration"',
    '"arbitration',
    "(arbitration",
    "arbitration)",
    "arb*tration",
    "arbitration*",
    "NEAR(arbitration jury)",
    "arbitration NOT jury",
    "arbitration AND",
    "title:arbitration",
    "^arbitration",
    "multi-agent 3.2 o'clock",
    "<script>alert(1)</script>",
    "arbitration\x00",
    "x" * 5000,
    " OR ".join(["arbitration"] * 300),
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_input_never_errors(archive: Archive, analysed: dict[str, int], query: str) -> None:
    page = search(archive, query)
    assert page.total >= 0


def test_hostile_input_still_finds_the_words(archive: Archive, analysed: dict[str, int]) -> None:
    for query in ('arbitration"', "(arbitration", "^arbitration", "arbitration)"):
        assert search(archive, query).total == 2, query


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=12),
            st.sampled_from(
                [
                    '"',
                    "(",
                    ")",
                    "*",
                    "^",
                    ":",
                    "-",
                    "NEAR",
                    "NEAR(",
                    "OR",
                    "AND",
                    "NOT",
                    "+",
                    "arbitration",
                    "jury",
                    "{",
                    "}",
                    "'",
                    "\\",
                    "\x00",
                    "ü",
                    "文",
                ]
            ),
        ),
        max_size=8,
    ).map(" ".join)
)
def test_property_any_input_is_a_page(
    archive: Archive, analysed: dict[str, int], query: str
) -> None:
    page = search(archive, query, limit=5)
    assert page.total >= len(page.hits)
    for hit in page.hits:
        assert all(isinstance(text, str) for text, _ in hit.snippet)


# --- the query reader (no database) ------------------------------------------------------------


def test_fts5_query_quotes_every_word() -> None:
    assert fts5_query(parse_query("multi-agent 3.2")) == '("multi-agent" AND "3.2")'
    assert fts5_query(parse_query('say "hi there" term*')) == '("say" AND "hi there" AND "term"*)'
    assert fts5_query(parse_query('a OR b -c -"d e"')) == '(("a") OR ("b")) NOT ("c" OR "d e")'
    assert fts5_query(parse_query('he said ""no""')) == '("he" AND "said" AND "no""""")'
    assert fts5_query(parse_query('x"y')) == '("x""y")'
    assert fts5_query(parse_query("NEAR(a b)")) == '("NEAR(a" AND "b)")'
    assert fts5_query(parse_query("-only")) == ""
    assert parse_query("* ^ : ( )").empty


# --- issue #13: a page is ranked over every match, then only its rows are read ----------------


def reference_page(
    archive: Archive, query: str, *, limit: int, offset: int, severity: str | None = None
) -> tuple[int, list[tuple[int, str]]]:
    """What the page must be, from one plain statement over every match (the way search worked
    before issue #13): the total, then (provision id, snippet) best first, ties by id."""
    from sqlalchemy import text

    from clausewatch.search.backends import (
        BM25_WEIGHTS,
        ELLIPSIS,
        HEADLINE_OPTIONS,
        SNIPPET_WORDS,
        START,
        STOP,
        pg_tsquery,
    )

    parsed = parse_query(query)
    with archive.sessions() as session:
        if session.get_bind().dialect.name == "sqlite":
            weights = ", ".join(str(w) for w in BM25_WEIGHTS)
            where = "search_fts MATCH :q" + (" AND e.severity = :s" if severity else "")
            joined = (
                "FROM search_fts JOIN search_entries e ON e.provision_id = search_fts.rowid "
                f"WHERE {where}"
            )
            params = {"q": fts5_query(parsed), "s": severity}
            total = session.scalar(text(f"SELECT count(*) {joined}"), params)
            rows = session.execute(
                text(
                    f"SELECT e.provision_id, snippet(search_fts, 2, :a, :b, :c, :n) {joined} "
                    f"ORDER BY bm25(search_fts, {weights}), e.provision_id "
                    "LIMIT :limit OFFSET :offset"
                ),
                params
                | {"a": START, "b": STOP, "c": ELLIPSIS, "n": SNIPPET_WORDS}
                | {"limit": limit, "offset": offset},
            ).all()
        else:
            tsquery = pg_tsquery(parsed)
            assert tsquery is not None
            vector: ColumnClause[Any] = literal_column("search_entries.search_vector")
            matched = select(SearchEntry.provision_id).where(vector.op("@@")(tsquery))
            if severity:
                matched = matched.where(SearchEntry.severity == severity)
            total = session.scalar(select(func.count()).select_from(matched.subquery()))
            rank = func.ts_rank_cd(vector, tsquery)
            headline = func.ts_headline(
                literal_column("'clausewatch_english'::regconfig"),
                SearchEntry.body,
                tsquery,
                HEADLINE_OPTIONS,
            )
            rows = session.execute(
                matched.add_columns(headline)
                .order_by(rank.desc(), SearchEntry.provision_id)
                .limit(limit)
                .offset(offset)
            ).all()
    return total or 0, [(pid, snippet) for pid, snippet in rows]


def as_reference(page: SearchPage) -> tuple[int, list[tuple[int, str]]]:
    return page.total, [
        (hit.provision_id, "".join(f"\x02{t}\x03" if m else t for t, m in hit.snippet))
        for hit in page.hits
    ]


def test_pages_match_one_statement_over_every_match(
    archive: Archive,
    populated: dict[str, int],  # noqa: F811
) -> None:
    """Ranked first (ids only), read after (snippets of the page's rows only): the same order,
    totals and snippets, page by page, as ranking and reading every match at once. Many
    entries with equal scores (the same text under three platforms) check the tie order."""
    for platform_id in populated.values():
        record(archive, platform_id, body([ARBITRATION, LIABILITY, TERMINATION]), T0 + 9 * DAY)
    build(archive)
    analyse(archive)
    queries = [
        EVERYTHING,
        "arbitration",
        "arbitration OR liability -jury",
        '"jury trial" OR terminate',
        "dispute*",
    ]
    for query in queries:
        everything = search(archive, query, limit=100)
        assert everything.total == len(everything.hits) > 1, query
        for severity in (None, "High"):
            for offset in (0, 1, 2, 3, 5, everything.total - 1, everything.total + 2):
                offset = max(offset, 0)
                page = search(archive, query, limit=2, offset=offset, severity=severity)
                expected = reference_page(archive, query, limit=2, offset=offset, severity=severity)
                assert as_reference(page) == expected, (query, severity, offset)


def test_only_the_page_rows_are_read(archive: Archive, analysed: dict[str, int]) -> None:
    """The ranking carries ids only; snippets and display columns are read for the page's rows,
    not for every match (issue #13: broad queries took seconds under load). SQLite: the total
    without filters is counted on the FTS table alone. PostgreSQL: one statement a page, its
    total a window count over the ranked ids (no second pass over the matching rows)."""
    from sqlalchemy import event

    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "search_fts" in statement or "search_vector" in statement:
            statements.append(" ".join(statement.split()))

    event.listen(archive.engine, "before_cursor_execute", seen)
    try:
        page = search(archive, EVERYTHING, limit=2)
        assert page.total == 7 and len(page.hits) == 2
        sqlite = archive.engine.dialect.name == "sqlite"
        if sqlite:
            count, ranking, rows = statements
            assert count.startswith("SELECT count(*)") and "search_entries" not in count
            assert "bm25(" in ranking and "snippet(" not in ranking
            assert ranking.startswith("SELECT search_fts.rowid FROM search_fts WHERE")
            assert "snippet(" in rows and "bm25(" not in rows and " IN (" in rows
        else:
            (statement,) = statements
            assert "count(*) OVER ()" in statement and "MATERIALIZED" in statement
            ranked = statement[statement.index("ranked AS") : statement.index("SELECT page")]
            assert "ts_rank_cd" in ranked and "ts_headline" not in ranked
            assert "platforms" not in ranked  # joined for the platform filter only
        statements.clear()
        beyond = search(archive, EVERYTHING, limit=2, offset=9)
        assert beyond.total == 7 and beyond.hits == []
        assert len(statements) == (1 if sqlite else 2)  # nothing ranked, or counted apart
    finally:
        event.remove(archive.engine, "before_cursor_execute", seen)


def fts_segments(archive: Archive) -> int:
    with archive.sessions() as session:
        return int(session.scalar(sql_text("SELECT count(DISTINCT segid) FROM search_fts_idx")))


@pytest.mark.parametrize("threshold", [1, 1000])
def test_a_bulk_analyse_merges_the_fts5_index(
    archive: Archive,
    populated: dict[str, int],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    threshold: int,
) -> None:
    if archive.engine.dialect.name != "sqlite":
        pytest.skip("FTS5 segments are SQLite's")
    monkeypatch.setattr("clausewatch.analysis.service.OPTIMISE_AFTER_DOCUMENTS", threshold)
    analyse(archive)
    # one segment per document's rewrite unless merged after the bulk refresh
    assert (fts_segments(archive) == 1) is (threshold <= len(populated))
    assert search(archive, EVERYTHING).total == 7
