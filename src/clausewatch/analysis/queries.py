"""Read paths for analysis, shared by the CLI and (later) the web pages and the API.

Every count — how many platforms have a clause type, how many provisions of it exist
elsewhere, which platforms a comparison lists — comes from :func:`prevalence`, built on the
one query :func:`clausewatch.analysis.service.current_types`, so no two figures on a page can
contradict each other.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from clausewatch.analysis.service import (
    BOILERPLATE,
    current_texts,
    current_types,
    severity_order,
)
from clausewatch.archive.service import Archive
from clausewatch.classify.taxonomy import SEVERITIES, ClauseType, Taxonomy, default_taxonomy
from clausewatch.ids import format_id
from clausewatch.storage.db import state_generation, state_memo, transaction
from clausewatch.storage.models import (
    Classification,
    Document,
    DocumentAnalysis,
    NarrativeCache,
    Platform,
    Provision,
    ProvisionAnalysis,
    ProvisionRevision,
    Version,
)

HOW_OTHERS_SHOWN = 3
OTHER_RISKS_SHOWN = 10  # clause types listed under "Other risks in this policy"
# Whether the user can opt out, wherever the clause states it (matrix and comparison column).
OPT_OUT = re.compile(
    r"\bopt(?:[- ])?out\b|\bwithdraw (?:your )?consent\b|\b(?:turn|switch) (?:it )?off\b"
    r"|\byou (?:can|may) (?:disable|object|choose not)\b",
    re.IGNORECASE,
)


class NotAnalysed(LookupError):
    """The provision exists but ``clausewatch analyse`` has not covered it yet."""


@dataclass
class Prevalence:
    """Clause types in current provisions: per type, per platform, the provision ids."""

    monitored: set[int] = field(default_factory=set)  # platforms with analysed provisions
    by_type: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    severity: dict[tuple[int, str], str] = field(default_factory=dict)  # (provision, type)
    confidence: dict[tuple[int, str], float] = field(default_factory=dict)
    platform_of: dict[int, int] = field(default_factory=dict)  # current provision -> platform
    # per type: (platform, its most confident provision), most confident first (lazily)
    _ranked: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)

    def most_confident(self, type_id: str) -> list[tuple[int, int]]:
        """(platform id, provision id) per platform with the type: the platform's most
        confident provision of it (lowest id on a tie), most confident first."""
        ranked = self._ranked.get(type_id)
        if ranked is None:
            best = {
                platform_id: max(ids, key=lambda pid: (self.confidence[(pid, type_id)], -pid))
                for platform_id, ids in self.by_type.get(type_id, {}).items()
                if ids
            }
            ranked = sorted(
                best.items(), key=lambda item: (-self.confidence[(item[1], type_id)], item[1])
            )
            self._ranked[type_id] = ranked
        return ranked

    def platforms_with(self, type_id: str) -> int:
        return len(self.by_type.get(type_id, {}))

    def provisions_elsewhere(self, type_id: str, platform_id: int) -> int:
        return sum(
            len(ids) for pid, ids in self.by_type.get(type_id, {}).items() if pid != platform_id
        )

    def rarity(self, type_id: str, platform_id: int | None = None) -> dict[str, Any]:
        found, monitored = self.platforms_with(type_id), len(self.monitored)
        percent = round(100 * found / monitored) if monitored else 0
        out: dict[str, Any] = {
            "type": type_id,
            "platforms": found,
            "monitored_platforms": monitored,
            "percent": percent,
            "label": f"Found in {found} of {monitored} platforms ({percent}%)",
        }
        if platform_id is not None:
            others = found - (platform_id in self.by_type.get(type_id, {}))
            out["other_platforms"] = others
            out["provisions_on_other_platforms"] = self.provisions_elsewhere(type_id, platform_id)
            if others == 0:
                out["label"] = f"Only here · 0 of {monitored - 1} other platforms"
        return out


_PREVALENCE: dict[str, tuple[Any, Prevalence, int]] = {}


def prevalence(session: Session) -> Prevalence:
    """The counts every page shows, computed once per state of the analysis: the cache key
    changes whenever ``analyse`` rewrites any document's rows (the only writer of the rows
    counted), so a page never shows counts older than the analysis it shows. Treat the
    result as read-only. While the archive generation stays (no write at all since the last
    look; the request has read it already), the analysis state is not read again."""
    key = session.get_bind().engine.url.render_as_string()
    generation = state_generation(session)
    cached = _PREVALENCE.get(key)
    if cached is not None and cached[2] == generation:
        return cached[1]
    state = tuple(session.execute(_ANALYSIS_STATE).one())
    prev = cached[1] if cached is not None and cached[0] == state else _count_prevalence(session)
    _PREVALENCE[key] = (state, prev, generation)
    return prev


_ANALYSIS_STATE = select(func.count(), func.max(DocumentAnalysis.analysed_at)).select_from(
    DocumentAnalysis
)


def _count_prevalence(session: Session) -> Prevalence:
    prev = Prevalence()
    prev.monitored = set(
        session.scalars(
            select(ProvisionAnalysis.platform_id)
            .where(ProvisionAnalysis.current.is_(True))
            .distinct()
        )
    )
    for row in current_types(session):  # ordered by provision: a repeated type is adjacent
        ids = prev.by_type.setdefault(row.type_id, {}).setdefault(row.platform_id, [])
        if ids and ids[-1] == row.provision_id:
            continue  # one provision counts once per type (its first, best-ranked row)
        ids.append(row.provision_id)
        prev.platform_of[row.provision_id] = row.platform_id
        prev.severity[(row.provision_id, row.type_id)] = row.severity
        prev.confidence[(row.provision_id, row.type_id)] = row.confidence
    return prev


def regulations(ctypes: Iterable[ClauseType]) -> list[dict[str, Any]]:
    """The regulations of the given clause types, one row per regulation (name and
    jurisdiction: the key of its page), in taxonomy order; a regulation that several types (or
    one type twice) cite with different articles lists each article once, in ``articles`` and
    joined in ``article``."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for ctype in ctypes:
        for reg in ctype.regulations:
            row = seen.setdefault(
                (reg.name, reg.jurisdiction),
                {
                    "name": reg.name,
                    "jurisdiction": reg.jurisdiction,
                    "article": "",
                    "articles": [],
                    "clause_type": ctype.id,
                    "clause_types": [],
                },
            )
            if reg.article not in row["articles"]:
                row["articles"].append(reg.article)
            if ctype.id not in row["clause_types"]:
                row["clause_types"].append(ctype.id)
    for row in seen.values():
        row["article"] = "; ".join(row["articles"])
    return list(seen.values())


def _labels(session: Session, provision_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Provision id -> title, document and platform (one query)."""
    ids = list(set(provision_ids))
    if not ids:
        return {}
    rows = session.connection().execute(_LABELS, {"ids": ids})
    return {
        pid: {
            "id": format_id("P", pid),
            "title": title,
            "document": format_id("D", doc_id),
            "document_type": doc_type,
            "platform": name,
            "platform_slug": slug,
        }
        for pid, title, doc_id, doc_type, name, slug in rows
    }


# Statements built once (bound parameters): on a cold page, building and keying a statement
# cost more than running it (issue #13). Columns, not entities.
_LABELS = (
    select(
        Provision.id, Provision.title, Document.id, Document.doc_type, Platform.name, Platform.slug
    )
    .join(Document, Document.id == Provision.document_id)
    .join(Platform, Platform.id == Document.platform_id)
    .where(Provision.id.in_(bindparam("ids", expanding=True)))
)
_SUPPORTING_TEXTS = (
    select(ProvisionAnalysis.provision_id, Classification.supporting_text)
    .join(Classification, Classification.revision_id == ProvisionAnalysis.revision_id)
    .where(
        ProvisionAnalysis.provision_id.in_(bindparam("ids", expanding=True)),
        Classification.type_id == bindparam("type_id"),
    )
)
_DOCUMENT_RISKS = select(
    ProvisionAnalysis.provision_id,
    ProvisionAnalysis.primary_type,
    ProvisionAnalysis.severity,
    ProvisionAnalysis.confidence,
).where(
    ProvisionAnalysis.document_id == bindparam("document_id"),
    ProvisionAnalysis.current.is_(True),
    ProvisionAnalysis.severity.in_(["High", "Medium"]),
)
_CLASSIFICATIONS = (
    select(*Classification.__table__.c)
    .where(Classification.revision_id == bindparam("rid"))
    .order_by(Classification.rank)
)
_ANALYSIS = select(*ProvisionAnalysis.__table__.c).where(
    ProvisionAnalysis.provision_id == bindparam("pid")
)


def _classification_json(c: Any, taxonomy: Taxonomy) -> dict[str, Any]:
    """One classification (a ``Classification`` or its row) as the page and the API show it."""
    ctype = taxonomy.by_id[c.type_id]
    return {
        "type": c.type_id,
        "name": ctype.name,
        "category": taxonomy.groups[ctype.group],
        "confidence": c.confidence,
        "severity": c.severity,
        "severity_reasons": c.severity_reasons,
        "evidence_basis": c.evidence_basis,
        "supporting_text": c.supporting_text,
        "start": c.start,
        "end": c.end,
    }


def provision_analysis(
    archive: Archive, provision_id: int, *, taxonomy: Taxonomy | None = None
) -> dict[str, Any]:
    """Everything the analysis sections of a provision page show, from stored rows."""
    with archive.sessions() as session:
        return _analysis_in(session, provision_id, taxonomy or default_taxonomy())[0]


def _analysis_in(
    session: Session,
    provision_id: int,
    taxonomy: Taxonomy,
    own: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    """:func:`provision_analysis` in the caller's session, and the provision's analysis row.
    ``own``: the provision's platform, platform slug and title when the caller has read them.
    Core rows, not ORM entities (issue #13)."""
    conn = session.connection()
    analysis = conn.execute(_ANALYSIS, {"pid": provision_id}).first()
    if analysis is None:
        if session.get(Provision, provision_id) is None:
            raise LookupError(f"no provision {format_id('P', provision_id)}")
        raise NotAnalysed(
            f"{format_id('P', provision_id)} has not been analysed yet: run `clausewatch analyse`"
        )
    found = conn.execute(_CLASSIFICATIONS, {"rid": analysis.revision_id}).all()
    prev = prevalence(session)
    others = _how_others_handle(session, analysis, prev)
    risks = _other_risks(session, analysis, prev)
    if own is None:
        own = _labels(session, [provision_id])[provision_id]
    substantive = [c for c in found if c.type_id != BOILERPLATE]
    primary = found[0] if found else None
    result = {
        "id": format_id("P", provision_id),
        "analyser": analysis.analyser,
        "analysed_at": analysis.analysed_at.isoformat(),
        "in_current_version": analysis.current,
        "primary_type": primary.type_id if primary else None,
        "severity": primary.severity if primary else None,
        "severity_reasons": primary.severity_reasons if primary else [],
        "confidence": primary.confidence if primary else None,
        "classifications": [_classification_json(c, taxonomy) for c in found],
        "rarity": (
            prev.rarity(primary.type_id, analysis.platform_id)
            if primary and primary.type_id != BOILERPLATE
            else None
        ),
        "unique_wording": analysis.unique_wording,
        "how_others_handle": others,
        "regulations": regulations(taxonomy.by_id[c.type_id] for c in substantive),
        "other_risks": risks,
        **{k: own[k] for k in ("platform", "platform_slug", "title")},
    }
    return result, analysis


def _how_others_handle(session: Session, analysis: Any, prev: Prevalence) -> list[dict[str, Any]]:
    """Provisions of the primary type on other platforms, one per platform, the most similar
    first. The candidates are the provisions that the rarity counts count
    (:func:`prevalence`): whenever those say another platform has the type, one is shown.
    Each platform's provision is the most similar one that ``analyse`` stored, else (its
    similarity not among the stored nearest) its most confident one, with ``similarity``
    None."""
    type_id = analysis.primary_type
    if type_id is None or type_id == BOILERPLATE:
        return []
    similarity = {pid: sim for pid, sim in analysis.similar.get(type_id, [])}
    per_type = prev.by_type.get(type_id, {})

    def rank(pid: int) -> tuple[float, float, int]:
        return (similarity.get(pid, -1.0), prev.confidence.get((pid, type_id), 0.0), -pid)

    # platforms with one of the stored most similar provisions: their most similar one
    best: dict[int, int] = {}  # platform id -> provision id
    for pid in similarity:
        platform_id = prev.platform_of.get(pid)
        if platform_id is None or platform_id == analysis.platform_id:
            continue
        if pid in per_type.get(platform_id, ()) and (
            platform_id not in best or rank(pid) > rank(best[platform_id])
        ):
            best[platform_id] = pid
    chosen = sorted(best.values(), key=rank, reverse=True)[:HOW_OTHERS_SHOWN]
    # then the other platforms, by their most confident provision (precomputed per state)
    for platform_id, pid in prev.most_confident(type_id):
        if len(chosen) >= HOW_OTHERS_SHOWN:
            break
        if platform_id != analysis.platform_id and platform_id not in best:
            chosen.append(pid)
    # the labels and excerpts depend only on the archive state: kept per type and provisions
    shown = state_memo(
        session,
        ("how-others", type_id, tuple(chosen)),
        lambda: _labelled_excerpts(session, chosen, type_id),
    )
    return [
        {
            **label,
            "severity": prev.severity.get((pid, type_id)),
            "similarity": similarity.get(pid),
            "excerpt": excerpt,
        }
        for pid, label, excerpt in shown
    ]


def _labelled_excerpts(
    session: Session, provision_ids: Sequence[int], type_id: str
) -> list[tuple[int, dict[str, Any], str]]:
    """(provision id, labels, supporting text of ``type_id``) of the provisions that exist, in
    the given order."""
    labels = _labels(session, provision_ids)
    excerpts = _supporting_texts(session, provision_ids, type_id)
    return [(pid, labels[pid], excerpts.get(pid, "")) for pid in provision_ids if pid in labels]


def _supporting_texts(
    session: Session, provision_ids: Sequence[int], type_id: str
) -> dict[int, str]:
    if not provision_ids:
        return {}
    rows = session.connection().execute(
        _SUPPORTING_TEXTS, {"ids": list(provision_ids), "type_id": type_id}
    )
    return {pid: text for pid, text in rows}


def _other_risks(session: Session, analysis: Any, prev: Prevalence) -> list[dict[str, Any]]:
    """Other current provisions of the same document with a High or Medium severity, one row
    per clause type (its most severe, most confident provision; ``provisions`` lists every
    provision of the type, that one first), at most :data:`OTHER_RISKS_SHOWN` types. The
    document's ranking is computed once per archive state (``state_memo``)."""
    document_id = analysis.document_id
    ranked, labels = state_memo(
        session,
        ("other-risks", document_id),
        lambda: _document_risks(session, document_id),
    )
    groups: dict[str | None, list[tuple[int, str | None]]] = {}
    for provision_id, type_id, severity in ranked:
        if provision_id != analysis.provision_id:
            groups.setdefault(type_id, []).append((provision_id, severity))
    taxonomy = default_taxonomy()
    out: list[dict[str, Any]] = []
    for type_id, group in list(groups.items())[:OTHER_RISKS_SHOWN]:
        members = [(pid, severity) for pid, severity in group if pid in labels]
        if not members:
            continue
        top, top_severity = members[0]
        out.append(
            {
                **labels[top],
                "type": type_id,
                "type_name": taxonomy.by_id[type_id].name if type_id else None,
                "severity": top_severity,
                "provisions": [
                    {"id": labels[pid]["id"], "title": labels[pid]["title"], "severity": sev}
                    for pid, sev in members
                ],
            }
        )
    return out


def _document_risks(
    session: Session, document_id: int
) -> tuple[list[tuple[int, str | None, str | None]], dict[int, dict[str, Any]]]:
    """A document's current High and Medium provisions, most severe and most confident first
    (provision id, primary type, severity), with the labels of the members of its first
    ``OTHER_RISKS_SHOWN + 1`` types (one more: a page leaves its own provision out)."""
    rows = session.connection().execute(_DOCUMENT_RISKS, {"document_id": document_id}).all()
    ranked = sorted(
        rows,
        key=lambda r: (-SEVERITIES.index(r.severity or "Low"), -(r.confidence or 0), r[0]),
    )
    types = list(dict.fromkeys(r.primary_type for r in ranked))[: OTHER_RISKS_SHOWN + 1]
    labels = _labels(session, [r[0] for r in ranked if r.primary_type in types])
    return [(r[0], r.primary_type, r.severity) for r in ranked], labels


# --- clause types across platforms ------------------------------------------------------------


def clause_type_summary(
    archive: Archive, *, taxonomy: Taxonomy | None = None
) -> list[dict[str, Any]]:
    """Every clause type with its rarity (the clause-type hub index)."""
    taxonomy = taxonomy or default_taxonomy()
    with archive.sessions() as session:
        prev = prevalence(session)
    return [
        {
            "type": t.id,
            "name": t.name,
            "category": taxonomy.groups[t.group],
            "default_severity": t.severity,
            "provisions": sum(len(v) for v in prev.by_type.get(t.id, {}).values()),
            **{k: v for k, v in prev.rarity(t.id).items() if k != "type"},
        }
        for t in taxonomy.types
    ]


def _platforms(session: Session, slugs: Sequence[str]) -> list[Platform]:
    if not slugs:
        return list(session.scalars(select(Platform).order_by(Platform.name)))
    found = {p.slug: p for p in session.scalars(select(Platform).where(Platform.slug.in_(slugs)))}
    missing = [s for s in slugs if s not in found]
    if missing:
        raise LookupError(f"unknown platform(s): {', '.join(missing)}")
    return [found[s] for s in slugs]


def _cell(
    ctype: ClauseType, provision_ids: list[int], texts: dict[int, str], prev: Prevalence
) -> dict[str, Any]:
    if not provision_ids:
        return {"state": ctype.matrix.absent, "provisions": [], "severity": None, "opt_out": None}
    body = [texts.get(pid, "") for pid in provision_ids]
    states = [ctype.matrix_state(t) for t in body]
    # the strongest stated form wins: the first state of the taxonomy's ordered list that occurs
    order = [s.label for s in ctype.matrix.states] + [ctype.matrix.present]
    state = min(states, key=order.index) if states else ctype.matrix.present
    severities = [prev.severity.get((pid, ctype.id), "Low") for pid in provision_ids]
    return {
        "state": state,
        "provisions": [format_id("P", pid) for pid in provision_ids],
        "severity": max(severities, key=SEVERITIES.index),
        "opt_out": any(OPT_OUT.search(t) for t in body),
    }


def matrix(
    archive: Archive,
    type_ids: Sequence[str] = (),
    platform_slugs: Sequence[str] = (),
    *,
    taxonomy: Taxonomy | None = None,
) -> dict[str, Any]:
    """Platform × clause type: how each platform's current provisions state each type."""
    taxonomy = taxonomy or default_taxonomy()
    unknown = [t for t in type_ids if t not in taxonomy.by_id]
    if unknown:
        raise LookupError(f"unknown clause type(s): {', '.join(unknown)}")
    ctypes = [taxonomy.by_id[t] for t in type_ids] or [
        t for t in taxonomy.types if t.id != BOILERPLATE
    ]
    with archive.sessions() as session:
        prev = prevalence(session)
        platforms = [p for p in _platforms(session, platform_slugs) if p.id in prev.monitored]
        wanted = {
            pid
            for t in ctypes
            for p in platforms
            for pid in prev.by_type.get(t.id, {}).get(p.id, [])
        }
        texts = current_texts(archive, session, wanted)
    rows = [
        {
            "platform": p.name,
            "platform_slug": p.slug,
            "cells": {
                t.id: _cell(t, prev.by_type.get(t.id, {}).get(p.id, []), texts, prev)
                for t in ctypes
            },
        }
        for p in platforms
    ]
    return {
        "types": [{"type": t.id, "name": t.name} for t in ctypes],
        "monitored_platforms": len(prev.monitored),
        "rows": rows,
    }


def compare(
    archive: Archive,
    type_id: str,
    platform_slugs: Sequence[str],
    *,
    taxonomy: Taxonomy | None = None,
) -> dict[str, Any]:
    """2–4 platforms side by side for one clause type: state, severity and their provisions."""
    taxonomy = taxonomy or default_taxonomy()
    platform_slugs = list(dict.fromkeys(platform_slugs))  # a platform named twice is one column
    if not 2 <= len(platform_slugs) <= 4:
        raise ValueError(f"compare needs 2 to 4 platforms, got {len(platform_slugs)} different")
    if type_id not in taxonomy.by_id:
        raise LookupError(f"unknown clause type: {type_id}")
    ctype = taxonomy.by_id[type_id]
    with archive.sessions() as session:
        prev = prevalence(session)
        platforms = _platforms(session, platform_slugs)
        ids = {p.id: prev.by_type.get(type_id, {}).get(p.id, []) for p in platforms}
        wanted = {pid for v in ids.values() for pid in v}
        texts = current_texts(archive, session, wanted)
        labels = _labels(session, wanted)
        excerpts = _supporting_texts(session, list(wanted), type_id)
    columns = []
    for p in platforms:
        cell = _cell(ctype, ids[p.id], texts, prev)
        cell["provisions"] = [
            {
                **labels[pid],
                "severity": prev.severity.get((pid, type_id)),
                "excerpt": excerpts.get(pid, ""),
            }
            for pid in ids[p.id]
        ]
        columns.append({"platform": p.name, "platform_slug": p.slug, **cell})
    return {
        "type": type_id,
        "name": ctype.name,
        "rarity": prev.rarity(type_id),
        "platforms": columns,
    }


def clause_type_hub(archive: Archive, type_id: str) -> dict[str, Any]:
    """One clause type: its taxonomy entry, rarity and every platform that has it."""
    taxonomy = default_taxonomy()
    if type_id not in taxonomy.by_id:
        raise LookupError(f"unknown clause type: {type_id}")
    ctype = taxonomy.by_id[type_id]
    with archive.sessions() as session:
        prev = prevalence(session)
        per_platform = prev.by_type.get(type_id, {})
        names = {
            p.id: (p.name, p.slug)
            for p in session.scalars(select(Platform).where(Platform.id.in_(list(per_platform))))
        }
    severity_count: dict[str, int] = defaultdict(int)
    for ids in per_platform.values():
        for pid in ids:
            severity_count[prev.severity[(pid, type_id)]] += 1
    return {
        "type": type_id,
        "name": ctype.name,
        "category": taxonomy.groups[ctype.group],
        "description": ctype.description,
        "default_severity": ctype.severity,
        "rarity": prev.rarity(type_id),
        "severity_mix": dict(severity_count),
        "regulations": regulations([ctype]),
        "platforms": sorted(
            (
                {
                    "platform": names[pid][0],
                    "platform_slug": names[pid][1],
                    "provisions": [format_id("P", x) for x in ids],
                }
                for pid, ids in per_platform.items()
            ),
            key=lambda row: (-len(row["provisions"]), row["platform"]),
        ),
    }


def provision_page_analysis(
    archive: Archive, provision_id: int, *, taxonomy: Taxonomy | None = None
) -> dict[str, Any]:
    """:func:`provision_analysis` plus the grounded narrative (template, or the LLM writer's
    rephrasing when one is configured and its output passes the grounding check)."""
    taxonomy = taxonomy or default_taxonomy()
    with archive.sessions() as session:  # one session, one query for the text's source
        result, analysis = _analysis_in(session, provision_id, taxonomy)
        text, document_name = _analysed_text(archive, session, analysis.revision_id)
    return _narrated(archive, result, text, document_name, taxonomy)


def _analysed_text(archive: Archive, session: Session, revision_id: int) -> tuple[str, str]:
    """The text of the analysed revision and its document's name ("Platform Terms")."""
    start, end, sha, doc_type, platform_name = session.execute(
        select(
            ProvisionRevision.start,
            ProvisionRevision.end,
            Version.text_sha256,
            Document.doc_type,
            Platform.name,
        )
        .join(Version, Version.id == ProvisionRevision.version_id)
        .join(Document, Document.id == Version.document_id)
        .join(Platform, Platform.id == Document.platform_id)
        .where(ProvisionRevision.id == revision_id)
    ).one()
    return archive.text(sha)[start:end], f"{platform_name} {doc_type}"


def _narrated(
    archive: Archive, result: dict[str, Any], text: str, document_name: str, taxonomy: Taxonomy
) -> dict[str, Any]:
    """``result`` (:func:`provision_analysis`) with its narrative; outside any session (the
    LLM writer's cache is written in a transaction of its own)."""
    from clausewatch.analysis.narrative import NarrativeInput, narrate

    rarity = result["rarity"] or {}
    inp = NarrativeInput(
        platform=result["platform"],
        document=document_name,
        title=result["title"],
        text=text,
        type_ids=tuple(c["type"] for c in result["classifications"]),
        severity=result["severity"],
        severity_reasons=tuple(result["severity_reasons"]),
        platforms_with_type=rarity.get("platforms"),
        monitored_platforms=rarity.get("monitored_platforms"),
    )
    narrative = narrate(inp, taxonomy)
    narrative = _rephrased(archive, inp, narrative)
    result["narrative"] = narrative_json(narrative)
    return result


def narrative_json(narrative: Any) -> dict[str, Any]:
    """A :class:`~clausewatch.analysis.narrative.Narrative` as JSON-ready data."""
    return json.loads(json.dumps(asdict(narrative)))


def _rephrased(archive: Archive, inp: Any, reference: Any) -> Any:
    """The LLM writer's version, asked once per reference narrative and model (cached)."""
    import hashlib

    from clausewatch.analysis.llm import narrative_writer

    writer = narrative_writer(archive.settings)
    if writer is None:
        return reference
    key_source = json.dumps([writer.model, narrative_json(reference)], sort_keys=True)
    key = hashlib.sha256(key_source.encode()).hexdigest()
    with archive.sessions() as session:
        cached = session.get(NarrativeCache, key)
        if cached is not None:
            return _from_cache(reference, cached)
    result = writer.rewrite(inp, reference)
    with transaction(archive.sessions) as session:
        session.merge(
            NarrativeCache(
                key=key,
                writer=result.writer,
                sections=narrative_json(result),
                rejected=list(result.rejected),
            )
        )
    return result


def _from_cache(reference: Any, cached: NarrativeCache) -> Any:
    from dataclasses import replace

    s = cached.sections
    if cached.rejected:
        return replace(reference, rejected=tuple(cached.rejected))
    return replace(
        reference,
        what_it_is=s["what_it_is"],
        why_it_matters=s["why_it_matters"],
        consumer_impact=s["consumer_impact"],
        what_you_can_do=tuple(s["what_you_can_do"]),
        faq=tuple(tuple(qa) for qa in s["faq"]),
        writer=cached.writer,
    )


# --- read paths of the web pages and the API ---------------------------------------------------


def list_analysed_provisions(
    archive: Archive,
    *,
    platform: str | None = None,
    document_id: int | None = None,
    type_id: str | None = None,
    severity: str | None = None,
    category: str | None = None,
    regulation: str | None = None,
    limit: int = 50,
    offset: int = 0,
    taxonomy: Taxonomy | None = None,
) -> dict[str, Any]:
    """Current analysed provisions, most severe first, filtered and paginated in SQL (one query
    for the page, one for the total). ``type_id`` matches any clause type of the provision, as
    the rarity counts do; ``severity`` is the provision's (its primary type's) severity;
    ``category`` is the platform's category; ``regulation`` (a slug, see
    :func:`regulation_slug`) keeps provisions with any clause type that lists the regulation."""

    taxonomy = taxonomy or default_taxonomy()
    if type_id is not None and type_id not in taxonomy.by_id:
        raise LookupError(f"unknown clause type: {type_id}")
    regulation_types: list[str] = []
    if regulation is not None:
        regulation_types = _regulation_types(taxonomy, regulation)
    if severity is not None and severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    # The page's ids come from provision_analyses alone, in the order of the index
    # ix_provision_analyses_list (most severe first, then id); the labels are joined to those
    # 50 rows only. The total is counted once per archive state and filter.
    pa = ProvisionAnalysis
    ids = select(pa.provision_id).where(pa.current.is_(True))
    if platform:
        ids = ids.where(pa.platform_id.in_(select(Platform.id).where(Platform.slug == platform)))
    if category:
        ids = ids.where(
            pa.platform_id.in_(select(Platform.id).where(Platform.category == category))
        )
    if document_id is not None:
        ids = ids.where(pa.document_id == document_id)
    if severity:
        ids = ids.where(pa.severity_order == severity_order(severity))
    for wanted in ([type_id] if type_id else [], regulation_types if regulation else []):
        if wanted:
            ids = ids.where(
                select(Classification.id)
                .where(
                    Classification.revision_id == pa.revision_id,
                    Classification.type_id.in_(wanted),
                )
                .exists()
            )
    filters = (platform, category, document_id, severity, type_id, regulation)
    with archive.sessions() as session:
        total = state_memo(
            session,
            ("list-total", filters),
            lambda: session.scalar(select(func.count()).select_from(ids.subquery())) or 0,
        )
        page = list(
            session.scalars(
                ids.order_by(pa.severity_order, pa.provision_id).limit(limit).offset(offset)
            )
        )
        found = {
            a.provision_id: (a, title, doc_type, name, slug)
            for a, title, doc_type, name, slug in session.execute(
                select(pa, Provision.title, Document.doc_type, Platform.name, Platform.slug)
                .join(Provision, Provision.id == pa.provision_id)
                .join(Document, Document.id == pa.document_id)
                .join(Platform, Platform.id == pa.platform_id)
                .where(pa.provision_id.in_(page))
            )
        }
    rows = [found[pid] for pid in page if pid in found]
    items = [
        {
            "id": format_id("P", a.provision_id),
            "title": title,
            "document": format_id("D", a.document_id),
            "document_type": doc_type,
            "platform": name,
            "platform_slug": slug,
            "primary_type": a.primary_type,
            "type_name": taxonomy.by_id[a.primary_type].name if a.primary_type else None,
            "severity": a.severity,
            "confidence": a.confidence,
        }
        for a, title, doc_type, name, slug in rows
    ]
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def provision_record(archive: Archive, provision_id: int) -> dict[str, Any]:
    """Everything a provision page and the API's provision detail show: the provision and its
    history, its document, the evidence checks and, once analysed, its analysis and narrative
    (``analysis`` is None before ``clausewatch analyse`` has covered it). One session; what
    depends only on the archive state is kept per state (issue #13)."""
    from clausewatch.provisions.queries import (
        document_summary_in,
        provision_detail_in,
        provision_evidence_in,
    )

    taxonomy = default_taxonomy()
    with archive.sessions() as session:
        detail, latest = provision_detail_in(archive, session, provision_id)
        document_id = int(detail["document"].split("-")[1])
        # the same for every provision of the document: once per archive state; in this
        # session (one pooled connection per request: under load a second one waits forever)
        document = state_memo(
            session,
            ("document-summary", document_id),
            lambda: document_summary_in(session, document_id),
            checks=True,  # its capture count
        )
        own = {
            "platform": document["platform"],
            "platform_slug": document["platform_slug"],
            "title": detail["title"],
        }
        source: tuple[str, str] | None = None
        try:
            result, analysis = _analysis_in(session, provision_id, taxonomy, own)
        except NotAnalysed:
            result = None
        else:
            source = (
                (detail["text"], f"{detail['platform']} {detail['document_type']}")
                if analysis.revision_id == latest.revision_id  # the text the detail shows
                else _analysed_text(archive, session, analysis.revision_id)
            )
        evidence = provision_evidence_in(archive, session, latest.version_id)
    if result is not None and source is not None:
        result = _narrated(archive, result, source[0], source[1], taxonomy)
    return {
        **detail,
        "platform_slug": document["platform_slug"],
        "document_info": document,
        "evidence": evidence,
        "analysis": result,
    }


# --- regulations, platform vs platform, chart data ----------------------------------------------


def regulation_slug(name: str) -> str:
    """'UK GDPR' -> 'uk-gdpr', 'FTC Act §5' -> 'ftc-act-5' (stable URL part of a regulation)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _regulation_index(taxonomy: Taxonomy) -> dict[str, dict[str, Any]]:
    """slug -> {name, jurisdiction, articles: [(clause type, articles)]}, in taxonomy order:
    one entry per clause type, a type that cites the regulation twice (different articles)
    with both articles joined, so that the regulation page lists each type once."""
    out: dict[str, dict[str, Any]] = {}
    for ctype in taxonomy.types:
        for reg in ctype.regulations:
            entry = out.setdefault(
                regulation_slug(reg.name),
                {"name": reg.name, "jurisdiction": reg.jurisdiction, "articles": []},
            )
            per_type = {t.id: a for t, a in entry["articles"]}
            if ctype.id not in per_type:
                entry["articles"].append((ctype, reg.article))
            elif reg.article not in per_type[ctype.id].split("; "):
                entry["articles"] = [
                    (t, f"{a}; {reg.article}" if t.id == ctype.id else a)
                    for t, a in entry["articles"]
                ]
    return out


def _regulation_types(taxonomy: Taxonomy, slug: str) -> list[str]:
    entry = _regulation_index(taxonomy).get(slug)
    if entry is None:
        raise LookupError(f"unknown regulation: {slug}")
    return list(dict.fromkeys(ctype.id for ctype, _ in entry["articles"]))


def _regulation_counts(prev: Prevalence, type_ids: Iterable[str]) -> tuple[set[int], set[int]]:
    """(current provision ids, platform ids) with any of the clause types: from prevalence, the
    same rows as every other count of the site."""
    provisions: set[int] = set()
    platforms: set[int] = set()
    for type_id in type_ids:
        for platform_id, ids in prev.by_type.get(type_id, {}).items():
            platforms.add(platform_id)
            provisions.update(ids)
    return provisions, platforms


def _regulation_row(
    slug: str, entry: dict[str, Any], prev: Prevalence, taxonomy: Taxonomy
) -> dict[str, Any]:
    type_ids = list(dict.fromkeys(ctype.id for ctype, _ in entry["articles"]))
    provisions, platforms = _regulation_counts(prev, type_ids)
    return {
        "slug": slug,
        "name": entry["name"],
        "jurisdiction": entry["jurisdiction"],
        "clause_types": [
            {"type": t, "name": taxonomy.by_id[t].name, "platforms": prev.platforms_with(t)}
            for t in type_ids
        ],
        "provisions": len(provisions),
        "platforms": len(platforms),
        "monitored_platforms": len(prev.monitored),
    }


def list_regulations(archive: Archive, *, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Every regulation of the taxonomy, grouped by jurisdiction, with the clause types that list
    it and how many current provisions (and platforms) have one of those types."""
    taxonomy = taxonomy or default_taxonomy()
    with archive.sessions() as session:
        prev = prevalence(session)
    rows = [
        _regulation_row(slug, entry, prev, taxonomy)
        for slug, entry in _regulation_index(taxonomy).items()
    ]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["jurisdiction"]].append(row)
    return {
        "total": len(rows),
        "monitored_platforms": len(prev.monitored),
        "jurisdictions": [
            {"jurisdiction": j, "regulations": sorted(groups[j], key=lambda r: r["name"].lower())}
            for j in sorted(groups)
        ],
    }


def regulation_detail(
    archive: Archive, slug: str, *, taxonomy: Taxonomy | None = None
) -> dict[str, Any]:
    """One regulation: its articles per clause type, with each type's prevalence."""
    taxonomy = taxonomy or default_taxonomy()
    entry = _regulation_index(taxonomy).get(slug)
    if entry is None:
        raise LookupError(f"unknown regulation: {slug}")
    with archive.sessions() as session:
        prev = prevalence(session)
    articles = []
    for ctype, article in entry["articles"]:
        per_platform = prev.by_type.get(ctype.id, {})
        articles.append(
            {
                "type": ctype.id,
                "name": ctype.name,
                "category": taxonomy.groups[ctype.group],
                "article": article,
                "provisions": sum(len(ids) for ids in per_platform.values()),
                "rarity": prev.rarity(ctype.id),
            }
        )
    return {**_regulation_row(slug, entry, prev, taxonomy), "articles": articles}


def compare_platforms(
    archive: Archive, slug_a: str, slug_b: str, *, taxonomy: Taxonomy | None = None
) -> dict[str, Any]:
    """Platform vs platform: every substantive clause type found on either, with the matrix
    state, severity and provisions on each side."""
    from clausewatch.provisions.queries import platform_detail

    taxonomy = taxonomy or default_taxonomy()
    if slug_a == slug_b:
        raise ValueError("choose two different platforms")
    with archive.sessions() as session:
        prev = prevalence(session)
        a, b = _platforms(session, [slug_a, slug_b])
        ctypes = [
            t
            for t in taxonomy.types
            if t.id != BOILERPLATE
            and (a.id in prev.by_type.get(t.id, {}) or b.id in prev.by_type.get(t.id, {}))
        ]
        wanted = {
            pid for t in ctypes for p in (a, b) for pid in prev.by_type.get(t.id, {}).get(p.id, [])
        }
        texts = current_texts(archive, session, wanted)
        labels = _labels(session, wanted)
    rows: list[dict[str, Any]] = []
    for t in ctypes:
        sides = []
        for p in (a, b):
            ids = prev.by_type.get(t.id, {}).get(p.id, [])
            cell = _cell(t, ids, texts, prev)
            cell["provisions"] = [
                {
                    "id": labels[pid]["id"],
                    "title": labels[pid]["title"],
                    "document": labels[pid]["document"],
                    "document_type": labels[pid]["document_type"],
                    "severity": prev.severity.get((pid, t.id)),
                }
                for pid in ids
                if pid in labels
            ]
            sides.append(cell)
        rows.append(
            {
                "type": t.id,
                "name": t.name,
                "category": taxonomy.groups[t.group],
                "rarity": prev.rarity(t.id),
                "a": sides[0],
                "b": sides[1],
            }
        )
    both = sum(1 for r in rows if r["a"]["provisions"] and r["b"]["provisions"])
    only_a = sum(1 for r in rows if r["a"]["provisions"] and not r["b"]["provisions"])

    def side(p: Platform) -> dict[str, Any]:
        detail = platform_detail(archive, p.slug)
        return {
            "platform": p.name,
            "platform_slug": p.slug,
            "category": p.category,
            "monitored": p.id in prev.monitored,
            "clause_types": sum(1 for t in ctypes if p.id in prev.by_type.get(t.id, {})),
            "change_frequency": detail["change_frequency"],
        }

    return {
        "a": side(a),
        "b": side(b),
        "summary": {"both": both, "only_a": only_a, "only_b": len(rows) - both - only_a},
        "types": rows,
    }


def severity_counts(
    archive: Archive, *, platform: str | None = None, document_id: int | None = None
) -> dict[str, int]:
    """Current analysed provisions per severity (the registry's severity filter, counted).
    Only provisions with a clause type have a severity: :func:`severity_coverage` says how
    many of the current provisions that is."""
    return severity_coverage(archive, platform=platform, document_id=document_id)["severity"]


def severity_coverage(
    archive: Archive, *, platform: str | None = None, document_id: int | None = None
) -> dict[str, Any]:
    """One query for a severity chart and the count beside it: ``current`` (current analysed
    provisions, the ``total`` of :func:`list_analysed_provisions` with the same filter),
    ``with_type`` (those with a clause type, hence a severity; the sum of ``severity``) and
    ``severity`` (per severity, High first)."""
    query = (
        select(ProvisionAnalysis.severity, func.count())
        .join(Platform, Platform.id == ProvisionAnalysis.platform_id)
        .where(ProvisionAnalysis.current.is_(True))
        .group_by(ProvisionAnalysis.severity)
    )
    if platform:
        query = query.where(Platform.slug == platform)
    if document_id is not None:
        query = query.where(ProvisionAnalysis.document_id == document_id)
    with archive.sessions() as session:
        found = {sev: int(n) for sev, n in session.execute(query).all()}
    severity = {s: found.get(s, 0) for s in reversed(SEVERITIES)}
    return {
        "current": sum(found.values()),
        "with_type": sum(severity.values()),
        "severity": severity,
    }


def change_activity(
    archive: Archive, *, platform: str | None = None, type_id: str | None = None
) -> dict[str, int]:
    """Substantive change records per month ('YYYY-MM' -> count), oldest first; ``type_id``
    keeps records that touch a current provision of that clause type."""
    from clausewatch.storage.models import ChangeItem, ChangeRecord

    query = (
        select(ChangeRecord.id, ChangeRecord.recorded_at)
        .join(Document, Document.id == ChangeRecord.document_id)
        .join(Platform, Platform.id == Document.platform_id)
        .where(ChangeRecord.status == "substantive")
    )
    if platform:
        query = query.where(Platform.slug == platform)
    if type_id:
        query = query.where(
            select(ChangeItem.id)
            .join(ProvisionAnalysis, ProvisionAnalysis.provision_id == ChangeItem.provision_id)
            .join(Classification, Classification.revision_id == ProvisionAnalysis.revision_id)
            .where(
                ChangeItem.change_id == ChangeRecord.id,
                Classification.type_id == type_id,
                ProvisionAnalysis.current.is_(True),
            )
            .exists()
        )
    months: dict[str, int] = defaultdict(int)
    with archive.sessions() as session:
        for _id, when in session.execute(query).all():
            months[f"{when:%Y-%m}"] += 1
    return dict(sorted(months.items()))
