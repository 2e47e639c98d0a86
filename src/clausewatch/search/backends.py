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
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Integer,
    delete,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
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


_FTS = sql_table("search_fts", sql_column("rowid", Integer))
# bm25 weights, in the FTS5 table's column order:
# title, heading, body, platform, document_type, primary_type, severity
BM25_WEIGHTS = (10.0, 4.0, 1.0, 2.0, 2.0, 2.0, 1.0)


class Fts5Search(_Entries):
    """SQLite FTS5 (see migration 0004 for the table and its triggers)."""

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
        fts: ColumnClause[Any] = literal_column("search_fts")
        base = (
            select(SearchEntry.provision_id)
            .select_from(_FTS)
            .join(SearchEntry, SearchEntry.provision_id == _FTS.c.rowid)
            .join(Platform, Platform.id == SearchEntry.platform_id)
            .where(fts.op("MATCH")(expression))
        )
        base = self._filtered(base, platform, clause_type, severity)
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        if total <= offset:
            return SearchPage(total)
        rank = func.bm25(fts, *BM25_WEIGHTS, type_=Float)
        snippet = func.snippet(fts, 2, START, STOP, ELLIPSIS, SNIPPET_WORDS)
        rows = session.execute(
            base.add_columns(*_HIT_COLUMNS, snippet.label("snippet"))
            .order_by(rank, SearchEntry.provision_id)
            .limit(limit)
            .offset(offset)
        ).all()
        return SearchPage(total, [self._hit(row, row.snippet) for row in rows])


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
    """PostgreSQL full-text search on the generated ``search_entries.search_vector``."""

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
        base = (
            select(SearchEntry.provision_id)
            .join(Platform, Platform.id == SearchEntry.platform_id)
            .where(vector.op("@@")(tsquery))
        )
        base = self._filtered(base, platform, clause_type, severity)
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        if total <= offset:
            return SearchPage(total)
        # rank only (id, rank) of every match, then read the page's rows: carrying the wide
        # columns (body above all) through the sort of every match took about as long again
        page = (
            base.add_columns(func.ts_rank_cd(vector, tsquery, type_=Float).label("rank"))
            .order_by(literal_column("rank").desc(), SearchEntry.provision_id)
            .limit(limit)
            .offset(offset)
            .subquery()
        )
        # ts_headline is slow: only on the rows of this page
        headline = func.ts_headline(PG_CONFIG, SearchEntry.body, tsquery, HEADLINE_OPTIONS)
        rows = session.execute(
            select(page.c.provision_id, *_HIT_COLUMNS, headline.label("snippet"))
            .join(SearchEntry, SearchEntry.provision_id == page.c.provision_id)
            .join(Platform, Platform.id == SearchEntry.platform_id)
            .order_by(page.c.rank.desc(), page.c.provision_id)
        ).all()
        return SearchPage(total, [self._hit(row, row.snippet) for row in rows])


def search_backend(bind: Engine | Connection | Session) -> SearchBackend:
    """The implementation for a database: FTS5 on SQLite, tsvector on PostgreSQL."""
    name = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    if name == "sqlite":
        return Fts5Search()
    if name == "postgresql":
        return PostgresSearch()
    raise ValueError(f"no full-text search for the {name} dialect")
