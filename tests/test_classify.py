"""Tests of the classify stage foundation: taxonomy, shipped classifier, evidence spans."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from clausewatch.classify.data import data_root, parse_tags
from clausewatch.classify.evaluate import lexglue_scores, prf
from clausewatch.classify.model import (
    ARRAYS_FILE,
    ARTIFACT_DIR,
    EXPLICIT,
    META_FILE,
    classify,
    default_classifier,
    sentence_spans,
    severity_of,
)
from clausewatch.classify.taxonomy import (
    CLAUDETTE_TAGS,
    TAXONOMY_PATH,
    TaxonomyError,
    default_taxonomy,
    parse_taxonomy,
)

DATA = data_root()
needs_data = pytest.mark.skipif(not (DATA / "tosdr").exists(), reason="../shared/data missing")


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TAXONOMY_PATH.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


# ------------------------------------------------------------------ taxonomy


def test_taxonomy_loads_with_all_groups_and_claudette_tags() -> None:
    tax = default_taxonomy()
    assert len(tax.types) >= 30
    assert {t.group for t in tax.types} == set(tax.groups)
    assert len(tax.groups) == 9
    for tag in CLAUDETTE_TAGS:
        assert tax.types_for_claudette(tag), f"CLAUDETTE tag {tag} not mapped"
    assert "boilerplate" in tax.by_id
    assert not any("unknown" in t.id for t in tax.types)
    for t in tax.types:
        assert t.triggers, t.id
        assert t.id == "boilerplate" or t.regulations, t.id


def test_taxonomy_names_the_required_types() -> None:
    required = {
        "arbitration", "class-action-waiver", "limitation-of-liability", "indemnification",
        "governing-law", "jurisdiction-venue", "unilateral-change", "unilateral-termination",
        "content-removal", "contract-by-using", "data-collection", "data-sharing-sale",
        "data-retention", "user-data-rights", "ai-training-on-user-data",
        "automated-decision-making", "tracking-cookies", "childrens-data",
        "international-transfers", "license-to-user-content", "fees-auto-renewal", "refunds",
        "account-suspension", "law-enforcement-access", "policy-change-notice", "boilerplate",
    }  # fmt: skip
    assert required <= set(default_taxonomy().ids)


@needs_data
def test_tosdr_case_mappings_exist_in_the_data() -> None:
    lines = (DATA / "tosdr" / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    cases = {json.loads(line)["case"].strip() for line in lines}
    missing = [c for c in default_taxonomy().tosdr_case_map() if c not in cases]
    assert not missing


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["types"][3].__setitem__("severity", "Huge"), "types[3].severity"),
        (lambda d: d["types"][0].pop("description"), "types[0].description"),
        (lambda d: d["types"][2].__setitem__("group", "nope"), "types[2].group"),
        (lambda d: d["types"][1]["triggers"].append("(unclosed"), "types[1].triggers["),
        (lambda d: d["types"][4].__setitem__("id", d["types"][0]["id"]), "types[4].id"),
        (lambda d: d["types"][0]["modifiers"][0].__setitem__("effect", "x"), ".effect"),
        (lambda d: d["types"][0]["datasets"].__setitem__("claudette", ["zz"]), ".claudette"),
        (lambda d: d["types"][5]["regulations"][0].pop("article"), "regulations[0].article"),
    ],
)
def test_bad_taxonomy_error_names_the_field(mutate: Any, field: str) -> None:
    data = _raw()
    mutate(data)
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(data)
    assert field in str(err.value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["types"][3].pop("narrative"), "types[3].narrative: missing"),
        (lambda d: d["types"][3]["narrative"].pop("why"), "types[3].narrative.why: missing"),
        (lambda d: d["types"][2]["narrative"].__setitem__("impact", " "), "narrative.impact"),
        (lambda d: d["types"][1]["narrative"].__setitem__("actions", []), "narrative.actions"),
        (lambda d: d["types"][1]["narrative"].__setitem__("actions", ["a"] * 4), ".actions"),
        (lambda d: d["types"][1]["narrative"]["actions"].append(7), "narrative.actions[2]"),
        (lambda d: d["types"][0]["narrative"].__setitem__("why", 'Says "x".'), "narrative.why"),
        (lambda d: d["types"][4].pop("matrix"), "types[4].matrix: missing"),
        (lambda d: d["types"][4]["matrix"].pop("present"), "types[4].matrix.present"),
        (lambda d: d["types"][4]["matrix"].__setitem__("absent", "absent"), "matrix.absent"),
        (lambda d: d["types"][0]["matrix"]["states"].append({"label": "x", "pattern": "(x"}),
         "types[0].matrix.states[2].pattern"),
        (lambda d: d["types"][0]["matrix"]["states"].append({"pattern": "x"}),
         "types[0].matrix.states[2].label"),
        (lambda d: d["types"][0]["matrix"]["states"].append({"label": "present", "pattern": "x"}),
         "types[0].matrix.states[2].label"),
    ],
)  # fmt: skip
def test_bad_narrative_or_matrix_error_names_the_field(mutate: Any, field: str) -> None:
    data = _raw()
    mutate(data)
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(data)
    assert field in str(err.value)


def test_every_type_has_a_general_narrative_and_matrix_states() -> None:
    tax = default_taxonomy()
    assert len(tax.types) == 40
    for t in tax.types:
        assert t.narrative.why.startswith("Clauses of this type"), t.id
        assert t.narrative.impact and 1 <= len(t.narrative.actions) <= 3, t.id
        assert t.matrix.present and t.matrix.absent == "not detected", t.id
        labels = [s.label for s in t.matrix.states]
        assert len(set(labels)) == len(labels), t.id
    assert tax.by_id["ai-training-on-user-data"].matrix.present == "disclosed"


def test_matrix_state_first_matching_state_wins() -> None:
    arbitration = default_taxonomy().by_id["arbitration"]
    assert arbitration.matrix_state("Disputes SHALL BE RESOLVED by arbitration.") == "mandatory"
    assert arbitration.matrix_state("Binding arbitration; you may opt out.") == "opt-out offered"
    assert arbitration.matrix_state("We may use arbitration.") == "present"
    ai = default_taxonomy().by_id["ai-training-on-user-data"]
    assert ai.matrix_state("We do not use your data to train our models.") == "not used"
    assert ai.matrix_state("We use your chats to train models.") == "disclosed"


def test_clause_type_built_in_code_gets_default_narrative_and_matrix() -> None:
    from clausewatch.classify.taxonomy import ClauseType

    t = ClauseType("x", "X", "general", "d", "Low", (), (), ())
    assert t.narrative.actions == () and t.matrix.absent == "not detected"
    assert t.matrix_state("anything") == "present"


def test_unused_group_is_an_error() -> None:
    data = _raw()
    data["groups"]["spare"] = "Spare"
    with pytest.raises(TaxonomyError, match="groups"):
        parse_taxonomy(data)


# ------------------------------------------------------------------ helpers


def test_parse_tags_keeps_highest_level() -> None:
    assert parse_tags("j3 law2 countrym") == {"j": 3, "law": 2}
    assert parse_tags("") == {}


def test_lexglue_none_column() -> None:
    import numpy as np

    gold = np.array([[True, False], [False, False]])
    pred = np.array([[True, False], [False, True]])
    scores = lexglue_scores(gold, pred)
    assert 0 < scores["macro_f1_with_none"] < 1
    assert prf(gold[:, 0], pred[:, 0]) == (1.0, 1.0, 1.0)


def test_sentence_spans_are_trimmed_substrings() -> None:
    text = "  First sentence.  Second one; third\nfourth  "
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["First sentence.", "Second one;", "third", "fourth"]


def test_severity_modifiers_raise_and_lower() -> None:
    tax = default_taxonomy()
    ter = tax.by_id["unilateral-termination"]
    sev, reasons = severity_of(ter, "We may terminate your account at any time for any reason.")
    assert sev == "High" and len(reasons) == 3
    ai = tax.by_id["ai-training-on-user-data"]
    sev, reasons = severity_of(ai, "We may use your chats to train our models; you can opt out.")
    assert sev == "Medium" and "opt-out" in reasons[1]


# ------------------------------------------------------------------ shipped classifier


def test_artifact_is_small() -> None:
    size = (ARTIFACT_DIR / ARRAYS_FILE).stat().st_size + (ARTIFACT_DIR / META_FILE).stat().st_size
    assert size < 5 * 1024 * 1024


REAL = [  # real sentences: CLAUDETTE (Dropbox), ToS;DR quotes, AI-service policies
    ("By using our Services, you’re agreeing to be bound by these Terms, our Privacy Policy, "
     "and Acceptable Use Policy.", "contract-by-using"),
    ("We reserve the right to delete or disable content alleged to be infringing and terminate "
     "accounts of repeat infringers.", "content-removal"),
    ("IN COUNTRIES WHERE EXCLUSIONS OR LIMITATIONS OF LIABILITY ARE ALLOWED, DROPBOX, ITS "
     "AFFILIATES, SUPPLIERS OR DISTRIBUTORS WON’T BE LIABLE FOR: i. ANY INDIRECT, SPECIAL, "
     "INCIDENTAL, PUNITIVE, EXEMPLARY, OR CONSEQUENTIAL DAMAGES", "limitation-of-liability"),
    ("YOU AGREE THAT YOU MAY BRING CLAIMS ONLY IN YOUR INDIVIDUAL CAPACITY AND NOT AS A "
     "PLAINTIFF OR CLASS MEMBER IN ANY PURPORTED CLASS OR REPRESENTATIVE ACTION.",
     "class-action-waiver"),
    ("Fees are non-refundable, even for posts we remove, delay, omit, re-categorize, re-rank, "
     "or otherwise moderate.", "refunds"),
    ("As noted above, we may use Content you provide us to improve our Services, for example "
     "to train the models that power ChatGPT.", "ai-training-on-user-data"),
    ("You have the right to not be subject to an automated decision (including profiling) and "
     "to appeal such a decision.", "automated-decision-making"),
    ("These Terms will be governed by the laws of the State of California.", "governing-law"),
    ("You agree to indemnify and hold harmless Khan Academy from any claims.", "indemnification"),
    ("Last updated on 11 August, 2021.", "boilerplate"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), REAL)
def test_classify_real_sentences(text: str, expected: str) -> None:
    preds = classify(text)
    assert expected in {p.type_id for p in preds}, [(p.type_id, p.confidence) for p in preds]


def test_prediction_fields_and_exact_support() -> None:
    text = (
        "Welcome to Acme.\n  We may suspend or terminate your account at any time, without "
        "notice, at our sole discretion.   Questions? Contact us at help@acme.test."
    )
    preds = classify(text, heading="Termination")
    ter = next(p for p in preds if p.type_id == "unilateral-termination")
    assert ter.evidence_basis == EXPLICIT and ter.severity == "High"
    assert 0.0 <= ter.confidence <= 1.0
    assert ter.supporting_text.startswith("We may suspend or terminate")
    for p in preds:
        assert text[p.start : p.end] == p.supporting_text and p.supporting_text.strip()
        assert p.severity in ("High", "Medium", "Low") and p.severity_reasons


@needs_data
def test_supporting_text_is_always_exact_on_real_documents() -> None:
    sentences = (DATA / "claudette" / "sentences" / "Dropbox.txt").read_text(encoding="utf-8")
    lines = [ln for ln in sentences.splitlines() if ln.strip()]
    texts = [" ".join(lines[i : i + 3]) for i in range(0, len(lines), 3)]
    clf = default_classifier()
    for text, preds in zip(texts, clf.classify_many(texts), strict=True):
        for p in preds:
            assert text[p.start : p.end] == p.supporting_text


@needs_data
def test_claudette_training_sentences_are_recovered() -> None:
    base = DATA / "claudette"
    sents = (base / "sentences" / "Booking.txt").read_text(encoding="utf-8").split("\n")
    tags = (base / "tags" / "Booking.txt").read_text(encoding="utf-8").split("\n")
    tax = default_taxonomy()
    pairs = [(s, parse_tags(t)) for s, t in zip(sents, tags, strict=False) if parse_tags(t)]
    clf = default_classifier()
    preds = clf.classify_many([s for s, _ in pairs])
    hits = sum(
        any(t in {p.type_id for p in pr} for tag in tg for t in tax.types_for_claudette(tag))
        for (_, tg), pr in zip(pairs, preds, strict=True)
    )
    assert hits / len(pairs) >= 0.8


def test_heading_words_are_a_context_feature() -> None:
    clf = default_classifier()
    assert clf.featurizer.head is not None
    text = "We will not be responsible for any loss you suffer."
    bare = clf.margins([text])
    headed = clf.margins([text], ["Disclaimer of Warranties; Limitation of Liability"])
    assert bare.shape == headed.shape
    moved = {t for j, t in enumerate(clf.type_ids) if abs(headed[0, j] - bare[0, j]) > 1e-6}
    tax = default_taxonomy()
    assert moved and all(tax.by_id[t].claudette for t in moved)  # ToS;DR-only types: text only
    ltd = clf.type_ids.index("limitation-of-liability")
    assert headed[0, ltd] > bare[0, ltd]


@needs_data
def test_claudette_headings_come_from_the_text_above() -> None:
    from clausewatch.classify.data import is_heading, load_claudette

    samples = [s for s in load_claudette(default_taxonomy()) if s.group == "Dropbox"]
    assert any(s.heading for s in samples)
    for prev, cur in itertools.pairwise(samples):
        assert cur.heading == (prev.text if is_heading(prev.text) else prev.heading)


def test_empty_text_gives_nothing() -> None:
    assert classify("   ") == []


def test_artifact_matches_taxonomy() -> None:
    clf = default_classifier()
    assert set(clf.type_ids) | set(clf.rule_only) == set(default_taxonomy().ids)
    assert Path(ARTIFACT_DIR / META_FILE).exists()


def test_ai_training_rule_ignores_competing_model_restriction() -> None:
    text = "Using Output to develop models that compete with OpenAI."  # ChatGPT terms
    assert "ai-training-on-user-data" not in {p.type_id for p in classify(text)}
    preds = classify("By default, we do not use your business data for training our models.")
    ai = next(p for p in preds if p.type_id == "ai-training-on-user-data")
    assert ai.severity == "Medium" and ai.evidence_basis == EXPLICIT
