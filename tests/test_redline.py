"""Word-level redlines, sentence splitting, sentence counts, the noise test, summaries, dates."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clausewatch.changes import summary
from clausewatch.changes.parameters import compare_parameters, extract_parameters
from clausewatch.changes.redline import (
    DiffOp,
    SentenceCounts,
    is_substantive,
    keep_markup_whole,
    redline,
    render_redline,
    sentence_changes,
    sentence_spans,
    split_sentences,
)
from clausewatch.changes.summary import effective_date, summarise_change

# --- redline ---------------------------------------------------------------------------------

# Few distinct words so that generated texts share a lot and the diff has real work to do.
_WORD = st.sampled_from(["the", "terms", "30", "days", "we", "may", "will", "€", "über", "\n", ""])
_TEXT = st.lists(st.one_of(_WORD, st.text(max_size=6)), max_size=40).map(
    lambda words: " ".join(words)
)


def _old(ops: list[DiffOp]) -> str:
    return "".join(op.text for op in ops if op.op != "insert")


def _new(ops: list[DiffOp]) -> str:
    return "".join(op.text for op in ops if op.op != "delete")


@settings(max_examples=300, deadline=None)
@given(_TEXT, _TEXT)
def test_redline_reconstructs_both_texts(old: str, new: str) -> None:
    ops = redline(old, new)
    assert _old(ops) == old
    assert _new(ops) == new
    assert all(op.text for op in ops)
    assert all(a.op != b.op for a, b in itertools.pairwise(ops))


@settings(max_examples=100, deadline=None)
@given(_TEXT)
def test_redline_of_identical_texts_is_one_equal(text: str) -> None:
    assert redline(text, text) == ([DiffOp("equal", text)] if text else [])


def test_redline_changes_whole_words() -> None:
    ops = redline(
        "We will notify you at least 30 days before changes take effect.",
        "We will notify you at least 7 days before the changes take effect.",
    )
    assert [op for op in ops if op.op != "equal"] == [
        DiffOp("delete", "30"),
        DiffOp("insert", "7"),
        DiffOp("insert", "the "),
    ]
    words = redline("You may cancel.", "You may request cancellation.")
    assert DiffOp("delete", "cancel") in words  # never "cancel" + "lation"


def test_redline_is_semantic_not_interleaved() -> None:
    ops = redline("a b c d e", "v w x y z")
    assert ops == [DiffOp("delete", "a b c d e"), DiffOp("insert", "v w x y z")]


def test_redline_of_a_long_provision_is_exact() -> None:
    words = [f"w{i % 700}" for i in range(6000)]
    old = " ".join(words)
    new = " ".join(w if i % 97 else "changed" for i, w in enumerate(words))
    ops = redline(old, new)
    assert _old(ops) == old and _new(ops) == new
    assert sum(op.op == "insert" for op in ops) == sum(1 for i in range(6000) if i % 97 == 0)


_MARKDOWN_WORDS = st.sampled_from(
    ["[a](https://x.example/p)", "[a b](#f)", "**b c**", "(", ")", "](", "**", "x", "y", "\n"]
)
_MARKDOWN_TEXT = st.lists(_MARKDOWN_WORDS, max_size=25).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(_MARKDOWN_TEXT, _MARKDOWN_TEXT)
def test_keep_markup_whole_keeps_both_texts(old: str, new: str) -> None:
    ops = keep_markup_whole(redline(old, new))
    assert _old(ops) == old and _new(ops) == new
    assert all(op.text for op in ops)
    assert all(a.op != b.op for a, b in itertools.pairwise(ops))
    assert not any(a.op == "insert" and b.op == "delete" for a, b in itertools.pairwise(ops))


def test_keep_markup_whole_widens_a_change_to_a_link_url_or_bold_marker() -> None:
    # a change inside a URL: the whole link goes and comes back
    ops = redline(
        "Follow the [Moderator Guidelines](https://www.reddit.com/help/healthy/) now.",
        "Follow the [Moderator Code](https://www.redditinc.com/policies/code) now.",
    )
    assert [op for op in keep_markup_whole(ops) if op.op != "equal"] == [
        DiffOp("delete", "[Moderator Guidelines](https://www.reddit.com/help/healthy/)"),
        DiffOp("insert", "[Moderator Code](https://www.redditinc.com/policies/code)"),
    ]
    # a link replaced by words with a parenthesis of their own (the ")" was shared)
    ops = keep_markup_whole(
        redline("under the [API Terms](https://x.example/t) apply", "under any Terms (below) apply")
    )
    assert DiffOp("delete", "the [API Terms](https://x.example/t)") in ops
    # a bold marker split by an insertion
    ops = keep_markup_whole(
        [DiffOp("equal", "| *"), DiffOp("insert", "*Lead:**<br>*"), DiffOp("equal", " item |")]
    )
    assert ops == [
        DiffOp("equal", "| "),
        DiffOp("delete", "*"),
        DiffOp("insert", "**Lead:**<br>*"),
        DiffOp("equal", " item |"),
    ]
    # changes inside a link's words or a bold run's words stay word-level
    inside = redline(
        "See [our terms](https://x.example) and **all rules**.",
        ("See [our new terms](https://x.example) and **all house rules**."),
    )
    assert keep_markup_whole(inside) == inside


def test_render_text_and_markdown() -> None:
    ops = redline("Notice: 30 days.", "Notice: 7 days.")
    assert render_redline(ops, "text") == "Notice: [-30-]{+7+} days."
    assert render_redline(ops, "markdown") == "Notice: ~~30~~**7** days."
    spaced = [DiffOp("equal", "a"), DiffOp("insert", " new words "), DiffOp("equal", "b")]
    assert render_redline(spaced, "markdown") == "a **new words** b"
    paragraphs = [DiffOp("delete", "one\n\ntwo")]
    assert render_redline(paragraphs, "markdown") == "~~one~~\n\n~~two~~"


def test_render_html_escapes_untrusted_text() -> None:
    ops = [
        DiffOp("equal", "<b>x</b> & "),
        DiffOp("delete", '<script>alert("1")</script>'),
        DiffOp("insert", "'y'"),
    ]
    html = render_redline(ops, "html")
    assert "<script>" not in html and "<b>" not in html
    assert html == (
        "&lt;b&gt;x&lt;/b&gt; &amp; <del>&lt;script&gt;alert(&quot;1&quot;)&lt;/script&gt;</del>"
        "<ins>&#x27;y&#x27;</ins>"
    )


def test_render_rejects_unknown_format() -> None:
    with pytest.raises(ValueError):
        render_redline([], "pdf")  # type: ignore[arg-type]


# --- sentences -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "We may share data, e.g. with partners, i.e. vendors. We comply with U.S. law.",
            ["We may share data, e.g. with partners, i.e. vendors.", "We comply with U.S. law."],
        ),
        (
            "Meta Platforms, Inc. operates the service. See No. 5 and Sec. 4.2 for details.",
            ["Meta Platforms, Inc. operates the service.", "See No. 5 and Sec. 4.2 for details."],
        ),
        ("The fee is 4.99 EUR. It renews.", ["The fee is 4.99 EUR.", "It renews."]),
        ("Say no. Then leave.", ["Say no.", "Then leave."]),
        (
            "# 4. Changes\nWe may change these terms.\n\n"
            "- First item. Second sentence\ncontinues.\n"
            "* Second item\n1. Numbered item\n(a) lettered item",
            [
                "Changes",
                "We may change these terms.",
                "First item.",
                "Second sentence continues.",
                "Second item",
                "Numbered item",
                "lettered item",
            ],
        ),
        ("You agree: 1. to comply; 2. to pay.", ["You agree: 1. to comply; 2. to pay."]),
        ("Contact J. Smith. Then wait!", ["Contact J. Smith.", "Then wait!"]),
        ("“Quoted.” Next one? Yes.", ["“Quoted.”", "Next one?", "Yes."]),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_sentence_spans_are_offsets_into_the_text() -> None:
    text = "## Title\n\nFirst one. Second one.\n- item"
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Title",
        "First one.",
        "Second one.",
        "item",
    ]


def test_sentence_changes() -> None:
    old = "We keep logs for 90 days. We share data with partners. You may opt out at any time."
    new = (
        "You may opt out at any time. We keep logs for 30 days. "
        "We may use your content to train AI models."
    )
    assert sentence_changes(old, new) == SentenceCounts(added=1, removed=1, modified=1)
    assert sentence_changes(old, old) == SentenceCounts(0, 0, 0)
    assert sentence_changes("", "One. Two.") == SentenceCounts(added=2, removed=0, modified=0)


# --- noise -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("We may  change\nthese terms.", "We may change these terms."),
        ("We may change these terms.", "We may change these terms"),
        ("YOU AGREE TO ARBITRATION.", "You agree to arbitration."),
        ("The “Service” isn’t free — ever.", 'The "Service" isn\'t free - ever.'),
        ("We **never** sell _your_ data.", "We never sell your data."),
        (r"Fees are 5\* per month\.", "Fees are 5* per month."),
        ("4.2 Notice. We will notify you.", "5.2 Notice. We will notify you."),
        ("## 4.2 Changes\nWe may change.", "## 5.2 Changes\nWe may change."),
        ("(a) you must be 13.", "(b) you must be 13."),
        ("- first\n- second", "* first\n* second"),
        (
            "See [our policy](https://x.com/p?id=abc123).",
            "See [our policy](https://x.com/p?id=zz9).",
        ),
        ("Pay 1,000 dollars.", "Pay 1000 dollars."),
    ],
)
def test_not_substantive(old: str, new: str) -> None:
    assert not is_substantive(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("We will notify you 30 days before.", "We will notify you 7 days before."),
        ("We may share your data.", "We will share your data."),
        ("We do not sell your data.", "We sell your data."),
        ("The cap is $100.", "The cap is €100."),
        ("Fees are 4.5 EUR.", "Fees are 45 EUR."),
        (
            "As described in Section 4.2, we may suspend.",
            "As described in Section 5.2, we may suspend.",
        ),
        ("4.2 Notice.", "4.2 Notice. We may also email you."),
        ("Effective on 1 May 2024.", "Effective on 1 May 2025."),
    ],
)
def test_substantive(old: str, new: str) -> None:
    assert is_substantive(old, new)


# --- effective date --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Effective date: 4 June 2026\n\nThese terms apply.", dt.date(2026, 6, 4)),
        ("These terms are effective as of January 1, 2025.", dt.date(2025, 1, 1)),
        ("_Effective Date: December 31, 2024_", dt.date(2024, 12, 31)),
        ("**Last updated:** 11 August, 2021\n\nEffective: 2024-03-05", dt.date(2024, 3, 5)),
        ("Last updated on 11 August, 2021.", dt.date(2021, 8, 11)),  # claudette:Amazon.txt
        ("Last Modified: Oct. 3rd, 2022", dt.date(2022, 10, 3)),
        ("These Terms come into force on 1st of March 2025.", dt.date(2025, 3, 1)),
        ("Effective 24/06/2026", dt.date(2026, 6, 24)),
        ("Effective 04/06/2026", None),  # April or June: no guess
        ("Effective: June 2026", None),  # no day: no invented one
        ("We were founded on 3 May 2010 and moved in 2020.", None),
        ("Effective immediately, we collect less. Updated 2 February 2023.", dt.date(2023, 2, 2)),
        ("Effective date: 31 February 2024", None),
    ],
)
def test_effective_date(text: str, expected: dt.date | None) -> None:
    assert effective_date(text) == expected


def _scanned_effective_date(text: str) -> dt.date | None:
    """``effective_date`` as it was: each label pattern over the whole text."""
    for label in (summary._EFFECTIVE, summary._UPDATED):
        for match in label.finditer(text):
            date = summary._date_at(text, match.end())
            if date is not None:
                return date
    return None


# Labels, their words apart, case and look-alike letters ("ı", "ſ", "İ"), dates, filler
_DATE_PIECE = st.sampled_from(
    ["Effective", "EFFECTIVE date", "efFect", "in", "force", "effect", "entry into", "Coming",
     "came", "takes", "took effect", "valid from", "Applicable", "from", "Last", "updated",
     "modified", "revised", "date of the last", "revision", "update", "Version date", "amended",
     "changed", "on", "as of", ":", "*", "_", "—", "(", "x", "re", "lıst", "laſt", "İn", "vaLİd",
     "4 June 2026", "June 4, 2026", "2025-01-01", "13/02/2024", "1st of Jan. 2020"]
)  # fmt: skip
_GAP_PIECE = st.sampled_from(["", " ", "  ", "\n", " \t\n  "])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_DATE_PIECE, _GAP_PIECE), max_size=14))
def test_effective_date_tries_labels_only_near_their_stems(pieces: list[tuple[str, str]]) -> None:
    text = "".join(piece + gap for piece, gap in pieces)
    assert effective_date(text) == _scanned_effective_date(text)


# --- summary ---------------------------------------------------------------------------------


def test_summary_example() -> None:
    old = extract_parameters("We will notify you at least 30 days before changes take effect.")
    new = extract_parameters("We will notify you at least 7 days before changes take effect.")
    summary = summarise_change(
        added=["Opt-out of AI training", "Data sharing with partners"],
        removed=["Arbitration opt-out"],
        modified=[("Fees", "Fees"), ("Cookies", "Cookies"), ("Notice", "Notice")],
        moved=1,
        parameter_changes=compare_parameters(old, new),
    )
    assert summary == (
        "Shortens the notice period from 30 to 7 days.\n"
        "Added (2): “Opt-out of AI training”; “Data sharing with partners”.\n"
        "Removed (1): “Arbitration opt-out”.\n"
        "Modified (3): “Fees”; “Cookies”; “Notice”.\n"
        "Parameters: notice period: 30 days → 7 days.\n"
        "And 1 provision moved with no change of meaning."
    )


def test_summary_edges() -> None:
    assert summarise_change() == "No provision changed."
    assert summarise_change(moved=2) == "2 provisions moved with no change of meaning."
    assert summarise_change(removed=["", "Fees"]) == (
        "Removes 2 provisions.\nRemoved (2): an untitled provision; “Fees”."
    )
    assert summarise_change(added=[f"T{i}" for i in range(5)]).endswith(
        "Added (5): “T0”; “T1”; “T2”; “T3”; and 1 more."
    )
    age = extract_parameters("You must be at least 13 years old.")
    only_params = summarise_change(parameter_changes=compare_parameters([], age))
    assert only_params.startswith("Now states a minimum age of 13 years.")
    long_title = "x" * 200
    assert len(summarise_change(added=[long_title])) < 120


def test_summary_is_deterministic() -> None:
    args = {"added": ["B", "A"], "removed": ["C"], "moved": 3}
    assert summarise_change(**args) == summarise_change(**args)  # type: ignore[arg-type]
    assert "Added (2): “B”; “A”." in summarise_change(**args)  # type: ignore[arg-type]
