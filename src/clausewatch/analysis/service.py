"""Analysis of the archive: classify every provision revision, refresh the per-provision
analysis rows that all counts read, find near-duplicate wording across platforms and assess
the severity and direction of change records.

``analyse(archive)`` is incremental and idempotent. Work is keyed by the *analyser*: a
fingerprint of the taxonomy file and the model artifact, so a taxonomy or model update makes
exactly the stale rows due again. Each batch commits in one transaction together with the
marker that says it is done, so a crash never leaves a half-analysed revision or document.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from clausewatch.archive.service import Archive
from clausewatch.classify.conventions import arbitration_opt_out, lower_for_opt_out
from clausewatch.classify.model import ARTIFACT_DIR, INFERENCE_RULES, ClauseClassifier, Prediction
from clausewatch.classify.taxonomy import BOILERPLATE, SEVERITIES, TAXONOMY_PATH, Taxonomy
from clausewatch.config import Settings
from clausewatch.jobs.pool import report_progress, run_shares
from clausewatch.provisions.segment import segment
from clausewatch.search import OPTIMISE_AFTER_DOCUMENTS, index_current_provisions, optimise_index
from clausewatch.storage.db import transaction, utcnow
from clausewatch.storage.models import (
    ChangeItem,
    ChangeRecord,
    Classification,
    Document,
    DocumentAnalysis,
    Provision,
    ProvisionAnalysis,
    ProvisionRevision,
    RevisionAnalysis,
    Version,
    VersionLayout,
)

BATCH = 400  # revisions per classification transaction
# A process is worth starting (spawn, imports, loading the model: 2-3 s) from this many
# revisions to classify
MIN_SHARE_REVISIONS = 5000
SIMILAR_KEEP = 5  # most similar provisions kept per provision
NEAR_DUPLICATE = 0.8  # cosine similarity (TF-IDF word 1-2-grams) at which wording is shared
HEADING_SEPARATOR = " › "

Progress = Callable[[int], None]


@dataclass
class AnalysisReport:
    analyser: str = ""
    revisions: int = 0
    classifications: int = 0
    documents: int = 0
    provisions: int = 0
    change_records: int = 0
    similarity_refreshed: bool = False


@lru_cache(maxsize=1)
def analyser_fingerprint() -> str:
    """SHA-256 (first 16 hex) of the taxonomy file, the model artifact files and the inference
    rules' version."""
    digest = hashlib.sha256(f"rules {INFERENCE_RULES}".encode())
    for path in [TAXONOMY_PATH, *sorted(ARTIFACT_DIR.glob("clause_model.*"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def _classifier() -> ClauseClassifier:
    return ClauseClassifier()


def heading_text(path: Sequence[str]) -> str | None:
    return HEADING_SEPARATOR.join(path) or None


def classifier_context(doc_type: str | None, heading_path: Sequence[str]) -> str | None:
    """What the classifier reads beside a provision: its document's type, then its heading path
    (the gold set is labelled and trained with both; docs/classification.md)."""
    return heading_text([doc_type, *heading_path] if doc_type else list(heading_path))


def ranked(predictions: Sequence[Prediction]) -> list[Prediction]:
    """Substantive types first (most confident first), boilerplate last: a provision that reads
    partly like a heading is still an arbitration clause when it is one."""
    return sorted(predictions, key=lambda p: (p.type_id == BOILERPLATE, -p.confidence))


def classify_texts(
    texts: Sequence[str],
    headings: Sequence[str | None],
    contexts: Sequence[str | None] | None = None,
) -> list[list[Prediction]]:
    """The one entry point from analysis to the classifier (ranked predictions per text;
    ``contexts``: each provision's segment context, ``segment.Segment.context``)."""
    if not texts:
        return []
    results = _classifier().classify_many(
        list(texts), list(headings), list(contexts) if contexts is not None else None
    )
    return [ranked(preds) for preds in results]


def analyse(
    archive: Archive,
    *,
    full: bool = False,
    progress: Progress | None = None,
    total: Callable[[int], None] | None = None,
    workers: int = 1,
) -> AnalysisReport:
    """Bring every analysis up to date with the current taxonomy and model. With ``workers``
    > 1, a large classification is shared out among that many processes (jobs/pool.py)."""
    report = AnalysisReport(analyser=analyser_fingerprint())
    with archive.sessions() as session:
        revisions = _stale_revisions(session, report.analyser, full)
        documents = _stale_documents(session, report.analyser, full, revisions)
        records = _stale_change_records(session, report.analyser, full)
    if total:
        total(len(revisions) + len(documents) + len(records))
    processes = min(workers, len(revisions) // MIN_SHARE_REVISIONS)
    if processes > 1:  # contiguous shares keep each process's version texts together
        size = -(-len(revisions) // processes)
        shares = [revisions[i : i + size] for i in range(0, len(revisions), size)]
        work = [(archive.settings, share, report.analyser) for share in shares]
        for done, classifications in run_shares(_classify_share, work, progress=progress):
            report.revisions += done
            report.classifications += classifications
    else:
        _classify_all(archive, revisions, report, progress)
    for document_id in documents:
        with transaction(archive.sessions) as session:
            report.provisions += refresh_document(
                session, document_id, report.analyser, archive=archive
            )
        report.documents += 1
        if progress:
            progress(1)
    if len(documents) >= OPTIMISE_AFTER_DOCUMENTS:
        optimise_index(archive)
    if documents or full:
        refresh_similarity(archive)
        report.similarity_refreshed = True
    for record_id in records:
        with transaction(archive.sessions) as session:
            assess_change_record(archive, session, record_id, report.analyser)
        report.change_records += 1
        if progress:
            progress(1)
    return report


# --- revisions ---------------------------------------------------------------------------------


def _stale_revisions(session: Session, analyser: str, full: bool) -> list[int]:
    query = select(ProvisionRevision.id).order_by(
        ProvisionRevision.version_id, ProvisionRevision.id
    )
    if not full:
        done = select(RevisionAnalysis.revision_id).where(RevisionAnalysis.analyser == analyser)
        query = query.where(ProvisionRevision.id.not_in(done))
    return list(session.scalars(query))


class _TextCache:
    """Version texts read once per run (revisions are processed in version order)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._texts: dict[int, str] = {}
        self._doc_types: dict[int, str | None] = {}
        self._segments: dict[int, tuple[dict[tuple[int, int], str], str | None]] = {}

    def contexts(self, session: Session, version_id: int) -> dict[tuple[int, int], str]:
        """The segment contexts of a version's provisions by span (a list item's lead-in, a
        table row's header row): the segmenter's, which the layout does not store."""
        return self._segmented(session, version_id)[0]

    def opt_out(self, session: Session, version_id: int) -> str | None:
        """The sentence of the version that lets users opt out of its arbitration agreement."""
        return self._segmented(session, version_id)[1]

    def _segmented(
        self, session: Session, version_id: int
    ) -> tuple[dict[tuple[int, int], str], str | None]:
        if version_id not in self._segments:
            if len(self._segments) > 64:
                self._segments.clear()
            segments = segment(self.version(session, version_id))
            self._segments[version_id] = (
                {(s.start, s.end): s.context for s in segments if s.context},
                arbitration_opt_out((" > ".join(s.heading_path), s.text) for s in segments),
            )
        return self._segments[version_id]

    def doc_type(self, session: Session, version_id: int) -> str | None:
        if version_id not in self._doc_types:
            version = session.get(Version, version_id)
            document = session.get(Document, version.document_id) if version else None
            self._doc_types[version_id] = document.doc_type if document else None
        return self._doc_types[version_id]

    def version(self, session: Session, version_id: int) -> str:
        if version_id not in self._texts:
            if len(self._texts) > 64:
                self._texts.clear()
            version = session.get(Version, version_id)
            assert version is not None
            self._texts[version_id] = self.archive.version_text(version)
        return self._texts[version_id]


def _classify_all(
    archive: Archive,
    revisions: list[int],
    report: AnalysisReport,
    progress: Progress | None,
) -> None:
    cache = _TextCache(archive)  # a version's revisions can span two batches
    for start in range(0, len(revisions), BATCH):
        batch = revisions[start : start + BATCH]
        _classify_revisions(archive, batch, report, cache)
        if progress:
            progress(len(batch))


def _classify_share(settings: Settings, revisions: list[int], analyser: str) -> tuple[int, int]:
    """A worker process's share of the stale revisions: (revisions, clause types) stored."""
    archive = Archive.open(settings, migrate=False)
    try:
        report = AnalysisReport(analyser=analyser)
        _classify_all(archive, revisions, report, report_progress)
        return report.revisions, report.classifications
    finally:
        archive.close()


def _classify_revisions(
    archive: Archive, revision_ids: list[int], report: AnalysisReport, cache: _TextCache
) -> None:
    # Classified before the write transaction: SQLite's write lock is held only to store
    with archive.sessions() as session:
        revisions = list(
            session.scalars(select(ProvisionRevision).where(ProvisionRevision.id.in_(revision_ids)))
        )
        texts = [cache.version(session, r.version_id)[r.start : r.end] for r in revisions]
        headings = [
            classifier_context(cache.doc_type(session, r.version_id), r.heading_path)
            for r in revisions
        ]
        contexts = [cache.contexts(session, r.version_id).get((r.start, r.end)) for r in revisions]
        opt_outs = [cache.opt_out(session, r.version_id) for r in revisions]
    results = [
        lower_for_opt_out(preds, opt_out)
        for preds, opt_out in zip(classify_texts(texts, headings, contexts), opt_outs, strict=True)
    ]
    with transaction(archive.sessions) as session:
        session.execute(delete(Classification).where(Classification.revision_id.in_(revision_ids)))
        session.execute(
            delete(RevisionAnalysis).where(RevisionAnalysis.revision_id.in_(revision_ids))
        )
        taxonomy = _classifier().taxonomy
        for revision, preds in zip(revisions, results, strict=True):
            session.add_all(_classification_rows(revision, preds, taxonomy))
            session.add(RevisionAnalysis(revision_id=revision.id, analyser=report.analyser))
            report.classifications += len(preds)
        report.revisions += len(revisions)


def _classification_rows(
    revision: ProvisionRevision, preds: Sequence[Prediction], taxonomy: Taxonomy
) -> Iterable[Classification]:
    for rank, p in enumerate(preds):
        yield Classification(
            revision_id=revision.id,
            provision_id=revision.provision_id,
            type_id=p.type_id,
            category=taxonomy.by_id[p.type_id].group,
            rank=rank,
            confidence=p.confidence,
            score=p.score,
            severity=p.severity,
            severity_reasons=list(p.severity_reasons),
            evidence_basis=p.evidence_basis,
            start=p.start,
            end=p.end,
            supporting_text=p.supporting_text,
        )


# --- documents: the per-provision rows every count reads ---------------------------------------


def _stale_documents(
    session: Session, analyser: str, full: bool, revisions: Sequence[int]
) -> list[int]:
    query = select(Document.id).outerjoin(DocumentAnalysis).order_by(Document.id)
    if not full:
        query = query.where(
            or_(
                DocumentAnalysis.document_id.is_(None),
                DocumentAnalysis.analyser != analyser,
                DocumentAnalysis.version_id.is_distinct_from(Document.current_version_id),
            )
        )
    stale = set(session.scalars(query))
    if revisions:  # re-classified revisions change what their documents' rows say
        stale |= set(
            session.scalars(
                select(Provision.document_id)
                .join(ProvisionRevision, ProvisionRevision.provision_id == Provision.id)
                .where(ProvisionRevision.id.in_(revisions))
                .distinct()
            )
        )
    return sorted(stale)


def severity_order(severity: str | None) -> int:
    """``provision_analyses.severity_order``: the lists' sort key, most severe first (0 High,
    1 Medium, 2 Low, 3 none)."""
    return len(SEVERITIES) - 1 - SEVERITIES.index(severity) if severity else len(SEVERITIES)


def refresh_document(session: Session, document_id: int, analyser: str, *, archive: Archive) -> int:
    """Rewrite the analysis rows of a document's provisions for its current version, and its
    search entries (read from its current text) in the same transaction."""
    document = session.get(Document, document_id)
    assert document is not None
    current: set[int] = set()
    if document.current_version_id is not None:
        layout = session.get(VersionLayout, document.current_version_id)
        current = {row[0] for row in layout.segments} if layout else set()
    revisions = _revision_of_record(session, document)
    primaries = _primary_classifications(session, [r.id for r in revisions.values()])
    session.execute(delete(ProvisionAnalysis).where(ProvisionAnalysis.document_id == document_id))
    for provision_id, revision in revisions.items():
        primary = primaries.get(revision.id)
        session.add(
            ProvisionAnalysis(
                provision_id=provision_id,
                revision_id=revision.id,
                document_id=document_id,
                platform_id=document.platform_id,
                current=provision_id in current,
                primary_type=primary.type_id if primary else None,
                severity=primary.severity if primary else None,
                severity_order=severity_order(primary.severity if primary else None),
                confidence=primary.confidence if primary else None,
                analyser=analyser,
            )
        )
    session.merge(  # analysed_at set explicitly: merge does not re-apply column defaults
        DocumentAnalysis(
            document_id=document_id,
            version_id=document.current_version_id,
            analyser=analyser,
            analysed_at=utcnow(),
        )
    )
    index_current_provisions(archive, session, document_id)
    return len(revisions)


def _revision_of_record(session: Session, document: Document) -> dict[int, ProvisionRevision]:
    """Per provision, its revision as of the current version (else its latest revision)."""
    rows = session.scalars(
        select(ProvisionRevision)
        .join(Provision, Provision.id == ProvisionRevision.provision_id)
        .where(Provision.document_id == document.id)
        .order_by(ProvisionRevision.version_id)
    )
    limit = document.current_version_id
    out: dict[int, ProvisionRevision] = {}
    for revision in rows:
        earlier = limit is None or revision.version_id <= limit
        if earlier or revision.provision_id not in out:
            out[revision.provision_id] = revision
    return out


def _primary_classifications(
    session: Session, revision_ids: Sequence[int]
) -> dict[int, Classification]:
    out: dict[int, Classification] = {}
    for start in range(0, len(revision_ids), 900):
        chunk = revision_ids[start : start + 900]
        out.update(
            (c.revision_id, c)
            for c in session.scalars(
                select(Classification).where(
                    Classification.revision_id.in_(chunk), Classification.rank == 0
                )
            )
        )
    return out


# --- near-duplicate wording across platforms ---------------------------------------------------


def current_texts(
    archive: Archive, session: Session, provision_ids: set[int] | None = None
) -> dict[int, str]:
    """Text of every provision (or of the given ones) in its document's current version."""
    query = select(Document).where(Document.current_version_id.is_not(None))
    if provision_ids is not None:
        if not provision_ids:
            return {}
        query = query.where(
            Document.id.in_(
                select(ProvisionAnalysis.document_id).where(
                    ProvisionAnalysis.provision_id.in_(provision_ids)
                )
            )
        )
    texts: dict[int, str] = {}
    for document in session.scalars(query):
        layout = session.get(VersionLayout, document.current_version_id)
        version = session.get(Version, document.current_version_id)
        if layout is None or version is None:
            continue
        text = archive.version_text(version)
        texts.update(
            (row[0], text[row[1] : row[2]])
            for row in layout.segments
            if provision_ids is None or row[0] in provision_ids
        )
    return texts


def current_types(session: Session) -> list[Any]:
    """(provision_id, platform_id, type_id, severity, confidence) of every clause type found in
    a current provision: the single query behind rarity, comparisons and similarity."""
    return list(
        session.execute(
            select(
                ProvisionAnalysis.provision_id,
                ProvisionAnalysis.platform_id,
                Classification.type_id,
                Classification.severity,
                Classification.confidence,
            )
            .join(Classification, Classification.revision_id == ProvisionAnalysis.revision_id)
            .where(ProvisionAnalysis.current.is_(True))
            .order_by(ProvisionAnalysis.provision_id, Classification.rank)
        ).all()
    )


def refresh_similarity(archive: Archive) -> None:
    """For each current provision and each of its substantive clause types: the most similar
    current provisions of that type on *other* platforms, and whether any shares its wording."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    with archive.sessions() as session:
        rows = [r for r in current_types(session) if r.type_id != BOILERPLATE]
        texts = current_texts(archive, session)
    rows = [r for r in rows if r.provision_id in texts]
    results: dict[int, dict[str, list[list[Any]]]] = defaultdict(dict)
    if rows:
        order = sorted({r.provision_id for r in rows})
        position = {pid: i for i, pid in enumerate(order)}
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
        matrix = vectorizer.fit_transform([texts[pid] for pid in order])
        platform_of = {r.provision_id: r.platform_id for r in rows}
        by_type: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            by_type[r.type_id].append(r.provision_id)
        for type_id, members in by_type.items():
            for pid, similar in _nearest(matrix, members, position, platform_of).items():
                results[pid][type_id] = similar
    with transaction(archive.sessions) as session:
        for analysis in session.scalars(select(ProvisionAnalysis)):
            found = results.get(analysis.provision_id)
            analysis.similar = found or {}
            analysis.unique_wording = (
                None
                if found is None
                else all(not s or s[0][1] < NEAR_DUPLICATE for s in found.values())
            )


def _nearest(
    matrix: Any, members: list[int], position: dict[int, int], platform_of: dict[int, int]
) -> dict[int, list[list[Any]]]:
    rows_all = np.array([position[pid] for pid in members])
    platforms = np.array([platform_of[pid] for pid in members])
    block = matrix[rows_all]
    out: dict[int, list[list[Any]]] = {}
    for start in range(0, len(members), 512):
        sims = (block[start : start + 512] @ block.T).toarray()
        sims[platforms[start : start + 512][:, None] == platforms[None, :]] = -1.0
        for k, row in enumerate(sims):
            best = np.argsort(-row, kind="stable")[:SIMILAR_KEEP]
            out[members[start + k]] = [
                [members[j], round(float(row[j]), 3)] for j in best if row[j] > 0
            ]
    return out


# --- change records ----------------------------------------------------------------------------


def _stale_change_records(session: Session, analyser: str, full: bool) -> list[int]:
    query = select(ChangeRecord.id).order_by(ChangeRecord.id)
    if not full:
        query = query.where(ChangeRecord.analyser.is_distinct_from(record_analyser(analyser)))
    return list(session.scalars(query))


# Bumped when the assessment of change records or their reader text changes, so that an
# existing archive's records are assessed again by the next `analyse`.
CHANGE_ASSESSMENT = "c2"


def record_analyser(analyser: str) -> str:
    """What a change record stores as its analyser: the fingerprint and the assessment rules."""
    return f"{analyser}:{CHANGE_ASSESSMENT}"


def _provision_texts(
    archive: Archive, session: Session, version_id: int, cache: _TextCache
) -> dict[int, tuple[str, str | None]]:
    """provision id -> (text, heading) in one version."""
    layout = session.get(VersionLayout, version_id)
    if layout is None:
        return {}
    text = cache.version(session, version_id)
    return {
        row[0]: (text[row[1] : row[2]], heading_text(layout.heading_paths[row[5]]))
        for row in layout.segments
    }


def stored_predictions(
    session: Session, provision_ids: Sequence[int], version_id: int
) -> dict[int, list[Prediction]]:
    """Per provision, the stored classification of its revision as of ``version_id`` (the
    revisions are classified before change records are assessed, so nothing is classified
    twice)."""
    latest: dict[int, int] = {}
    for provision_id, revision_id in session.execute(
        select(ProvisionRevision.provision_id, ProvisionRevision.id)
        .where(
            ProvisionRevision.provision_id.in_(provision_ids),
            ProvisionRevision.version_id <= version_id,
        )
        .order_by(ProvisionRevision.version_id)
    ):
        latest[provision_id] = revision_id
    found: dict[int, list[Prediction]] = defaultdict(list)
    for c in session.scalars(
        select(Classification)
        .where(Classification.revision_id.in_(list(latest.values())))
        .order_by(Classification.revision_id, Classification.rank)
    ):
        found[c.revision_id].append(
            Prediction(
                c.type_id,
                c.score,
                c.confidence,
                c.severity,
                tuple(c.severity_reasons),
                c.evidence_basis,
                c.supporting_text,
                c.start,
                c.end,
            )
        )
    return {pid: found.get(rid, []) for pid, rid in latest.items()}


def assess_change_record(archive: Archive, session: Session, record_id: int, analyser: str) -> None:
    """Severity and direction of each changed provision and of the record, and the record's
    reader text (its summary: :func:`clausewatch.changes.summary.compose_change`). An item's
    stored severity is the severity of what changed in it; the record's, the highest of those
    (docs/changes.md)."""
    from clausewatch.changes.direction import assess_item, assess_record
    from clausewatch.changes.parameters import compare_parameters, extract_parameters
    from clausewatch.changes.summary import compose_change, item_facts

    record = session.get(ChangeRecord, record_id)
    assert record is not None
    cache = _TextCache(archive)
    old = _provision_texts(archive, session, record.from_version_id, cache)
    new = _provision_texts(archive, session, record.to_version_id, cache)
    items: list[ChangeItem] = list(record.items)
    touched = sorted({i.provision_id for i in items})
    old_stored = stored_predictions(session, touched, record.from_version_id)
    new_stored = stored_predictions(session, touched, record.to_version_id)
    provisions = {
        p.id: p for p in session.scalars(select(Provision).where(Provision.id.in_(touched)))
    }
    assessments = []
    facts = []
    for item in items:
        before, after = old.get(item.provision_id), new.get(item.provision_id)
        old_preds = old_stored.get(item.provision_id, []) if before is not None else []
        new_preds = new_stored.get(item.provision_id, []) if after is not None else []
        old_text = before[0] if before else None
        new_text = after[0] if after else None
        changes = compare_parameters(
            extract_parameters(old_text or ""), extract_parameters(new_text or "")
        )
        result = assess_item(
            item.kind, old_text, new_text, old_preds, new_preds, changes, item.substantive
        )
        item.severity, item.direction, item.assessment = (
            result.change_severity,
            result.direction,
            list(result.reasons),
        )
        assessments.append(result)
        provision = provisions.get(item.provision_id)
        facts.append(
            item_facts(
                item.kind,
                item.substantive,
                provision.title if provision else "",
                provision.heading_path if provision else (),
                result,
                [p["description"] for p in item.parameter_changes],
            )
        )
    severity, direction, reasons = assess_record(assessments)
    if record.status in ("technical", "retracted"):  # not a change of what the terms say
        record.severity, record.direction, record.assessment = None, None, []
    else:
        record.severity, record.direction, record.assessment = severity, direction, list(reasons)
        record.summary = compose_change(facts).text
    record.analyser = record_analyser(analyser)
