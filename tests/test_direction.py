"""Severity and direction of changed provisions and change records.

Clause texts are quoted from ../shared/data/claudette/sentences (CLAUDETTE, CC BY 4.0; the file
is named next to each) and edited the way a platform would edit them; the few marked
``constructed`` cover wording the data lacks. Predictions come from the shipped classifier,
except where a test needs one specific type (``hand``): those tests build the predictions
with the taxonomy's own ``severity_of``. No test depends on a confidence value.
"""

from __future__ import annotations

import re
from functools import cache

import pytest

from clausewatch.changes.direction import (
    LESS,
    MIXED,
    MORE,
    NEUTRAL,
    USER_PROTECTIONS,
    ItemAssessment,
    assess_item,
    assess_record,
)
from clausewatch.changes.parameters import (
    ParameterChange,
    compare_parameters,
    extract_parameters,
)
from clausewatch.classify.model import Prediction, default_classifier
from clausewatch.classify.severity import severity_of
from clausewatch.classify.taxonomy import default_taxonomy

TAX = default_taxonomy()

# claudette:Dropbox.txt
ARBITRATION = (
    "You and Dropbox agree to resolve any claims relating to these Terms or the Services "
    "through final and binding arbitration by a single arbitrator, except as set forth under "
    "Exceptions to Agreement to Arbitrate below."
)
OPT_OUT_30 = (
    "You can decline this agreement to arbitrate by clicking here and submitting the opt-out "
    "form within 30 days of first registering your account."
)
OPT_OUT_60 = OPT_OUT_30.replace("30 days", "60 days")
# claudette:Tinder.txt
JAMS = (
    "The exclusive means of resolving any dispute or claim arising out of or relating to this "
    "Agreement (including any alleged breach thereof) or the Service shall be BINDING "
    "ARBITRATION administered by JAMS under the JAMS Streamlined Arbitration Rules & "
    "Procedures, except as modified by our Arbitration Procedures."
)
NO_JAMS = JAMS.replace(
    "administered by JAMS under the JAMS Streamlined Arbitration Rules & Procedures, except as "
    "modified by our Arbitration Procedures",
    "under our Arbitration Procedures",
)
# claudette:Garmin.txt
TERMINATE = (
    "It is Garmin's policy, at its discretion and when appropriate, to terminate the accounts "
    "of users who may infringe or repeatedly infringe the copyrights of third parties."
)
TERMINATE_NO_NOTICE = TERMINATE.replace("to terminate the", "to terminate without notice the")
# claudette:Amazon.txt
AMAZON_TERMINATE = (
    "Your rights to use the Amazon Software will automatically terminate without notice from us "
    "if you fail to comply with any of these Software Terms, the Conditions of Use or any other "
    "Service Terms."
)
AMAZON_TERMINATE_EDITED = AMAZON_TERMINATE.replace(
    "automatically terminate without notice from us", "terminate at our sole discretion"
)
# claudette:Facebook.txt
NOTICE_30 = (
    "We will notify you (for example, by email or through our Products) at least 30 days before "
    "we make changes to these Terms and give you an opportunity to review them before they go "
    "into effect, unless the changes are required by law."
)
NOTICE_7 = NOTICE_30.replace("30 days", "7 days")
# claudette (change of terms, several files)
AMEND = "We reserve the right to amend these Terms of Sale (which we will post online)."
CLOSE = "We may terminate your account."
CLOSE_TOLD = "We may terminate your account at any time, and we will notify you by email."
AMEND_EDITED = (
    "We reserve the right to amend these Terms of Sale at any time, and we will notify you by "
    "email (which we will post online)."
)
# claudette:MyHeritage.txt
REFUND = (
    "If you are not satisfied with your purchased plan you may request a full refund by "
    "contacting Customer Support within thirty (30) days of the initial purchase date of the "
    "subscription."
)
REFUND_14 = REFUND.replace("thirty (30) days", "fourteen (14) days")
# claudette:Electronic_Arts.txt
NON_REFUNDABLE = (
    "EA Virtual Currency is non-refundable, and you are not entitled to a refund for any unused "
    "EA Virtual Currency."
)
# tosdr:9316 (quoted in tests/test_parameters.py)
AGE_13 = (
    "You must be at least 13 years of age (or such other minimum age as is applicable in your "
    "country of residence) to create an Account."
)
AGE_16 = AGE_13.replace("13 years", "16 years")
# claudette:Linkedin.txt
LAW_CA = (
    "In the unlikely event we end up in a legal dispute, you and LinkedIn agree to resolve it in "
    "California courts using California law."
)
LAW_LOCAL = LAW_CA.replace("in California courts", "in your local courts")
# claudette:Amazon.txt / claudette:Booking.txt
LAW_LUX = (
    "These conditions are governed by and construed in accordance with the laws of the Grand "
    "Duchy of Luxembourg."
)
LAW_NL = LAW_LUX.replace("the laws of the Grand Duchy of Luxembourg", "Dutch law")
LAST_UPDATED = "Last updated on 11 August, 2021."  # claudette:Amazon.txt
# constructed: a data-rights sentence and a price (wording CLAUDETTE's terms lack)
RIGHTS = "You can request access to and deletion of your personal data in your account settings."
PRICE = "Premium costs €9.99 per month, billed monthly."


@cache
def _classified(text: str) -> tuple[Prediction, ...]:
    return tuple(default_classifier().classify_many([text])[0])


def real(text: str | None) -> list[Prediction]:
    return list(_classified(text)) if text else []


def hand(text: str | None, *type_ids: str) -> list[Prediction]:
    """Predictions of the given types, their severity computed from ``text`` by the taxonomy."""
    out = []
    for type_id in type_ids:
        severity, reasons = severity_of(TAX.by_id[type_id], text or "")
        out.append(Prediction(type_id, 0.0, 1.0, severity, reasons, "explicit language", "", 0, 0))
    return out


def params(old: str | None, new: str | None) -> list[ParameterChange]:
    return compare_parameters(extract_parameters(old or ""), extract_parameters(new or ""))


def assess(kind: str, old: str | None, new: str | None, substantive: bool = True) -> ItemAssessment:
    """The pipeline: real classifier predictions and real parameter changes."""
    return assess_item(kind, old, new, real(old), real(new), params(old, new), substantive)


def name(type_id: str) -> str:
    return TAX.by_id[type_id].name


# --- clause types gained and lost ------------------------------------------------------------


def test_added_arbitration_is_less_protective_and_high() -> None:
    item = by_rule("added", None, ARBITRATION, "arbitration")
    assert item.severity == "High"
    assert item.direction == LESS
    assert f"new clause type: {name('arbitration')} (High)" in item.reasons


def test_removed_arbitration_is_more_protective() -> None:
    item = by_rule("removed", ARBITRATION, None, "arbitration")
    assert item.severity == "High"  # the old side: the provision no longer exists
    assert item.direction == MORE
    assert f"removed clause type: {name('arbitration')} (High)" in item.reasons


def test_parameters_of_a_new_clause_do_not_make_it_mixed() -> None:
    # A new arbitration clause that comes with an opt-out deadline is still a new arbitration
    # clause: the deadline is listed, not counted as a separate protection.
    text = f"{ARBITRATION} {OPT_OUT_30}"
    item = assess("added", None, text)
    assert item.direction == LESS
    assert "arbitration opt-out deadline: added 30 days (part of a new clause type)" in (
        item.reasons
    )


def test_removed_user_protection_is_less_protective() -> None:
    item = assess_item(
        "removed", RIGHTS, None, hand(RIGHTS, "user-data-rights"), [], params(RIGHTS, None)
    )
    assert item.severity == "Low"
    assert item.direction == LESS
    assert item.reasons == (f"removed user protection: {name('user-data-rights')} (Low)",)


def test_added_user_protection_is_more_protective() -> None:
    item = assess_item("added", None, RIGHTS, [], hand(RIGHTS, "user-data-rights"), [])
    assert item.direction == MORE
    assert item.reasons == (f"new user protection: {name('user-data-rights')} (Low)",)


def test_removed_refund_right_is_less_protective_and_its_window_is_not_counted_twice() -> None:
    item = assess_item("removed", REFUND, None, hand(REFUND, "refunds"), [], params(REFUND, None))
    assert item.direction == LESS
    assert f"removed user protection: {name('refunds')} (Low)" in item.reasons
    assert "refund window: removed 30 days (part of a removed clause type)" in item.reasons


def by_rule(kind: str, old: str | None, new: str | None, type_id: str) -> ItemAssessment:
    """Like :func:`assess` with the taxonomy's rule severity (the direction logic under test
    reads severities; the model's own severities are measured in docs/classification.md)."""
    return assess_item(kind, old, new, hand(old, type_id) if old else [],
                       hand(new, type_id) if new else [], params(old, new))  # fmt: skip


def test_a_refunds_clause_that_refuses_refunds_is_not_a_protection() -> None:
    added = by_rule("added", None, NON_REFUNDABLE, "refunds")
    assert added.severity == "High"
    assert added.direction == LESS
    assert any("restricting the right: “non-refundable”" in r for r in added.reasons)
    removed = by_rule("removed", NON_REFUNDABLE, None, "refunds")
    assert removed.direction == MORE
    assert any("which restricted the right: “non-refundable”" in r for r in removed.reasons)


def test_type_gained_in_a_modified_provision() -> None:
    old = LAW_LUX
    new = f"{LAW_LUX} {ARBITRATION}"
    item = assess("modified", old, new)
    assert item.direction == LESS
    # the model's severity for the gained type (High alone, Medium beside the governing law)
    gained = next(p.severity for p in real(new) if p.type_id == "arbitration")
    assert gained in ("Medium", "High") and item.severity == gained
    assert item.reasons[0] == f"new clause type: {name('arbitration')} ({gained})"  # most severe


def test_type_lost_in_a_modified_provision() -> None:
    old = f"{LAW_LUX} {ARBITRATION}"
    item = assess("modified", old, LAW_LUX)
    assert item.direction == MORE
    lost = next(p.severity for p in real(old) if p.type_id == "arbitration")  # the model's
    assert f"removed clause type: {name('arbitration')} ({lost})" in item.reasons
    assert item.severity == "Medium"  # governing law is what remains


def test_minimum_age_type_alone_does_not_vote_but_its_value_does() -> None:
    item = assess("added", None, AGE_13)
    assert f"new clause type: {name('minimum-age')} (Medium)" in item.reasons
    assert "minimum age: added 13 years (a minimum age is now stated)" in item.reasons
    assert item.direction == MORE


# --- severity moves and modifiers ------------------------------------------------------------


def test_severity_move_up_quotes_the_new_words() -> None:
    item = by_rule("modified", TERMINATE, TERMINATE_NO_NOTICE, "unilateral-termination")
    assert item.direction == LESS
    assert item.severity == "High"
    assert (
        f"severity of {name('unilateral-termination')}: Medium → High (raises: “without notice”)"
        in item.reasons
    )


def test_severity_move_down_is_more_protective() -> None:
    item = by_rule("modified", TERMINATE_NO_NOTICE, TERMINATE, "unilateral-termination")
    assert item.direction == MORE
    assert (
        f"severity of {name('unilateral-termination')}: High → Medium "
        "(no longer raises: “without notice”)" in item.reasons
    )


def test_modifier_change_at_the_top_of_the_scale_still_votes() -> None:
    # Termination is High by default: "without notice" cannot raise it further, but swapping
    # it for "sole discretion" is still a change the analyst must see (and it cancels out).
    item = assess_item(
        "modified",
        AMAZON_TERMINATE,
        AMAZON_TERMINATE_EDITED,
        hand(AMAZON_TERMINATE, "unilateral-termination"),
        hand(AMAZON_TERMINATE_EDITED, "unilateral-termination"),
        [],
    )
    label = name("unilateral-termination")
    assert item.reasons == (
        f"{label}: no longer raises “without notice” (severity stays High)",
        f"{label}: raises “sole discretion” (severity stays High)",
    )
    assert item.direction == MIXED
    # Only added: the severity is capped at High, the vote is still cast.
    old = AMAZON_TERMINATE.replace(" without notice from us", "")
    capped = assess_item(
        "modified",
        old,
        AMAZON_TERMINATE,
        hand(old, "unilateral-termination"),
        hand(AMAZON_TERMINATE, "unilateral-termination"),
        [],
    )
    assert capped.reasons == (f"{label}: raises “without notice” (severity stays High)",)
    assert capped.direction == LESS


def test_modifiers_pulling_both_ways_make_an_item_mixed() -> None:
    item = assess("modified", CLOSE, CLOSE_TOLD)
    assert item.direction == MIXED
    label = name("unilateral-termination")
    assert f"{label}: raises “at any time” (severity stays High)" in item.reasons
    assert f"{label}: lowers “we will notify you” (severity stays High)" in item.reasons


def test_notice_added_to_a_change_clause_is_more_protective() -> None:
    """A change clause that gives notice is Medium (classify/conventions.py), whatever "at any
    time" raises: the edit that adds the notice lowers it."""
    item = assess("modified", AMEND, AMEND_EDITED)
    assert item.direction == MORE
    assert item.reasons == (
        f"severity of {name('unilateral-change')}: High → Medium (raises: “at any time”; "
        "lowers: “we will notify you”; users are told of changes in advance or may object to "
        "them)",
    )


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "direction", "reason"),
    [
        (NOTICE_30, NOTICE_7, LESS, "notice period: 30 days → 7 days (shorter notice)"),
        (NOTICE_7, NOTICE_30, MORE, "notice period: 7 days → 30 days (longer notice)"),
        (AGE_16, AGE_13, LESS, "minimum age: 16 years → 13 years (lower minimum age: younger "
         "children admitted)"),
        (AGE_13, AGE_16, MORE, "minimum age: 13 years → 16 years (higher minimum age)"),
        (OPT_OUT_30, OPT_OUT_60, MORE, "arbitration opt-out deadline: 30 days → 60 days (more "
         "time to opt out of arbitration)"),
        (OPT_OUT_60, OPT_OUT_30, LESS, "arbitration opt-out deadline: 60 days → 30 days (less "
         "time to opt out of arbitration)"),
        (REFUND, REFUND_14, LESS, "refund window: 30 days → 14 days (less time to ask for a "
         "refund)"),
        (PRICE, PRICE.replace("9.99", "12.99"), LESS, "fee: EUR 9.99 per month → EUR 12.99 per "
         "month (higher fee)"),
        (PRICE, PRICE.replace("9.99", "4.99"), MORE, "fee: EUR 9.99 per month → EUR 4.99 per "
         "month (lower fee)"),
        (LAW_CA, LAW_LOCAL, MORE, "venue: State of California → your place of residence (users "
         "can go to court where they live)"),
        (LAW_LOCAL, LAW_CA, LESS, "venue: your place of residence → State of California (users "
         "can no longer go to court where they live)"),
        (NO_JAMS, JAMS, LESS, "arbitration body: added JAMS (disputes go to an arbitration "
         "institution)"),
    ],
)  # fmt: skip
def test_parameter_changes_vote_by_kind(old: str, new: str, direction: str, reason: str) -> None:
    item = assess_item("modified", old, new, [], [], params(old, new))  # parameters alone
    assert reason in item.reasons
    assert item.direction == direction


@pytest.mark.parametrize(
    ("old", "new", "kind", "direction", "reason"),
    [
        # claudette:Grindr.txt
        (None, "You have the right to cancel Your Grindr Premium Services within fourteen (14) "
         "days without giving any reason.", "cancellation_window", MORE,
         "cancellation window: added 14 days (a time to cancel is now stated)"),
        ("Premium members may opt out of personalised advertising within 60 days of signing up.",
         None, "opt_out_window", LESS,
         "opt-out window: removed 60 days (no time to opt out is stated any more)"),
        (NOTICE_30, None, "notice_period", LESS,
         "notice period: removed 30 days (no notice period is stated any more)"),
        # ota:BeReal/Privacy Policy (quoted in tests/test_parameters.py)
        (None, "This data is kept for a maximum of 90 days from the time of collection and is "
         "then automatically deleted.", "retention_period", NEUTRAL,
         "retention period: added 90 days (a stated period may be a limit or a minimum)"),
        (PRICE, None, "fee", NEUTRAL,
         "fee: removed EUR 9.99 per month (a fee no longer stated is not a fee waived)"),
    ],
)  # fmt: skip
def test_parameter_values_added_or_removed(
    old: str | None, new: str | None, kind: str, direction: str, reason: str
) -> None:
    # Only the parameter is under test: the clause's own type is left out (no predictions).
    changes = [c for c in params(old, new) if c.kind == kind]
    item = assess_item("modified", old, new, [], [], changes)
    assert item.reasons == (reason,)
    assert item.direction == direction
    assert item.severity is None  # nothing classified


def test_retention_period_longer_is_less_protective() -> None:
    # ota:Pinterest/Privacy Policy (quoted in tests/test_parameters.py), edited
    old = (
        "We generally keep log data for a period of 25 months to provide our Services to you, "
        "to make Pinterest safe, improve our product features and to deliver ads that are "
        "relevant, interesting and personal to you."
    )
    new = old.replace("25 months", "5 years")
    item = assess_item("modified", old, new, [], [], params(old, new))
    assert item.reasons == ("retention period: 25 months → 5 years (data kept longer)",)
    assert item.direction == LESS


def test_liability_cap_lower_is_less_protective() -> None:
    # claudette:Dropbox.txt, edited
    old = (
        "OTHER THAN FOR THE TYPES OF LIABILITY WE CANNOT LIMIT BY LAW (AS DESCRIBED IN THIS "
        "SECTION), WE LIMIT OUR LIABILITY TO YOU TO THE GREATER OF $20 USD OR 100% OF ANY AMOUNT "
        "YOU'VE PAID UNDER YOUR CURRENT SERVICE PLAN WITH DROPBOX."
    )
    new = old.replace("$20 USD", "$5 USD")
    item = assess_item("modified", old, new, [], [], params(old, new))
    assert item.reasons == ("liability cap: USD 20 → USD 5 (lower cap)",)
    assert item.direction == LESS


def test_governing_law_change_is_a_reason_without_a_vote() -> None:
    item = assess("modified", LAW_LUX, LAW_NL)
    assert "governing law: Luxembourg → Netherlands (the change alone cannot tell)" in item.reasons
    assert item.direction == NEUTRAL


def test_removed_arbitration_body_is_neutral() -> None:
    item = by_rule("modified", JAMS, NO_JAMS, "arbitration")
    assert item.reasons == ("arbitration body: removed JAMS (the change alone cannot tell)",)
    assert item.direction == NEUTRAL
    assert item.severity == "High"  # the arbitration clause is still there


def test_fee_per_month_and_per_year_are_not_compared() -> None:
    new = "Premium costs €99 per year, billed annually."  # constructed
    item = assess_item("modified", PRICE, new, [], [], params(PRICE, new))
    assert item.reasons == ("fee: EUR 9.99 per month → EUR 99 per year (not comparable)",)
    assert item.direction == NEUTRAL


# --- neutral items ---------------------------------------------------------------------------


def test_non_substantive_edit_is_neutral_without_severity() -> None:
    new = ARBITRATION.replace("Terms", "terms")  # letter case only
    item = assess("modified", ARBITRATION, new, substantive=False)
    assert item == ItemAssessment(None, NEUTRAL, ())


def test_moved_without_text_change_is_neutral() -> None:
    assert assess("moved", ARBITRATION, ARBITRATION) == ItemAssessment(None, NEUTRAL, ())
    renumbered = assess("moved", f"4.2 {NOTICE_30}", f"5.1 {NOTICE_30}")
    assert renumbered == ItemAssessment(None, NEUTRAL, ())


def test_moved_with_a_text_change_is_assessed() -> None:
    item = assess("moved", NOTICE_30, NOTICE_7)
    assert item.direction == LESS
    assert "notice period: 30 days → 7 days (shorter notice)" in item.reasons


def test_boilerplate_carries_no_severity() -> None:
    item = assess("added", None, LAST_UPDATED)
    assert item == ItemAssessment(None, NEUTRAL, ())


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="renamed"):
        assess_item("renamed", "a", "b", [], [], [])


# --- records ---------------------------------------------------------------------------------


def test_record_with_votes_both_ways_is_mixed_and_ordered_most_severe_first() -> None:
    notice = assess("modified", NOTICE_30, NOTICE_7)
    arbitration = by_rule("removed", ARBITRATION, None, "arbitration")
    severity, direction, reasons = assess_record([notice, arbitration])
    assert (severity, direction) == ("High", MIXED)
    assert reasons[0] == f"removed clause type: {name('arbitration')} (High)"
    assert "notice period: 30 days → 7 days (shorter notice)" in reasons


def test_record_with_votes_one_way() -> None:
    items = [
        assess("modified", NOTICE_30, NOTICE_7),
        by_rule("added", None, ARBITRATION, "arbitration"),
    ]
    severity, direction, _ = assess_record(items)
    assert (severity, direction) == ("High", LESS)
    opt_out = assess_item(
        "modified", OPT_OUT_30, OPT_OUT_60, [], [], params(OPT_OUT_30, OPT_OUT_60)
    )
    more = [by_rule("removed", ARBITRATION, None, "arbitration"), opt_out]
    assert assess_record(more)[:2] == ("High", MORE)


def test_record_with_a_mixed_item_is_mixed() -> None:
    items = [assess("modified", AMEND, AMEND_EDITED), assess("added", None, ARBITRATION)]
    assert assess_record(items)[1] == MIXED


def test_record_without_votes_is_neutral() -> None:
    items = [
        assess("modified", ARBITRATION, ARBITRATION.replace("Terms", "terms"), substantive=False),
        assess("moved", NOTICE_30, NOTICE_30),
        assess("modified", LAW_LUX, LAW_NL),
    ]
    severity, direction, reasons = assess_record(items)
    assert direction == NEUTRAL
    assert severity == "Medium"  # the governing-law clause: substantive, with a type
    assert reasons == ("governing law: Luxembourg → Netherlands (the change alone cannot tell)",)


def test_empty_record() -> None:
    assert assess_record([]) == (None, NEUTRAL, ())


def test_record_reasons_are_deduplicated() -> None:
    item = by_rule("added", None, ARBITRATION, "arbitration")
    severity, direction, reasons = assess_record([item, item])
    assert reasons == item.reasons
    assert (severity, direction) == ("High", LESS)


def test_record_from_stored_items_without_evidence() -> None:
    low = ItemAssessment("Low", MORE, ("b",))
    high = ItemAssessment("High", LESS, ("a",))
    assert assess_record([low, high]) == ("High", MIXED, ("a", "b"))


# --- reasons never invent --------------------------------------------------------------------

CASES = [
    ("added", None, ARBITRATION),
    ("removed", REFUND, None),
    ("added", None, NON_REFUNDABLE),
    ("modified", TERMINATE, TERMINATE_NO_NOTICE),
    ("modified", TERMINATE_NO_NOTICE, TERMINATE),
    ("modified", AMEND, AMEND_EDITED),
    ("modified", NOTICE_30, NOTICE_7),
    ("modified", LAW_CA, LAW_LOCAL),
    ("modified", JAMS, NO_JAMS),
    ("modified", LAW_LUX, f"{LAW_LUX} {ARBITRATION}"),
]


@pytest.mark.parametrize(("kind", "old", "new"), CASES)
def test_reasons_quote_only_words_of_the_texts_and_found_values(
    kind: str, old: str | None, new: str | None
) -> None:
    item = assess(kind, old, new)
    assert item.reasons
    texts = f"{old or ''}\n{new or ''}"
    found_types = {p.type_id for p in real(old) + real(new)}
    values = {p.value for p in extract_parameters(old or "") + extract_parameters(new or "")}
    for reason in item.reasons:
        for quote in re.findall(r"“([^”]*)”", reason):
            assert quote in texts, (quote, reason)
        named = re.match(r"(?:new|removed) (?:clause type|user protection): (.+?) \(", reason)
        if named:
            assert named.group(1) in {TAX.by_id[t].name for t in found_types}, reason
        stated = re.match(r"[a-z -]+: (?:added |removed )?(.+?)(?: → (.+?))? \(", reason)
        if stated and not named and not reason.startswith("severity of"):
            assert {v for v in stated.groups() if v} <= values, reason


def test_user_protections_are_taxonomy_types() -> None:
    assert set(USER_PROTECTIONS) <= set(TAX.by_id)
