"""Analysis stored in the archive (SQLite and PostgreSQL): classifications of every revision,
the per-provision rows all counts read, similarity across platforms, comparisons, change-record
severity and direction, incremental re-analysis."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from archive_fixtures import *  # noqa: F403
from sqlalchemy import func, select
from test_archive import T0, check, platform_decl
from test_llm_writer import FakeLLM, _completion, llm  # noqa: F401

import clausewatch.analysis.service as service
from clausewatch.analysis.queries import (
    NotAnalysed,
    clause_type_hub,
    clause_type_summary,
    compare,
    matrix,
    provision_analysis,
    provision_page_analysis,
)
from clausewatch.analysis.service import analyse
from clausewatch.archive.service import Archive
from clausewatch.classify.conventions import OPT_OUT_REASON
from clausewatch.provisions.service import build
from clausewatch.storage.models import (
    ChangeRecord,
    Classification,
    Document,
    ProvisionAnalysis,
    ProvisionRevision,
    RevisionAnalysis,
    Version,
)

DAY = dt.timedelta(days=1)
ARBITRATION = (
    "Any dispute arising out of these terms shall be resolved exclusively by binding "
    "arbitration administered by the American Arbitration Association, and you waive your "
    "right to a jury trial."
)
TERMINATION = (
    "We may terminate or suspend your account at any time, without notice, for any reason."
)
LIABILITY = (
    "In no event shall we be liable for any indirect, incidental or consequential damages, and "
    "our total liability shall not exceed USD 100."
)
SALE = "We sell your personal information to advertising partners."
CHANGES_30 = "We will notify you at least 30 days before changes to these terms take effect."
CHANGES_7 = "We will notify you at least 7 days before changes to these terms take effect."
AI = "We use the content you post to train our artificial intelligence models."
DISCONTINUE = "We may discontinue the Services at any time, without notice, for any reason."

TEXTS = {
    "alpha": [CHANGES_30, ARBITRATION, TERMINATION],
    "beta": [ARBITRATION.replace("shall", "will") + " You may opt out of arbitration.", LIABILITY],
    "gamma": [SALE, LIABILITY.replace("USD 100", "EUR 50")],
}


def body(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs) + "\n"


def record(archive: Archive, doc_id: int, text: str, when: dt.datetime) -> None:
    check(archive, doc_id, text, when)
    check(archive, doc_id, text, when + dt.timedelta(minutes=1))  # the confirming fetch


@pytest.fixture
def populated(archive: Archive) -> dict[str, int]:
    archive.sync_registry([platform_decl(slug) for slug in TEXTS])
    docs = {d.platform.slug: d.id for d in archive.documents()}
    for slug, paragraphs in TEXTS.items():
        record(archive, docs[slug], body(paragraphs), T0)
    build(archive)
    return docs


def current_provision(archive: Archive, doc_id: int, contains: str) -> int:
    with archive.sessions() as session:
        document = session.get(Document, doc_id)
        assert document is not None
        version = session.get(Version, document.current_version_id)
        assert version is not None
        text = archive.version_text(version)
        for revision in session.scalars(
            select(ProvisionRevision).where(ProvisionRevision.version_id == version.id)
        ):
            if contains in text[revision.start : revision.end]:
                return revision.provision_id
    raise AssertionError(f"no provision containing {contains!r}")


def test_every_classification_quotes_the_archived_text(
    archive: Archive, populated: dict[str, int]
) -> None:
    report = analyse(archive)
    assert report.revisions == 7 and report.documents == 3
    with archive.sessions() as session:
        rows = session.execute(
            select(Classification, ProvisionRevision, Version)
            .join(ProvisionRevision, ProvisionRevision.id == Classification.revision_id)
            .join(Version, Version.id == ProvisionRevision.version_id)
        ).all()
        marked = session.scalar(select(func.count()).select_from(RevisionAnalysis))
    assert marked == 7
    assert rows
    for c, revision, version in rows:
        text = archive.version_text(version)[revision.start : revision.end]
        assert text[c.start : c.end] == c.supporting_text
    types = {c.type_id for c, _, _ in rows}
    assert {"arbitration", "limitation-of-liability", "data-sharing-sale"} <= types


def test_counts_agree_everywhere(archive: Archive, populated: dict[str, int]) -> None:
    analyse(archive)
    hub = clause_type_hub(archive, "arbitration")
    summary = {row["type"]: row for row in clause_type_summary(archive)}
    alpha = current_provision(archive, populated["alpha"], "binding arbitration")
    page = provision_analysis(archive, alpha)
    assert hub["rarity"]["label"] == "Found in 2 of 3 platforms (67%)"
    assert summary["arbitration"]["platforms"] == hub["rarity"]["platforms"] == 2
    assert page["rarity"]["platforms"] == 2 and page["rarity"]["monitored_platforms"] == 3
    assert page["rarity"]["provisions_on_other_platforms"] == 1
    assert [p["platform_slug"] for p in hub["platforms"]] == ["alpha", "beta"]
    assert summary["arbitration"]["provisions"] == sum(
        len(p["provisions"]) for p in hub["platforms"]
    )


def test_counts_follow_a_new_analysis_in_the_same_process(
    archive: Archive, populated: dict[str, int]
) -> None:
    """The rarity counts are kept per analysis state and looked at again only when the archive
    generation moved: a new version analysed in this process shows at once."""
    analyse(archive)
    before = {row["type"]: row for row in clause_type_summary(archive)}
    assert before["arbitration"]["platforms"] == 2
    assert {row["type"]: row for row in clause_type_summary(archive)} == before  # kept
    record(archive, populated["gamma"], body([*TEXTS["gamma"], ARBITRATION]), T0 + DAY)
    build(archive)
    analyse(archive)
    after = {row["type"]: row for row in clause_type_summary(archive)}
    assert after["arbitration"]["platforms"] == 3


def test_similar_wording_on_other_platforms(archive: Archive, populated: dict[str, int]) -> None:
    analyse(archive)
    alpha = current_provision(archive, populated["alpha"], "binding arbitration")
    beta = current_provision(archive, populated["beta"], "binding arbitration")
    page = provision_analysis(archive, alpha)
    assert page["primary_type"] == "arbitration" and page["severity"] == "High"
    assert page["unique_wording"] is False  # beta says nearly the same
    first = page["how_others_handle"][0]
    assert first["id"] == f"P-{beta:06d}" and first["platform"] == "Beta"
    assert first["similarity"] >= service.NEAR_DUPLICATE
    assert first["excerpt"] and first["excerpt"] in body(TEXTS["beta"])
    sale = provision_analysis(archive, current_provision(archive, populated["gamma"], "sell"))
    assert sale["unique_wording"] is True
    regulations = {(r["name"], r["jurisdiction"]) for r in page["regulations"]}
    assert any("Arbitration" in name for name, _ in regulations)


OPT_OUT = (
    "30-Day Right to Opt Out. You may opt out of this arbitration agreement by sending written "
    "notice of your decision to legal@gamma.example within 30 days of accepting these terms."
)


def test_an_opt_out_elsewhere_in_the_document_keeps_its_arbitration_below_high(
    archive: Archive, populated: dict[str, int]
) -> None:
    """The arbitration opt-out is read document-wide (classify/conventions.py): gamma's
    agreement, with its opt-out a section of its own, is Medium and says why; alpha's is High."""
    record(archive, populated["gamma"], body([*TEXTS["gamma"], ARBITRATION, OPT_OUT]), T0 + DAY)
    build(archive)
    analyse(archive)
    alpha = provision_analysis(
        archive, current_provision(archive, populated["alpha"], "binding arbitration")
    )
    gamma = provision_analysis(
        archive, current_provision(archive, populated["gamma"], "binding arbitration")
    )
    assert alpha["primary_type"] == gamma["primary_type"] == "arbitration"
    assert alpha["severity"] == "High" and gamma["severity"] == "Medium"
    opt_out = [r for r in gamma["severity_reasons"] if r.startswith(OPT_OUT_REASON)]
    assert opt_out == [f"{OPT_OUT_REASON} (\u201cYou may opt out of this arbitration agreement"
                       " by sending written notice of your decision to legal@gamma.example within"
                       " 30 days of accepting these terms.\u201d)"]  # fmt: skip
    assert gamma["severity_reasons"][-1] == "Assessed: Medium"


def test_compare_and_matrix(archive: Archive, populated: dict[str, int]) -> None:
    analyse(archive)
    result = compare(archive, "arbitration", ["alpha", "beta", "gamma"])
    cols = {c["platform_slug"]: c for c in result["platforms"]}
    assert cols["alpha"]["state"] == "mandatory" and cols["alpha"]["opt_out"] is False
    assert cols["beta"]["opt_out"] is True
    assert cols["gamma"]["state"] == "not detected" and cols["gamma"]["provisions"] == []
    assert cols["alpha"]["provisions"][0]["severity"] == "High"
    grid = matrix(archive, ["arbitration", "limitation-of-liability"])
    cells = {r["platform_slug"]: r["cells"] for r in grid["rows"]}
    assert cells["gamma"]["limitation-of-liability"]["state"] != "not detected"
    assert cells["alpha"]["limitation-of-liability"]["state"] == "not detected"
    with pytest.raises(ValueError, match="2 to 4 platforms"):
        compare(archive, "arbitration", ["alpha"])
    with pytest.raises(LookupError, match="unknown platform"):
        compare(archive, "arbitration", ["alpha", "nope"])
    with pytest.raises(LookupError, match="unknown clause type"):
        matrix(archive, ["no-such-type"])


def test_analysis_is_incremental(
    archive: Archive, populated: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    analyse(archive)
    again = analyse(archive)
    assert (again.revisions, again.documents, again.change_records) == (0, 0, 0)
    record(
        archive, populated["alpha"], body([CHANGES_7, ARBITRATION, TERMINATION, AI]), T0 + 40 * DAY
    )
    build(archive)
    step = analyse(archive)
    assert step.revisions == 2  # the edited notice clause and the new AI clause
    assert step.documents == 1 and step.change_records == 1
    # a taxonomy or model update: everything is due again, once
    monkeypatch.setattr(service, "analyser_fingerprint", lambda: "new-model")
    assert analyse(archive).revisions == 9
    assert analyse(archive).revisions == 0


def test_change_record_severity_and_direction(archive: Archive, populated: dict[str, int]) -> None:
    text = body([CHANGES_7, ARBITRATION, TERMINATION, DISCONTINUE])
    record(archive, populated["alpha"], text, T0 + 40 * DAY)
    build(archive)
    analyse(archive)
    with archive.sessions() as session:
        change = session.scalars(select(ChangeRecord)).one()
        items = {i.kind: i for i in change.items}
    assert change.direction == "less protective"
    # the service discontinued at any time, without notice, for any reason: High
    # (docs/annotation.md, severity)
    assert change.severity == "High"
    assert any("7 days" in reason for reason in change.assessment)
    assert items["added"].direction == "less protective"


def test_a_crash_leaves_no_half_analysis(
    archive: Archive, populated: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "BATCH", 3)
    real = service.classify_texts
    calls = {"n": 0}

    def flaky(texts, headings, contexts=None):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return real(texts, headings, contexts)

    monkeypatch.setattr(service, "classify_texts", flaky)
    with pytest.raises(RuntimeError):
        analyse(archive)
    with archive.sessions() as session:
        marked = set(session.scalars(select(RevisionAnalysis.revision_id)))
        classified = set(session.scalars(select(Classification.revision_id)))
    assert len(marked) == 3 and classified <= marked
    monkeypatch.setattr(service, "classify_texts", real)
    assert analyse(archive).revisions == 4


def test_unanalysed_provision_is_a_clear_error(archive: Archive, populated: dict[str, int]) -> None:
    alpha = current_provision(archive, populated["alpha"], "binding arbitration")
    with pytest.raises(NotAnalysed, match="run `clausewatch analyse`"):
        provision_analysis(archive, alpha)
    with pytest.raises(LookupError, match="no provision P-999999"):
        provision_analysis(archive, 999999)


def test_page_analysis_has_a_grounded_narrative(
    archive: Archive, populated: dict[str, int]
) -> None:
    analyse(archive)
    alpha = current_provision(archive, populated["alpha"], "without notice")
    page = provision_page_analysis(archive, alpha)
    narrative = page["narrative"]
    assert narrative["writer"] == "template"
    assert narrative["why_it_matters"] and narrative["consumer_impact"]
    for quote in narrative["quotes"]:
        assert quote in TERMINATION
    with archive.sessions() as session:
        rows = session.scalars(select(ProvisionAnalysis).where(ProvisionAnalysis.current)).all()
    assert len(rows) == 7


def test_llm_rephrasing_is_checked_and_asked_once(
    archive: Archive,
    populated: dict[str, int],
    llm: FakeLLM,  # noqa: F811 (the fixture)
) -> None:
    analyse(archive)
    alpha = current_provision(archive, populated["alpha"], "without notice")
    archive.settings = archive.settings.model_copy(
        update={"llm_url": llm.url, "llm_model": "test-model"}
    )

    def faithful(body: dict[str, Any]) -> tuple[int, str, float]:
        user = body["messages"][-1]["content"]
        reference = json.loads(user.split("(JSON):\n", 1)[1].split("\n\nPlatform:", 1)[0])
        reference["consumer_impact"] = "In plain words: " + reference["consumer_impact"]
        return 200, _completion(json.dumps(reference)), 0.0

    llm.reply = faithful
    page = provision_page_analysis(archive, alpha)
    assert page["narrative"]["writer"] == "llm:test-model"
    assert page["narrative"]["consumer_impact"].startswith("In plain words: ")
    assert provision_page_analysis(archive, alpha)["narrative"] == page["narrative"]
    assert len(llm.requests) == 1  # the second page view read the cache

    other = current_provision(archive, populated["alpha"], "binding arbitration")

    def inventive(body: dict[str, Any]) -> tuple[int, str, float]:
        status, text, delay = faithful(body)
        return status, text.replace("In plain words: ", "Within 45 days, "), delay

    llm.reply = inventive
    rejected = provision_page_analysis(archive, other)["narrative"]
    assert rejected["writer"] == "template"
    assert any("45" in reason for reason in rejected["rejected"])


def test_the_classifier_reads_the_document_type_before_the_heading_path() -> None:
    assert (
        service.classifier_context("Privacy Policy", ["Sharing", "Partners"])
        == "Privacy Policy › Sharing › Partners"
    )
    assert service.classifier_context(None, ["Sharing"]) == "Sharing"
    assert service.classifier_context(None, []) is None


CONDUCT = """## Your conduct

When you use the service, you agree that you must not:

- Create automated tools designed to compromise the security of our systems, networks or the accounts of other people.
- Send unsolicited commercial messages or spam to other users of the service, directly or through third parties.

We may share your personal information with:

| Recipient | Purpose |
|---|---|
| Advertising partners | To show you ads that match your interests on and off the service |
"""  # noqa: E501


def test_the_classifier_reads_each_list_items_lead_in_and_each_rows_header(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.sync_registry([platform_decl("delta")])
    doc = archive.documents()[0].id
    record(archive, doc, CONDUCT, T0)
    build(archive)
    seen: dict[str, str | None] = {}
    real = service.classify_texts

    def spy(texts, headings, contexts=None):  # type: ignore[no-untyped-def]
        seen.update(zip(texts, contexts or [None] * len(texts), strict=True))
        return real(texts, headings, contexts)

    monkeypatch.setattr(service, "classify_texts", spy)
    analyse(archive)
    lead = "When you use the service, you agree that you must not:"
    contexts = {text.split()[0]: context for text, context in seen.items()}
    assert contexts["Create"] == contexts["Send"] == lead
    assert contexts["|"] == "Recipient | Purpose"
    assert contexts["When"] is None
    # under "you must not:", the automated tools are a rule for users (alone, the item gets no
    # type; issue #10 saw such items typed as the provider's automated decisions, at High)
    automated = current_provision(archive, doc, "Create automated tools")
    analysis = provision_analysis(archive, automated)
    assert analysis["primary_type"] == "acceptable-use", analysis["classifications"]
