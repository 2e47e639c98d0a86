"""Grounded provision narratives on real provision texts, and the grounding check."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import pytest

from clausewatch.analysis.narrative import (
    NOT_MATCHED,
    Narrative,
    NarrativeInput,
    check_grounded,
    narrate,
    quoted_fragments,
)
from clausewatch.changes.parameters import extract_parameters
from clausewatch.classify.severity import severity_of
from clausewatch.classify.taxonomy import default_taxonomy

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CLAUDETTE = SHARED_DATA / "claudette"
EXTRACTION = SHARED_DATA / "extraction"
needs_data = pytest.mark.skipif(not CLAUDETTE.exists(), reason="../shared/data missing")
TAX = default_taxonomy()


def _input(
    text: str,
    type_ids: list[str],
    platform: str = "Acme",
    document: str = "Acme Terms of Service",
    title: str = "Section 12",
    **rarity: int,
) -> NarrativeInput:
    severity, reasons = severity_of(TAX.by_id[type_ids[0]], text) if type_ids else (None, ())
    return NarrativeInput(
        platform, document, title, text, tuple(type_ids), severity, reasons, **rarity
    )


def _triggered(text: str) -> list[str]:
    return [t.id for t in TAX.types if any(p.search(text) for p in t.triggers)]


@lru_cache(maxsize=1)
def _claudette() -> list[tuple[str, str, list[str]]]:
    """(company, sentence, clause types from its CLAUDETTE tags) for every tagged sentence,
    and every 25th untagged one with no type."""
    out = []
    for path in sorted((CLAUDETTE / "sentences").glob("*.txt")):
        sentences = path.read_text(encoding="utf-8").splitlines()
        tags = (CLAUDETTE / "tags" / path.name).read_text(encoding="utf-8").splitlines()
        for i, (sentence, tag_line) in enumerate(zip(sentences, tags, strict=False)):
            if not sentence.strip():
                continue
            types: list[str] = []
            for tag in tag_line.split():
                for type_id in TAX.types_for_claudette(re.sub(r"\d+$", "", tag)):
                    if type_id not in types:
                        types.append(type_id)
            if types or i % 25 == 0:
                out.append((path.stem, sentence, types))
    return out


@lru_cache(maxsize=1)
def _ai_paragraphs() -> list[tuple[str, str, list[str]]]:
    """Real AI-service policy paragraphs, typed by the taxonomy's trigger rules."""
    out = []
    for path in sorted(EXTRACTION.glob("*/*/expected.md")):
        service = path.parent.parent.name
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            types = _triggered(para)
            if "ai-training-on-user-data" in types or "ai-generated-output" in types:
                types.sort(key=lambda t: not t.startswith("ai-"))
                out.append((service, para.strip(), types))
    return out


def _assert_grounded(inp: NarrativeInput, n: Narrative) -> None:
    full = n.full_text()
    for quote in n.quotes:
        assert quote in inp.text, quote
        assert f"“{quote}”" in full, quote
    for fragment in quoted_fragments(full):
        assert fragment in inp.text, fragment
    unquoted = re.sub(r"“[^”]*”", "", full)
    assert "None" not in unquoted and "{" not in unquoted and "}" not in unquoted, full
    assert n.what_it_is and n.why_it_matters and n.consumer_impact and n.what_you_can_do
    assert n.faq[-1][0] == f"Is clausewatch affiliated with {inp.platform}?"
    assert n.faq[-1][1].startswith("No. clausewatch is an independent monitor")
    assert check_grounded(n, inp, n) == []


# ------------------------------------------------------------------ real texts


@needs_data
def test_claudette_sentences_get_grounded_narratives() -> None:
    rows = _claudette()
    assert len(rows) > 1000
    typed = 0
    for company, sentence, types in rows:
        inp = _input(sentence, types, platform=company, document=f"{company} Terms")
        n = narrate(inp)
        _assert_grounded(inp, n)
        if not types:
            assert NOT_MATCHED in n.why_it_matters
            assert "classified it as" not in n.what_it_is
            continue
        typed += 1
        primary = TAX.by_id[types[0]]
        assert primary.narrative.why in n.why_it_matters
        impact = primary.narrative.impact  # after "X states that it does not do this" if negated
        assert impact in n.consumer_impact or impact[0].lower() + impact[1:] in n.consumer_impact
        assert set(primary.narrative.actions) <= set(n.what_you_can_do)
        assert f"{inp.severity} severity" in n.what_it_is
        for other in types[1:]:
            assert TAX.by_id[other].name.replace('"', "") in n.what_it_is
        for reason in inp.severity_reasons[1:]:
            if not reason.startswith(("raises", "lowers")):
                continue  # "Assessed: …", the negation and CLAUDETTE lines quote nothing
            words = reason.rsplit("(“", 1)[1].removesuffix("”)")  # the words may end in ")"
            assert f"“{words}”" in n.why_it_matters, (reason, n.why_it_matters)
    assert typed > 700


@needs_data
def test_claudette_parameters_are_quoted_and_stated() -> None:
    seen = 0
    for company, sentence, types in _claudette():
        if not types:
            continue
        params = [p for p in extract_parameters(sentence) if '"' not in p.quote]
        if not params:
            continue
        n = narrate(_input(sentence, types, platform=company))
        first = params[0]
        assert first.value in n.consumer_impact, (sentence, n.consumer_impact)
        assert f"“{first.quote}”" in n.consumer_impact
        assert first.quote in n.quotes
        seen += 1
    assert seen >= 20


@needs_data
def test_real_ai_policy_paragraphs_get_grounded_narratives() -> None:
    rows = _ai_paragraphs()
    assert len(rows) >= 20
    services = set()
    for service, para, types in rows:
        inp = _input(para, types, platform=service, document=f"{service} Privacy Policy")
        n = narrate(inp)
        _assert_grounded(inp, n)
        assert TAX.by_id[types[0]].name in n.what_it_is
        assert n.quotes and n.quotes[0] in para
        services.add(service)
    assert len(services) >= 3


@needs_data
def test_ai_training_opt_out_in_the_text_becomes_a_quoted_action() -> None:
    rows = [r for r in _ai_paragraphs() if re.search(r"\bopt[- ]?out\b", r[1], re.I)]
    assert rows
    for service, para, types in rows:
        n = narrate(_input(para, types, platform=service))
        action = [a for a in n.what_you_can_do if a.startswith("Read what the text says about opt")]
        assert action, n.what_you_can_do
        assert quoted_fragments(action[0])[0] in para


# ------------------------------------------------------------------ the template in detail

ARBITRATION = (
    "You and Acme agree that any dispute will be resolved by final and binding arbitration "
    "administered by the American Arbitration Association. You may opt out of this arbitration "
    "agreement within 30 days of accepting these terms by sending notice to legal@acme.example."
)


def test_arbitration_narrative_quotes_parameters_modifiers_and_rarity() -> None:
    inp = _input(
        ARBITRATION,
        ["arbitration", "class-action-waiver"],
        platforms_with_type=12,
        monitored_platforms=26,
    )
    n = narrate(inp)
    _assert_grounded(inp, n)
    assert n.writer == "template" and n.rejected == ()
    assert n.what_it_is.startswith("Section 12 is a provision of the Acme Terms of Service.")
    assert "Mandatory arbitration" in n.what_it_is and "Class-action waiver" in n.what_it_is
    assert "“final and binding”" in n.why_it_matters
    assert "“opt out of this arbitration”" in n.why_it_matters
    assert "arbitration body: AAA (“American Arbitration Association”)" in n.consumer_impact
    assert "arbitration opt-out deadline: 30 days" in n.consumer_impact
    assert any(a.startswith("Note the arbitration opt-out deadline") for a in n.what_you_can_do)
    assert any("legal@acme.example" in a for a in n.what_you_can_do)
    questions = [q for q, _ in n.faq]
    assert questions == [
        "What does Acme's Section 12 clause do?",
        "How does this clause affect you?",
        "How common is this clause?",
        "Is clausewatch affiliated with Acme?",
    ]
    assert dict(n.faq)["How common is this clause?"].startswith(
        "Found in 12 of 26 monitored platforms (46%)"
    )


def test_rarity_question_only_with_counts() -> None:
    n = narrate(_input(ARBITRATION, ["arbitration"]))
    assert "How common is this clause?" not in dict(n.faq)
    n = narrate(
        _input(ARBITRATION, ["arbitration"], platforms_with_type=1, monitored_platforms=343)
    )
    assert "(0.3%)" in dict(n.faq)["How common is this clause?"]


def test_severity_unchanged_by_the_text_says_so() -> None:
    n = narrate(_input("Section 4 sets out the fees for the Pro plan.", ["fees-auto-renewal"]))
    assert "Severity: Medium, the default for Fees, billing and automatic renewal" in (
        n.why_it_matters
    )
    assert "nothing in the text moved it" in n.why_it_matters


def test_boilerplate_and_untyped_provisions_get_the_honest_text() -> None:
    for types in (["boilerplate"], []):
        inp = _input("Last updated: 5 January 2024", types, title="")
        n = narrate(inp)
        _assert_grounded(inp, n)
        assert n.why_it_matters.startswith(NOT_MATCHED)
        assert "not a finding that it has none" in n.consumer_impact
        assert "severity" not in n.full_text().lower()
        assert n.what_it_is.startswith("This provision is part of the Acme Terms of Service.")
        assert ("Boilerplate" in n.what_it_is) == bool(types)
        assert n.faq[0][0] == "What does this Acme provision do?"


def test_long_and_quote_laden_texts_are_quoted_exactly() -> None:
    text = (
        "“Content” means anything you post. "
        + "We may remove Content for any reason " * 20
        + 'including "spam", and we may do so without notice.\nA second line.'
    )
    inp = _input(text, ["content-removal"])
    n = narrate(inp)
    _assert_grounded(inp, n)
    assert all(len(q) <= 220 for q in n.quotes)
    assert "It reads in part:" in n.what_it_is


def test_unknown_type_ids_and_odd_names_do_not_leak() -> None:
    inp = replace(
        _input("We use cookies.", ["tracking-cookies"]),
        type_ids=("no-such-type", "tracking-cookies"),
        platform='"Quoted" Co',
        title="",
    )
    n = narrate(inp)
    assert "no-such-type" not in n.full_text()
    assert check_grounded(n, inp, n) == []


# ------------------------------------------------------------------ check_grounded


def _reference() -> tuple[NarrativeInput, Narrative]:
    inp = _input(ARBITRATION, ["arbitration"])
    return inp, narrate(inp)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda n: replace(n, consumer_impact=n.consumer_impact + " Act within 45 days."),
         "consumer_impact: states “45”"),
        (lambda n: replace(n, consumer_impact=n.consumer_impact + " Costs rose 17% in 2023."),
         "“17”, “2023”"),
        (lambda n: replace(n, why_it_matters=n.why_it_matters + " Act within ninety days."),
         "why_it_matters: states “ninety days”"),
        (lambda n: replace(n, what_it_is=n.what_it_is + " It says “all claims are void”."),
         "what_it_is: quotes “all claims are void”"),
        (lambda n: replace(n, what_it_is=n.what_it_is + ' It says "class actions".'),
         "quotes “class actions”"),
        (lambda n: replace(n, why_it_matters=n.why_it_matters + " It is run by Microsoft."),
         "why_it_matters: names “Microsoft”"),
        (lambda n: replace(n, why_it_matters=n.why_it_matters + " JAMS may apply."),
         "names “JAMS”"),
        (lambda n: replace(n, why_it_matters=""), "why_it_matters: empty"),
        (lambda n: replace(n, what_you_can_do=()), "what_you_can_do: empty"),
        (lambda n: replace(n, faq=n.faq[:1]), "faq: 1 questions"),
        # the reference is Medium: its arbitration agreement has an opt-out (conventions.py)
        (lambda n: replace(n, what_it_is=n.what_it_is.replace("Medium", "Low")), "severity"),
        (lambda n: replace(n, what_it_is=n.what_it_is.replace("Medium severity", "severe"),
                           why_it_matters=n.why_it_matters.replace("Severity: Medium;", "It is")),
         "severity: the reference states “Medium”; dropped"),
        (lambda n: replace(n, consumer_impact=n.consumer_impact + " Really." * 600), "length:"),
        (lambda n: replace(n, quotes=(*n.quotes, "not in the text")), "quotes: “not in"),
    ],
)  # fmt: skip
def test_check_grounded_rejects(change: object, expected: str) -> None:
    inp, reference = _reference()
    problems = check_grounded(change(reference), inp, reference)  # type: ignore[operator]
    assert any(expected in p for p in problems), problems


def test_check_grounded_accepts_rephrasing_and_ellipsis_quotes() -> None:
    inp, reference = _reference()
    rephrased = replace(
        reference,
        consumer_impact="Where such a clause applies, a private arbitrator decides. It says "
        "“final and binding … American Arbitration Association”; that body is the AAA.",
        what_you_can_do=("Opt out within the 30 days the text gives.",),
    )
    assert check_grounded(rephrased, inp, reference) == []


def test_a_negated_practice_is_explained_as_such() -> None:
    inp = _input("We do not sell your personal data.", ["data-sharing-sale"], platform="Bluesky")
    n = narrate(inp)
    assert inp.severity == "Low"
    assert "Severity: Low: Bluesky states that it does not do this." in n.why_it_matters
    assert n.consumer_impact.startswith("Bluesky states that it does not do this.")
    _assert_grounded(inp, n)


def test_a_carve_out_is_not_told_as_a_limit() -> None:
    """A liability carve-out (Low by the conventions) does not get the type's impact as its own:
    it limits nothing (after Twitch's carve-out in the gold set)."""
    text = (
        "Notwithstanding the foregoing, nothing in these Terms shall restrict our liability for "
        "death or personal injury resulting from our negligence or for fraud."
    )
    inp = _input(text, ["limitation-of-liability"], platform="Twitch")
    n = narrate(inp)
    assert inp.severity == "Low"
    assert n.consumer_impact.startswith(
        "This text keeps liability or rights that the law does not let Twitch exclude; "
        "it limits nothing itself."
    )
    _assert_grounded(inp, n)


def test_the_claudette_comparison_is_stated_in_plain_words() -> None:
    reasons = (
        "Default for Mandatory arbitration: High",
        "Compared with CLAUDETTE's annotated clauses: 86% likely unfair, 26% clearly unfair",
        "Assessed: Medium",
    )
    text = "Any dispute will be resolved by binding arbitration."
    inp = NarrativeInput(
        "Acme", "Acme Terms", "Disputes", text, ("arbitration",), "Medium", reasons
    )
    n = narrate(inp)
    assert (
        "Compared with clauses legal experts annotated in the CLAUDETTE corpus: 86% likely "
        "unfair, 26% clearly unfair." in n.why_it_matters
    )


def _read_quote(n: Narrative) -> str:
    found = re.search(r"It reads(?: in part)?: “([^”]*)”", n.what_it_is)
    assert found, n.what_it_is
    return found.group(1)


@needs_data
def test_a_term_in_quotes_is_not_quoted_alone() -> None:
    """Grok's Do Not Track sentence: the trigger sits inside "Do Not Track", a run between
    double quotes; the quote is the sentence's longest run, not the three quoted words."""
    expected = (EXTRACTION / "Grok" / "Privacy Policy" / "expected.md").read_text(encoding="utf-8")
    line = next(x for x in expected.splitlines() if x.startswith("Do Not Track:"))
    text = line[line.index("Please note") :]  # starts inside the sentence: "Do Not Track" first
    inp = _input(text, ["tracking-cookies"], platform="Grok", document="Grok Privacy Policy")
    n = narrate(inp)
    _assert_grounded(inp, n)
    quote = _read_quote(n)
    assert len(quote.split()) >= 5 and quote != "Do Not Track", quote
    assert "we do not alter our privacy practices" in quote


def test_a_heading_that_ends_with_a_full_stop_does_not_end_the_first_sentence() -> None:
    inp = _input(ARBITRATION, ["arbitration"], title="11. Limitation of Liability.")
    n = narrate(inp)
    assert n.what_it_is.startswith("11. Limitation of Liability is a provision of the Acme"), (
        n.what_it_is
    )


def test_an_opt_out_read_elsewhere_in_the_document_is_said() -> None:
    """The document-wide opt-out (classify/conventions.py) quotes another provision: the
    narrative says it lowers the severity without quoting words that are not in this one."""
    from clausewatch.classify.conventions import OPT_OUT_REASON

    text = "All disputes will be finally settled through binding arbitration under the LCIA Rules."
    elsewhere = f"{OPT_OUT_REASON} (\u201cyou have the right to opt out of arbitration.\u201d)"
    inp = replace(
        _input(text, ["arbitration"], platform="Snapchat", document="Snapchat Terms of Service"),
        severity="Medium",
        severity_reasons=("Default for Mandatory arbitration: High", elsewhere, "Assessed: Medium"),
    )
    n = narrate(inp)
    _assert_grounded(inp, n)
    assert (
        "Elsewhere, the Snapchat Terms of Service lets users opt out of its arbitration "
        "agreement, which lowers the severity." in n.why_it_matters
    )
    assert "right to opt out" not in n.full_text()
