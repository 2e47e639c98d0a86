"""The reader text of change records (issue #12 item 5): a lead sentence on what matters most,
grouped items with clean, de-duplicated titles and parameter changes, non-substantive edits
collapsed; the severity of a record follows what changed; one text in every channel."""

from __future__ import annotations

import html

from archive_fixtures import *  # noqa: F403
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_alerts import _app, changed, make_account  # noqa: F401
from test_direction import ARBITRATION, NOTICE_7, NOTICE_30, assess, by_rule

from clausewatch.alerts.digest import render_digest
from clausewatch.alerts.dispatch import change_event, render_alert
from clausewatch.alerts.feeds import build_feed, scope_for
from clausewatch.archive.service import Archive
from clausewatch.changes.direction import assess_record
from clausewatch.changes.parameters import compare_parameters, extract_parameters
from clausewatch.changes.summary import (
    ItemFacts,
    compose_change,
    item_facts,
    parameter_sentence,
    reader_view,
    summarise_change,
    summary_lead,
    summary_line,
    summary_lines,
)
from clausewatch.storage.models import ChangeRecord

# --- pure --------------------------------------------------------------------------------------


def test_lead_names_the_most_important_change_with_its_severity() -> None:
    notice = item_facts("modified", True, "Changes", (), assess("modified", NOTICE_30, NOTICE_7))
    arbitration = item_facts(
        "added", True, "Disputes", (), by_rule("added", None, ARBITRATION, "arbitration")
    )
    text = compose_change([notice, arbitration])
    assert text.lead == "Adds a mandatory arbitration clause (High)."
    assert text.lines[0] == text.lead
    assert "Shortens the notice period from 30 to 7 days" not in text.lead
    modified = dict(text.groups)["modified"]
    assert "shortens the notice period from 30 to 7 days (Medium) in “Changes”" in modified
    assert dict(text.groups)["added"] == (
        "Added (1): a mandatory arbitration clause (High) in “Disputes”."
    )


def test_removed_clause_reads_as_removing_it() -> None:
    removed = item_facts(
        "removed", True, "Disputes", (), by_rule("removed", ARBITRATION, None, "arbitration")
    )
    assert compose_change([removed]).lead == "Removes the mandatory arbitration clause (High)."


def test_parameter_sentences() -> None:
    change = compare_parameters(extract_parameters(NOTICE_30), extract_parameters(NOTICE_7))[0]
    assert parameter_sentence(change) == "Shortens the notice period from 30 to 7 days"
    back = compare_parameters(extract_parameters(NOTICE_7), extract_parameters(NOTICE_30))[0]
    assert parameter_sentence(back) == "Lengthens the notice period from 7 to 30 days"
    added = compare_parameters([], extract_parameters(NOTICE_30))[0]
    assert parameter_sentence(added) == "Now states a notice period of 30 days"


def test_equal_titles_are_counted_not_repeated_and_markdown_is_stripped() -> None:
    same = [ItemFacts("added", True, "LinkedIn European Regional Privacy Notice")] * 8
    under = [ItemFacts("added", True, f"Item {i}", section="Your data") for i in range(3)]
    bold = [ItemFacts("removed", True, "**Fees** and [billing](https://example.com)")]
    text = compose_change(same + under + bold)
    added = dict(text.groups)["added"]
    assert added == (
        "Added (11): 8 provisions titled “LinkedIn European Regional Privacy Notice”; "
        "3 provisions under “Your data”."
    )
    assert dict(text.groups)["removed"] == "Removed (1): “Fees and billing”."
    assert text.lead == "Adds 11 provisions and removes 1."


def test_non_substantive_edits_are_collapsed() -> None:
    edits = [ItemFacts("modified", False, f"T{i}") for i in range(12)]
    moves = [ItemFacts("moved", False, "M")] * 2
    pieces = [ItemFacts("split", False, "S", part=True)]
    changed_item = [ItemFacts("modified", True, "Fees")]
    text = compose_change(changed_item + edits + moves + pieces)
    assert text.edits == "And 12 wording edits and 2 provisions moved with no change of meaning."
    assert text.lines[-1] == text.edits
    only = compose_change(edits)
    assert only.lead == "12 wording edits with no change of meaning." and not only.edits
    assert compose_change([]).lead == "No provision changed."


def test_long_groups_are_cut_with_a_count() -> None:
    items = [ItemFacts("added", True, f"T{i}", section=f"S{i}") for i in range(10)]
    line = dict(compose_change(items).groups)["added"]
    assert line.endswith("; and 6 more.") and line.count("provision under") == 4


def test_summary_before_analysis_keeps_parameter_changes() -> None:
    changes = compare_parameters(extract_parameters(NOTICE_30), extract_parameters(NOTICE_7))
    text = summarise_change(
        added=["A", "A"], removed=["B"], modified=[("Notice", "Notice")], parameter_changes=changes
    )
    lines = summary_lines(text)
    assert lines[0] == "Shortens the notice period from 30 to 7 days."
    assert "Parameters: notice period: 30 days → 7 days." in lines
    assert "Added (2): 2 provisions titled “A”." in lines


# --- severity follows what changed ---------------------------------------------------------------


def test_a_reworded_high_clause_is_not_a_high_change() -> None:
    new = ARBITRATION.replace("shall", "will") + " Thanks."
    reworded = by_rule("modified", ARBITRATION, new, "arbitration")
    assert reworded.severity == "High"  # the clause is High …
    assert reworded.change_severity is None  # … what changed is not
    assert assess_record([reworded])[0] == "Low"
    added = by_rule("added", None, ARBITRATION, "arbitration")
    assert added.change_severity == "High"
    assert assess_record([reworded, added])[0] == "High"
    notice = assess("modified", NOTICE_30, NOTICE_7)  # a parameter in the worse direction
    assert notice.change_severity in ("Medium", "High")
    better = assess("modified", NOTICE_7, NOTICE_30)
    assert better.change_severity == "Low"
    assert assess_record([assess("modified", NOTICE_30, NOTICE_30, substantive=False)])[0] is None


# --- one text in every channel -------------------------------------------------------------


def test_every_channel_shows_the_same_reader_text(
    archive: Archive,
    changed: dict[str, int],  # noqa: F811
) -> None:
    with archive.sessions() as session:
        record = session.scalars(
            select(ChangeRecord).where(ChangeRecord.status == "substantive")
        ).one()
        event = change_event(session, record, archive.settings)
        summary, severity = record.summary, record.severity
    lines = summary_lines(summary)
    lead = lines[0]
    assert lead.endswith(f"({severity}).")  # the lead names the change the severity comes from
    assert event["data"]["summary"] == summary and event["data"]["lead"] == lead  # webhooks
    account = make_account(archive, "reader@example.org")
    _, text, body = render_alert(archive.settings, account, event, ["alpha"])
    assert "\n".join(lines) in text  # alert email, plain text
    assert html.escape(lead) in body  # and HTML
    payload = {"week": "2026-W10", "start": "2026-03-02T07:00", "end": "2026-03-09T07:00"}
    _, digest_text, _ = render_digest(archive.settings, account, payload, [event])
    assert summary_line(summary) in digest_text
    feed = build_feed(archive, scope_for(archive, "all")).decode()
    assert html.escape(summary_line(summary), quote=False) in feed
    with TestClient(_app(archive)) as client:
        page = client.get(f"/changes/{record_id(archive)}").text
        listing = client.get("/changes").text
    assert html.escape(lead) in page and html.escape(lead) in listing
    for line in lines[1:]:
        assert html.escape(line) in page
    assert summary_lead(summary) == lead


def record_id(archive: Archive) -> str:
    with archive.sessions() as session:
        record = session.scalars(
            select(ChangeRecord).where(ChangeRecord.status == "substantive")
        ).one()
        return record.public_id


def test_reader_view_groups_items_and_folds_edits() -> None:
    summary = (
        "Adds a class-action waiver (High).\nAdded (1): …\n"
        "And 2 wording edits with no change of meaning."
    )
    items = [
        {"kind": "added", "substantive": True, "severity": "High"},
        {"kind": "modified", "substantive": True, "severity": None},
        {"kind": "modified", "substantive": True, "severity": "Medium"},
        {"kind": "modified", "substantive": False, "severity": None},
        {"kind": "moved", "substantive": False, "severity": None},
    ]
    view = reader_view(summary, items)
    assert view["lead"] == "Adds a class-action waiver (High)."
    assert view["lines"] == ["Added (1): …"]
    assert view["edits"].startswith("And 2 wording edits")
    assert [label for label, _ in view["groups"]] == ["Added", "Modified"]
    assert [i["severity"] for i in view["groups"][1][1]] == ["Medium", None]
    assert len(view["folded"]) == 2
