"""The severity conventions of classify/conventions.py on real provisions of the gold set: which
sentences count as an opt-out from an arbitration agreement (read document-wide), which change
clauses give notice, and what the conventions lower."""

from __future__ import annotations

from functools import lru_cache

import pytest

from clausewatch.classify.conventions import (
    CARVE_OUT_REASON,
    NOTICE_REASON,
    OPT_OUT_REASON,
    apply_conventions,
    arbitration_opt_out,
    carve_out,
    high_cap,
    lower_for_opt_out,
    stated_notice,
)
from clausewatch.classify.data import GoldProvision, load_gold
from clausewatch.classify.model import Prediction
from clausewatch.classify.severity import NEGATED_REASON, severity_of
from clausewatch.classify.taxonomy import default_taxonomy

TAX = default_taxonomy()


@lru_cache(maxsize=1)
def _gold() -> dict[str, GoldProvision]:
    return {g.id: g for g in load_gold()}


def _passage(gold_id: str) -> tuple[str, str]:
    g = _gold()[gold_id]
    return g.heading, g.text


@pytest.mark.parametrize(
    ("gold_id", "words"),
    [
        (
            "G-ff7de2ad31",
            "You have the right to opt-out and not be bound by the arbitration",
        ),  # Quora
        ("G-7b6297feb1", "You have the right to opt-out and not be bound"),  # Perplexity 9.6
        ("G-218b172036", "If you wish to opt out and not be bound by these arbitration"),  # X
        ("G-f09748209a", "You may opt out of this arbitration agreement"),  # Upscrolled
    ],
)
def test_an_opt_out_from_the_agreement_is_found(gold_id: str, words: str) -> None:
    heading, text = _passage(gold_id)
    found = arbitration_opt_out([(heading, text)])
    assert found is not None and words in found
    assert found in text  # quoted as is


def _gold_passage(platform: str, contains: str) -> tuple[str, str]:
    g = next(g for g in _gold().values() if g.platform == platform and contains in g.text)
    return g.heading, g.text


@pytest.mark.parametrize(
    ("platform", "contains"),
    [
        # an opt-out from the modifications to an earlier agreement only
        ("WeChat", "you may opt out of the modifications to your prior arbitration agreement"),
        # "explains how you can opt out of this arbitration agreement in some circumstances"
        ("WeChat", "in some circumstances"),
        # Spotify's "Option One" leaves a mass arbitration only (heading "Mass arbitration")
        ("Spotify", "Option One: You may opt out of arbitration"),
        # an opt-out from changes to the terms, not from arbitration
        ("Spotify", "decision to opt out of those changes"),
    ],
)
def test_a_partial_opt_out_does_not_count(platform: str, contains: str) -> None:
    assert arbitration_opt_out([_gold_passage(platform, contains)]) is None


def _prediction(type_id: str, severity: str, *reasons: str) -> Prediction:
    text = "All disputes shall be resolved by binding arbitration."
    return Prediction(
        type_id, 0.9, 0.9, severity, (f"Default for X: {severity}", *reasons),
        "explicit language", text, 0, len(text),
    )  # fmt: skip


def test_only_a_high_arbitration_is_lowered_and_the_reason_quotes_the_opt_out() -> None:
    opt_out = "You may opt out of this arbitration agreement by sending written notice."
    high = _prediction("arbitration", "High", "Assessed: High")
    others = [
        _prediction("arbitration", "Medium"),
        _prediction("class-action-waiver", "High"),
        _prediction("arbitration", "Low", NEGATED_REASON),
    ]
    lowered, *rest = lower_for_opt_out([high, *others], opt_out)
    assert lowered.severity == "Medium"
    assert lowered.severity_reasons[-2] == f"{OPT_OUT_REASON} (\u201c{opt_out}\u201d)"
    assert lowered.severity_reasons[-1] == "Assessed: Medium"
    assert "Assessed: High" not in lowered.severity_reasons
    assert rest == others
    assert lower_for_opt_out([high], None) == [high]


@pytest.mark.parametrize(
    ("platform", "contains", "words"),
    [
        ("TikTok", "TikTok will endeavor to provide notice", "provide notice"),
        ("Reddit", "If we make changes, we will post the revised Terms", "notify you"),
        ("Quora", "12.1 Changes to these Terms of Service", None),  # checked below: some notice
    ],
)
def test_a_change_clause_that_gives_notice_is_not_high(
    platform: str, contains: str, words: str | None
) -> None:
    _, text = _gold_passage(platform, contains)
    found = stated_notice(text)
    assert found is not None and found in text
    if words:
        assert found == words
    cap = high_cap("unilateral-change", text)
    assert cap == f"{NOTICE_REASON} (\u201c{found}\u201d)"


@pytest.mark.parametrize(
    ("platform", "contains"),
    [
        # notice denied: "we may not provide you with any notice beforehand"
        ("Snapchat", "We’re relentlessly improving our Services"),
        # changes posted, the user to make themselves aware: no notice
        ("Parler", "Parler may modify the Terms of this Agreement in any way"),
        ("Twitch", "Twitch reserves the right to change, modify, add, or remove portions of this"),
    ],
)
def test_no_notice_is_no_notice(platform: str, contains: str) -> None:
    _, text = _gold_passage(platform, contains)
    assert stated_notice(text) is None
    assert high_cap("unilateral-change", text) is None


def test_notice_denied_after_a_few_words_is_no_notice() -> None:
    """Snapchat's "without your prior consent or prior notice to you" (pga history)."""
    text = (
        "We may freely sub-contract any part of our performance of these Terms at any time, "
        "without your prior consent or prior notice to you."
    )
    assert stated_notice(text) is None


def test_the_rule_alone_applies_the_conventions() -> None:
    """severity_of (comparing two versions) reads the same conventions as the model."""
    change = TAX.by_id["unilateral-change"]
    silent = "We may change these Terms at any time."
    told = "We may change these Terms at any time. We will notify you 30 days before they apply."
    assert severity_of(change, silent)[0] == "High"
    level, why = severity_of(change, told)
    assert level == "Medium" and why[-1] == "Assessed: Medium"
    assert f"{NOTICE_REASON} (\u201cnotify you\u201d)" in why


@pytest.mark.parametrize(
    ("platform", "contains"),
    [
        ("Snapchat", "shall exclude or limit Snap’s, Snap Inc.’s or our affilia"),
        ("Twitch", "nothing in these Terms shall restrict our liability for death"),
        ("Le Chat", "you will also benefit from the following legal warranty"),
        ("WhatsApp", "WhatsApp is liable without limitation"),
    ],
)
def test_a_carve_out_that_limits_nothing_is_low(platform: str, contains: str) -> None:
    _, text = _gold_passage(platform, contains)
    sentence = carve_out("limitation-of-liability", text)
    assert sentence is not None and sentence in text
    level, why = apply_conventions("limitation-of-liability", text, "Medium", ("Assessed: Medium",))
    assert level == "Low" and why[-1] == "Assessed: Low"
    assert why[-2].startswith(CARVE_OUT_REASON)


@pytest.mark.parametrize(
    ("platform", "contains"),
    [
        # a carve-out beside a limit of its own ("is subject to the exclusions and limitations")
        ("Perplexity", "Subject to Clause 12 of the EU SCCs"),
        # statutory rights kept, then "YouTube does not give any specific promises"
        ("YouTube", "By law, consumers have certain rights that cannot be excluded"),
        # a plain limit
        ("Pinterest", "To the maximum extent permitted by law, we shall not be liable"),
    ],
)
def test_a_limit_beside_a_carve_out_is_not_a_carve_out(platform: str, contains: str) -> None:
    _, text = _gold_passage(platform, contains)
    assert carve_out("limitation-of-liability", text) is None
    assert carve_out("arbitration", "Nothing in these Terms limits your statutory rights.") is None


def test_a_long_opt_out_sentence_is_quoted_around_its_opt_out() -> None:
    """The reason quotes at most 200 characters, cut at spaces, and holds the opt-out words."""
    sentence = (
        "Whatever the dispute, and " + "whichever of the parties raises it first, " * 6
        + "you may opt out of this arbitration agreement by writing to us within 30 days, "
        + "and " + "the rest of this long sentence says more about it " * 5 + "."
    )  # fmt: skip
    (lowered,) = lower_for_opt_out([_prediction("arbitration", "High")], sentence)
    quote = lowered.severity_reasons[-2].split("(\u201c", 1)[1].removesuffix("\u201d)")
    assert len(quote) <= 200 and quote in sentence and "opt out of this arbitration" in quote
    assert not quote.startswith(" ") and sentence[sentence.index(quote) - 1] == " "
