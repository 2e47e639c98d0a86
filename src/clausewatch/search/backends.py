"""Full-text search over current provisions: one interface, two implementations.

- :class:`Fts5Search` (SQLite, the embedded default): an FTS5 external-content table on
  ``search_entries``, tokenizer ``unicode61 remove_diacritics 2``, ranked by ``bm25()`` with the
  title weighted highest, snippets by ``snippet()``.
- :class:`PostgresSearch`: a generated, weighted ``tsvector`` column with a GIN index, queried
  with ``websearch_to_tsquery`` and ranked by ``ts_rank_cd``; ``ts_headline`` runs on the
  displayed rows only.

Both read the user's words with :func:`parse_query` first, so that the two backends agree on
what an empty query is; neither raises on any input. Snippets come back as plain-text parts
``[(text, is_match), ...]``: the page marks matches itself, with escaping, never from HTML built
out of archived text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    Float,
    TextClause,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.elements import ColumnClause

from clausewatch.ids import format_id
from clausewatch.storage.models import Classification, Platform, SearchEntry

MAX_QUERY_CHARS = 500  # longer input is cut (both backends)
MAX_TERMS = 32  # words and phrases kept from one query
SNIPPET_WORDS = 32
ELLIPSIS = "…"
# Snippet markers: control characters that normalised archived text does not contain.
START, STOP = "\x02", "\x03"

Part = tuple[str, bool]

# What a search hit shows, besides its provision id and snippet (both backends)
_HIT_COLUMNS = (
    SearchEntry.title,
    SearchEntry.platform,
    SearchEntry.document_id,
    SearchEntry.document_type,
    SearchEntry.severity,
    SearchEntry.primary_type,
    Platform.slug,
)


@dataclass(frozen=True)
class SearchRow:
    """What is indexed of one current provision."""

    provision_id: int
    document_id: int
    platform_id: int
    revision_id: int
    title: str
    heading: str
    body: str
    platform: str
    document_type: str
    primary_type: str | None
    severity: str | None


@dataclass
class SearchHit:
    provision_id: int
    title: str
    platform: str
    platform_slug: str
    document_id: int
    document_type: str
    severity: str | None
    primary_type: str | None
    # the snippet as plain-text parts; matched words have is_match True
    snippet: list[Part] = field(default_factory=list)

    @property
    def id(self) -> str:
        return format_id("P", self.provision_id)

    @property
    def document(self) -> str:
        return format_id("D", self.document_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "platform": self.platform,
            "platform_slug": self.platform_slug,
            "document": self.document,
            "document_type": self.document_type,
            "severity": self.severity,
            "primary_type": self.primary_type,
            "snippet": "".join(text for text, _ in self.snippet),
            "snippet_parts": [{"text": text, "match": match} for text, match in self.snippet],
        }


@dataclass
class SearchPage:
    total: int
    hits: list[SearchHit] = field(default_factory=list)


class SearchBackend(Protocol):
    def index_document(self, session: Session, document_id: int, rows: Sequence[SearchRow]) -> None:
        """Replace a document's entries with ``rows`` (its current provisions)."""
        ...

    def remove_document(self, session: Session, document_id: int) -> None: ...

    def search(
        self,
        session: Session,
        query: str,
        *,
        limit: int,
        offset: int,
        platform: str | None = None,
        clause_type: str | None = None,
        severity: str | None = None,
    ) -> SearchPage: ...


# --- the user's words --------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    text: str  # the words, without quotes or operators
    phrase: bool = False  # given in double quotes
    prefix: bool = False  # a trailing * on a bare word
    negated: bool = False  # -word or -"a phrase"


@dataclass(frozen=True)
class ParsedQuery:
    """Terms in AND-groups joined by OR, plus negated terms that exclude."""

    groups: tuple[tuple[Term, ...], ...]
    negated: tuple[Term, ...]

    @property
    def empty(self) -> bool:
        return not self.groups


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def has_word(text: str) -> bool:
    """Whether unicode61 finds a token in ``text``: a letter, a number or a private-use char."""
    return any(
        unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) == "Co" for ch in text
    )


def clean(query: str) -> str:
    """The query as both backends see it: NUL and other control characters become spaces."""
    query = query[:MAX_QUERY_CHARS]
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in query)


def parse_query(query: str) -> ParsedQuery:
    """Read a web-search style query: words, "quoted phrases", a trailing * for a prefix,
    -word / -"phrase" to exclude, OR between alternatives. Anything else is a word."""
    groups: list[list[Term]] = [[]]
    negated: list[Term] = []
    count = 0
    for match in _TOKEN.finditer(clean(query)):
        if count >= MAX_TERMS:
            break
        minus, quoted, bare = match.group(1), match.group(2), match.group(3)
        if quoted is not None:
            term = Term(quoted, phrase=True, negated=bool(minus))
        elif bare == "OR":
            if groups[-1]:
                groups.append([])
            continue
        else:
            negate = bare.startswith("-") and len(bare) > 1
            word = bare[1:] if negate else bare
            prefix = word.endswith("*") and has_word(word.rstrip("*"))
            term = Term(word.rstrip("*") if prefix else word, prefix=prefix, negated=negate)
        if not has_word(term.text):
            continue
        count += 1
        (negated if term.negated else groups[-1]).append(term)
    return ParsedQuery(tuple(tuple(g) for g in groups if g), tuple(negated))


def _fts5_string(term: Term) -> str:
    quoted = '"' + term.text.replace('"', '""') + '"'
    return quoted + "*" if term.prefix else quoted


def fts5_query(parsed: ParsedQuery) -> str:
    """An FTS5 MATCH expression that cannot be a syntax error: every word or phrase is an FTS5
    string (embedded quotes doubled), joined only by AND, OR, NOT and parentheses."""
    if parsed.empty:
        return ""
    positive = " OR ".join(
        "(" + " AND ".join(_fts5_string(t) for t in group) + ")" for group in parsed.groups
    )
    if not parsed.negated:
        return positive
    return f"({positive}) NOT ({' OR '.join(_fts5_string(t) for t in parsed.negated)})"


def marked_parts(text: str) -> list[Part]:
    """Split text with START/STOP markers into plain-text parts."""
    parts: list[Part] = []
    for i, chunk in enumerate(re.split(f"{START}|{STOP}", text)):
        if chunk:
            parts.append((chunk, i % 2 == 1))
    return parts


# --- the two implementations -------------------------------------------------------------------


class _Entries:
    """Writing entries is the same on both backends: the index follows the table (triggers on
    SQLite, a generated column on PostgreSQL)."""

    def index_document(self, session: Session, document_id: int, rows: Sequence[SearchRow]) -> None:
        self.remove_document(session, document_id)
        session.flush()
        if rows:
            session.execute(insert(SearchEntry), [asdict(row) for row in rows])

    def remove_document(self, session: Session, document_id: int) -> None:
        session.execute(delete(SearchEntry).where(SearchEntry.document_id == document_id))

    @staticmethod
    def _filtered(
        query: Select[Any],
        platform: str | None,
        clause_type: str | None,
        severity: str | None,
    ) -> Select[Any]:
        if platform:
            query = query.where(Platform.slug == platform)
        if severity:
            query = query.where(SearchEntry.severity == severity)
        if clause_type:  # any clause type of the provision, as the counts elsewhere do
            query = query.where(
                select(Classification.id)
                .where(
                    Classification.revision_id == SearchEntry.revision_id,
                    Classification.type_id == clause_type,
                )
                .exists()
            )
        return query

    @staticmethod
    def _hit(row: Any, snippet: str | None) -> SearchHit:
        parts = marked_parts(snippet) if snippet else []
        return SearchHit(
            provision_id=row.provision_id,
            title=row.title,
            platform=row.platform,
            platform_slug=row.slug,
            document_id=row.document_id,
            document_type=row.document_type,
            severity=row.severity,
            primary_type=row.primary_type,
            snippet=parts,
        )


# bm25 weights, in the FTS5 table's column order:
# title, heading, body, platform, document_type, primary_type, severity
BM25_WEIGHTS = (10.0, 4.0, 1.0, 2.0, 2.0, 2.0, 1.0)


# The FTS5 statements, written out: SQLite only, fixed in shape (a few filter fragments), and
# executed on the session's connection without building an expression per search (issue #13:
# that was about 2 ms of a search's 7-8 ms CPU at 100k provisions).
_FTS_JOIN = (
    "FROM search_fts JOIN search_entries AS e ON e.provision_id = search_fts.rowid "
    "JOIN platforms AS p ON p.id = e.platform_id WHERE search_fts MATCH :q"
)
_FTS_FILTERS = (
    ("platform", " AND p.slug = :platform"),
    ("severity", " AND e.severity = :severity"),
    # any clause type of the provision, as the counts elsewhere do
    (
        "clause_type",
        " AND EXISTS (SELECT 1 FROM classifications AS c "
        "WHERE c.revision_id = e.revision_id AND c.type_id = :clause_type)",
    ),
)
_BM25 = "bm25(search_fts, " + ", ".join(repr(w) for w in BM25_WEIGHTS) + ")"
_FTS_ROWS = text(
    "SELECT e.provision_id, e.title, e.platform, e.document_id, e.document_type, e.severity, "
    "e.primary_type, p.slug, snippet(search_fts, 2, :start, :stop, :ellipsis, :words) AS snippet "
    f"{_FTS_JOIN} AND search_fts.rowid IN :ids"
).bindparams(bindparam("ids", expanding=True))


@lru_cache(maxsize=16)
def _fts_statements(filters: tuple[str, ...]) -> tuple[TextClause, TextClause]:
    """(count, ranking) for the filters in use: over the FTS table alone when there are none
    (every FTS row has exactly one entry, kept in step by the triggers, and every entry one
    platform), else over the join with the filters' conditions."""
    if filters:
        where = _FTS_JOIN + "".join(sql for name, sql in _FTS_FILTERS if name in filters)
    else:
        where = "FROM search_fts WHERE search_fts MATCH :q"
    return (
        text(f"SELECT count(*) {where}"),
        text(
            f"SELECT search_fts.rowid {where} ORDER BY {_BM25}, search_fts.rowid "
            "LIMIT :limit OFFSET :offset"
        ),
    )


class Fts5Search(_Entries):
    """SQLite FTS5 (see migration 0004 for the table and its triggers).

    Three statements, each as narrow as it can be (issue #13: a broad two-word query over 64k
    entries took seconds under load, every match carried through the sort with its columns):

    1. the total: ``count(*)`` over the MATCH (alone when no filter needs the entry's columns);
    2. the page's rowids: ``bm25()`` over every match (exact ranking: best first, ties by id),
       carrying nothing but the rowid through the sort;
    3. the page's rows: columns and ``snippet()`` for those rowids only (``rowid IN (...)`` with
       the same MATCH, which ``snippet()`` needs), put back in rank order here.
    """

    def search(
        self,
        session: Session,
        query: str,
        *,
        limit: int,
        offset: int,
        platform: str | None = None,
        clause_type: str | None = None,
        severity: str | None = None,
    ) -> SearchPage:
        expression = fts5_query(parse_query(query))
        if not expression:
            return SearchPage(0)
        chosen = {"platform": platform, "clause_type": clause_type, "severity": severity}
        params: dict[str, Any] = {"q": expression} | {k: v for k, v in chosen.items() if v}
        count, ranking = _fts_statements(tuple(sorted(k for k, v in chosen.items() if v)))
        connection = session.connection()
        total = connection.execute(count, params).scalar() or 0
        if total <= offset:
            return SearchPage(total)
        ids = list(
            connection.execute(ranking, params | {"limit": limit, "offset": offset}).scalars()
        )
        if not ids:
            return SearchPage(total)
        rows = connection.execute(
            _FTS_ROWS,
            {"q": expression, "ids": ids, "start": START, "stop": STOP, "ellipsis": ELLIPSIS}
            | {"words": SNIPPET_WORDS},
        ).all()
        by_id = {row.provision_id: row for row in rows}
        return SearchPage(total, [self._hit(by_id[i], by_id[i].snippet) for i in ids if i in by_id])


PG_CONFIG: ColumnClause[Any] = literal_column(
    "'clausewatch_english'::regconfig"
)  # see migration 0004


def _pg_term(term: Term) -> ColumnElement[Any]:
    if term.prefix and term.text.isalnum():  # letters and digits only: no tsquery syntax
        return func.to_tsquery(PG_CONFIG, term.text + ":*")
    return func.phraseto_tsquery(PG_CONFIG, term.text)  # plain text: never a syntax error


def pg_tsquery(parsed: ParsedQuery) -> ColumnElement[Any] | None:
    """The parsed query as a tsquery built from plain-text pieces (``phraseto_tsquery`` per word
    or phrase, ``to_tsquery('word:*')`` for a prefix of letters and digits) joined with the
    tsquery operators, so that it means what it means on SQLite and can never raise."""
    if parsed.empty:
        return None
    positive: ColumnElement[Any] | None = None
    for group in parsed.groups:
        expression = _pg_term(group[0])
        for term in group[1:]:
            expression = func.tsquery_and(expression, _pg_term(term))
        positive = expression if positive is None else func.tsquery_or(positive, expression)
    assert positive is not None
    for term in parsed.negated:
        positive = func.tsquery_and(positive, func.tsquery_not(_pg_term(term)))
    return positive


HEADLINE_OPTIONS = (
    f'StartSel="{START}", StopSel="{STOP}", MaxWords={SNIPPET_WORDS}, MinWords=12, '
    f'MaxFragments=2, FragmentDelimiter=" {ELLIPSIS} "'
)


class PostgresSearch(_Entries):
    """PostgreSQL full-text search on the generated ``search_entries.search_vector``.

    One statement (issue #13): a materialised CTE ranks every match (``ts_rank_cd`` needs each
    match's vector: exact, best first) carrying only (id, rank); the page is cut from it with
    the total as ``count(*) OVER ()`` over those narrow rows, which costs next to nothing where
    a separate ``count(*)`` visited every matching heap row again; ``ts_headline`` and the
    display columns are read for the page's rows only. The platform join is there only when
    the platform filter needs it. A page past the last one still needs a count of its own."""

    def search(
        self,
        session: Session,
        query: str,
        *,
        limit: int,
        offset: int,
        platform: str | None = None,
        clause_type: str | None = None,
        severity: str | None = None,
    ) -> SearchPage:
        tsquery = pg_tsquery(parse_query(query))
        if tsquery is None:
            return SearchPage(0)
        vector: ColumnClause[Any] = literal_column("search_entries.search_vector")
        matched = (
            select(SearchEntry.provision_id)
            .select_from(SearchEntry)
            .where(vector.op("@@")(tsquery))
        )
        if platform:
            matched = matched.join(Platform, Platform.id == SearchEntry.platform_id)
        matched = self._filtered(matched, platform, clause_type, severity)
        # MATERIALIZED: else the planner inlines the CTE and carries every match's wide row
        # (vector included) through the window aggregate, to a temporary file
        ranked = (
            matched.add_columns(func.ts_rank_cd(vector, tsquery, type_=Float).label("rank"))
            .cte("ranked")
            .prefix_with("MATERIALIZED")
        )
        page = (
            select(ranked.c.provision_id, ranked.c.rank, func.count().over().label("total"))
            .order_by(ranked.c.rank.desc(), ranked.c.provision_id)
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        # ts_headline is slow: only on the rows of this page
        headline = func.ts_headline(PG_CONFIG, SearchEntry.body, tsquery, HEADLINE_OPTIONS)
        rows = session.execute(
            select(page.c.provision_id, page.c.total, *_HIT_COLUMNS, headline.label("snippet"))
            .join(SearchEntry, SearchEntry.provision_id == page.c.provision_id)
            .join(Platform, Platform.id == SearchEntry.platform_id)
            .order_by(page.c.rank.desc(), page.c.provision_id)
        ).all()
        if rows:
            total = int(rows[0].total)
        elif offset:  # past the last page (or nothing matches): count on its own
            total = session.scalar(select(func.count()).select_from(matched.subquery())) or 0
        else:
            total = 0
        return SearchPage(total, [self._hit(row, row.snippet) for row in rows])


def search_backend(bind: Engine | Connection | Session) -> SearchBackend:
    """The implementation for a database: FTS5 on SQLite, tsvector on PostgreSQL."""
    name = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    if name == "sqlite":
        return Fts5Search()
    if name == "postgresql":
        return PostgresSearch()
    raise ValueError(f"no full-text search for the {name} dialect")
