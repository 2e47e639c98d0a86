"""Severity rules (modifiers on normalised text, negation) and the decision policy, on real
sentences and small hand-made candidate sets."""

from __future__ import annotations

import pytest

from clausewatch.classify.data import GoldProvision
from clausewatch.classify.evaluate import gold_metrics
from clausewatch.classify.model import Policy, Prediction, apply_policy
from clausewatch.classify.severity import NEGATED_REASON, modifier_hits, severity_of
from clausewatch.classify.taxonomy import default_taxonomy
from clausewatch.classify.train import tune_policy

TAX = default_taxonomy()


@pytest.mark.parametrize(
    "text",
    [
        "Fees are non-refundable.",
        "Fees are nonrefundable.",
        "Fees are non\u2011refundable.",  # non-breaking hyphen
        "Fees are non refundable.",
    ],
)
def test_refund_modifier_matches_every_spelling_and_quotes_the_original(text: str) -> None:
    hits = modifier_hits(TAX.by_id["refunds"], text)
    raise_hits = [h for h in hits if h.modifier.effect == "raise"]
    assert raise_hits and raise_hits[0].quote in text
    assert raise_hits[0].quote.lower().startswith("non")


def test_quoted_verbs_are_read_through_normalisation() -> None:
    # Real wording (Bluesky-style): the quotes used to defeat the rule.
    text = "We will not \u201csell\u201d or \u201cshare\u201d your personal information."
    level, reasons = severity_of(TAX.by_id["data-sharing-sale"], text)
    assert level == "Low" and reasons[-1] == NEGATED_REASON


@pytest.mark.parametrize(
    ("type_id", "text"),
    [
        ("data-sharing-sale", "We do not sell your personal data."),
        ("automated-decision-making", "We do not engage in profiling."),
        ("ai-training-on-user-data", "By default, we do not use your business data for training."),
    ],
)
def test_negated_provider_practice_is_low(type_id: str, text: str) -> None:
    assert severity_of(TAX.by_id[type_id], text)[0] == "Low"


def test_unnegated_practice_keeps_the_rule() -> None:
    level, reasons = severity_of(
        TAX.by_id["unilateral-termination"],
        "We may terminate your account at any time for any reason.",
    )
    assert level == "High" and any("any reason" in r for r in reasons)


def _pred(type_id: str, score: float, severity: str = "Medium") -> Prediction:
    return Prediction(type_id, score, score, severity, ("r",), "inferred", "x", 0, 1)


def _gold(main: str | None, other: tuple[str, ...] = (), severity: str | None = "Medium",
          negated: bool = False, platform: str = "P") -> GoldProvision:  # fmt: skip
    return GoldProvision("G", platform, "D", "", "x", main, list(other), severity, negated, False,
                         "random")  # fmt: skip


def test_policy_shows_second_type_only_under_a_shown_main_type() -> None:
    policy = Policy({"arbitration": 0.5}, 0.6, 0.4)
    both = [_pred("arbitration", 0.7), _pred("class-action-waiver", 0.65)]
    assert [p.type_id for p in apply_policy(both, policy)] == ["arbitration", "class-action-waiver"]
    weak_main = [_pred("arbitration", 0.45), _pred("class-action-waiver", 0.65)]
    assert apply_policy(weak_main, policy) == []
    weak_second = [_pred("arbitration", 0.7), _pred("class-action-waiver", 0.35)]
    assert [p.type_id for p in apply_policy(weak_second, policy)] == ["arbitration"]


def test_tuned_threshold_drops_the_unreliable_low_scores() -> None:
    # arbitration is right above 0.6 and wrong below: the tuned threshold sits between.
    cands, gold = [], []
    for i in range(40):
        score = 0.3 + i * 0.015
        right = score >= 0.6
        cands.append([_pred("arbitration", score)])
        gold.append(_gold("arbitration" if right else "governing-law"))
    policy = tune_policy(cands, gold)
    assert 0.55 <= policy.threshold("arbitration") <= 0.65


def test_boilerplate_is_shown_alone() -> None:
    """Boilerplate says the text states no clause: no clause type is shown beside it."""
    policy = Policy({}, 0.4, 0.2)
    cands = [_pred("boilerplate", 0.6, "Low"), _pred("data-collection", 0.35)]
    assert [p.type_id for p in apply_policy(cands, policy)] == ["boilerplate"]


def test_boilerplate_threshold_weighs_recall_as_much_as_precision() -> None:
    """Right boilerplate above 0.4, half right from 0.3: precision first (F0.5) would stop at
    0.4 for a clause type; boilerplate (F1) keeps the half-right band, where it gains recall."""
    cands, gold = [], []
    for i in range(60):
        score = 0.2 + i * 0.01
        right = score >= 0.4 or (score >= 0.3 and i % 2 == 0)
        for type_id in ("boilerplate", "arbitration"):
            cands.append([_pred(type_id, score)])
            gold.append(_gold(type_id if right else None))
    policy = tune_policy(cands, gold)
    assert 0.35 <= policy.threshold("arbitration") <= 0.45
    assert policy.threshold("boilerplate") < policy.threshold("arbitration")


def test_gold_metrics_count_negated_high_and_missing_types() -> None:
    shown = [
        [_pred("data-sharing-sale", 0.9, "High")],  # negated in gold: the figure we forbid
        [],  # carries a clause, no type shown
        [_pred("boilerplate", 0.9, "Low")],  # a clause typed as boilerplate: no type either
        [_pred("arbitration", 0.9, "High")],
    ]
    gold = [
        _gold("data-sharing-sale", severity="Low", negated=True),
        _gold("refunds"),
        _gold("arbitration"),
        _gold("arbitration", severity="High"),
    ]
    m = gold_metrics(shown, gold)
    assert m["negated_high"] == 1
    assert m["carry_no_type"] == pytest.approx(0.5)
    assert m["high_precision"] == pytest.approx(0.5)
    assert m["main_accuracy"] == pytest.approx(0.5)
    assert m["shown_precision"] == pytest.approx(1.0)


# pga, Reddit Terms of Service, "17. Termination" (2026): the user's right to end the terms,
# then the provider's deactivation for inactivity.
REDDIT_TERMINATION = (
    "You may terminate these Terms at any time and for any reason by deleting your Account and "
    "discontinuing use of all Services. If you stop using the Services without deleting your "
    "Account, your Account may be deactivated due to prolonged inactivity."
)


def test_a_users_right_does_not_raise_the_providers_severity() -> None:
    """“at any time” and “for any reason” describe the user's right here: no raise reason,
    not High; the same words in the provider's own sentence still raise."""
    from clausewatch.classify import classify

    user = classify(REDDIT_TERMINATION, heading="Reddit Terms of Service > 17. Termination")
    for p in user:
        assert p.severity != "High", p
        assert not any(r.startswith("raises:") for r in p.severity_reasons), p.severity_reasons
    provider = classify(
        "We may terminate or suspend your account at any time, for any reason, without notice.",
        heading="Termination",
    )
    assert provider and provider[0].type_id == "unilateral-termination"
    assert any("“at any time”" in r for r in provider[0].severity_reasons)
