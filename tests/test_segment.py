"""Segmentation of version texts into provisions: structure, invariants (property-based and on
all 133 real documents), what a lawyer would cite, speed."""

from __future__ import annotations

import bisect
import json
import lzma
import re
import statistics
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clausewatch.extract.normalise import normalise_for_hash
from clausewatch.provisions.segment import Segment, context_text, segment, substantive_spans

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
JSONL = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"


def check_invariants(text: str, segments: list[Segment]) -> None:
    """Exact spans, in order, no overlap; every substantive character in exactly one segment;
    a context read back from its span (what a stored revision keeps) is the same context."""
    end = 0
    for s in segments:
        assert text[s.start : s.end] == s.text
        if s.context is None:
            assert s.context_span is None
        else:
            assert s.context_span is not None and s.context_span[1] <= s.start
            assert context_text(text, s.context_span, s.kind) == s.context
        assert end <= s.start < s.end, (s.start, s.end, end)
        assert s.text == s.text.strip(), repr(s.text[:60])
        end = s.end
    assert uncovered(text, segments, substantive_spans(text)) == []


def uncovered(text: str, segments: list[Segment], spans: list[tuple[int, int]]) -> list[str]:
    """Non-whitespace text of ``spans`` that no segment covers."""
    starts = [s.start for s in segments]
    missing = []
    for a, b in spans:
        pos = a
        while pos < b:
            k = bisect.bisect_right(starts, pos) - 1
            if k >= 0 and segments[k].start <= pos < segments[k].end:
                pos = segments[k].end
                continue
            stop = min(b, starts[k + 1] if k + 1 < len(starts) else b)
            if text[pos:stop].strip():
                missing.append(text[pos:stop])
            pos = stop
    return missing


def covered(text: str, segments: list[Segment], needle: str) -> bool:
    at = text.index(needle)
    return any(s.start <= at < s.end for s in segments)


def find(segments: list[Segment], needle: str) -> Segment:
    return next(s for s in segments if needle in s.text)


# --- structure ------------------------------------------------------------------------------------

NESTED = """\
# Privacy Policy

Intro paragraph that explains what this policy covers and who it applies to.

## 4. Your Choices

### 4.2 Opt-out of AI training

You can object to the use of your data for training our models at any time in settings.

(a) We stop using your data within 30 days of your objection.

Back to top
"""


def test_markdown_headings_give_the_path_and_are_not_provisions() -> None:
    segments = segment(NESTED)
    check_invariants(NESTED, segments)
    assert [s.heading_path for s in segments] == [
        ("Privacy Policy",),
        ("Privacy Policy", "4. Your Choices", "4.2 Opt-out of AI training"),
        ("Privacy Policy", "4. Your Choices", "4.2 Opt-out of AI training"),
    ]
    assert [s.kind for s in segments] == ["paragraph", "paragraph", "clause"]
    assert [s.label for s in segments] == [None, None, "(a)"]
    assert segments[1].title == "4.2 Opt-out of AI training"
    assert segments[2].title == "(a) We stop using your data within 30 days of your objection"
    assert not covered(NESTED, segments, "Back to top")


FLAT = """\
Terms of Service

1. Your Use of Quora

1.1 Age requirements. Use of Quora by anyone under 13 years of age is prohibited.

1.2 Registration. When you set up a profile you will be asked to provide information.

3.2 License and Permission to Use Your Content.

By submitting Your Content you grant Quora a nonexclusive, worldwide, royalty free license.

3.3 Your Responsibilities. By posting Your Content you represent that you own the rights.
"""


def test_numbered_lines_act_as_headings_in_flat_documents() -> None:
    segments = segment(FLAT)
    check_invariants(FLAT, segments)
    by_label = {s.label: s for s in segments}
    assert by_label["1.1"].heading_path == ("1. Your Use of Quora",)
    assert by_label["1.1"].title == "1.1 Age requirements"
    licence = find(segments, "By submitting")
    assert licence.heading_path[-1] == "3.2 License and Permission to Use Your Content."
    assert by_label["3.3"].heading_path == ("1. Your Use of Quora",)  # 3.3 is not inside 3.2


BOLD_AND_SETEXT = """\
What's in these Terms?
======================

**1. Who your contract is with**
--------------------------------

The company you are contracting with depends on where you are resident.

**1.1 Minimum age**

You can only use the Platform if you are 13 years or older.

**2. Changes**
--------------

We may change these Terms when the law requires it or when we change the Platform.
"""


def test_setext_and_bold_only_headings_nest_by_their_numbers() -> None:
    segments = segment(BOLD_AND_SETEXT)
    check_invariants(BOLD_AND_SETEXT, segments)
    assert [s.heading_path for s in segments] == [
        ("What's in these Terms?", "1. Who your contract is with"),
        ("What's in these Terms?", "1. Who your contract is with", "1.1 Minimum age"),
        ("What's in these Terms?", "2. Changes"),
    ]


LISTS = """\
## 4.4 What you can do

You can use the Platform to:

- create and share content;
- interact with other users;
- view content created by others.

By using the Services, you state that:

- You are at least 13 years old and over the minimum age required by the laws of your country;
- You can form a binding contract with Reddit or your guardian has reviewed these Terms;
- You have not been permanently suspended or removed from the Services by us before.
    - E.g. an account that was banned for spam.
"""


def test_plain_lists_stay_with_their_lead_in_and_obligation_lists_split() -> None:
    segments = segment(LISTS)
    check_invariants(LISTS, segments)
    assert segments[0].text.startswith("You can use the Platform to:")
    assert segments[0].text.endswith("view content created by others.")
    assert [s.kind for s in segments] == ["paragraph", "paragraph", *["list_item"] * 3]
    assert segments[2].text.startswith("You are at least 13")  # the bullet is not part of it
    assert segments[2].context == "By using the Services, you state that:"
    lead_in = segments[1]  # the lead-in is a provision of its own, and the span it was read from
    assert segments[2].context_span == (lead_in.start, lead_in.end)
    assert segments[4].context_span == segments[2].context_span
    assert segments[4].text.endswith("banned for spam.")  # a short example stays with its item


NAVIGATION = """\
Home > Legal > Terms

## Table of Contents:

1. [Introduction](#introduction)
2. [Obligations](#obligations)

- 1. Introduction
- 2. Obligations

## 1. Introduction

Welcome to the service, which we provide to you under these terms and conditions.

Skip to content

- * *

## 2. Obligations

You must keep your password secret and must not share your account with anyone else.

- - -

Second source document paragraph, which starts a new heading path from scratch.
"""


def test_navigation_is_not_a_provision() -> None:
    segments = segment(NAVIGATION)
    check_invariants(NAVIGATION, segments)
    assert [s.text.split()[0] for s in segments] == ["Welcome", "You", "Second"]
    assert segments[-1].heading_path == ()  # "- - -" joins independent sources


TABLE = """\
| | |
| --- | --- |
| **Why we use your data** | **Data we use** |
| To allow Members to register for an account. | Your account information |
| To enable two-factor authentication. | Phone number<br><br>Name |
| | |
"""


def test_table_rows_are_provisions_with_their_header_as_context() -> None:
    segments = segment(TABLE)
    check_invariants(TABLE, segments)
    assert [s.kind for s in segments] == ["table_row", "table_row"]
    assert segments[0].context == "Why we use your data | Data we use"
    assert segments[1].title == "To enable two-factor authentication"


def test_address_blocks_and_flattened_records_are_one_provision_each() -> None:
    text = (
        "#### By Mail:\n\nIf you are in the Designated Countries:\n\nData Protection Officer\n\n"
        "Wilton Plaza\n\nDublin 2\n\nIreland\n\n## Cookies\n\nName\n\nlscr\n\nDescription\n\n"
        "This cookie is for admin authentication\n\nName\n\n_ga\n\nDescription\n\n"
        "This cookie is for analytics\n"
    )
    segments = segment(text)
    check_invariants(text, segments)
    assert len(segments) == 3
    assert segments[0].text.endswith("Ireland")
    assert segments[2].text.startswith("Name\n\n_ga")  # a repeated first line starts a record


def test_documents_nested_in_list_items_and_quotes_keep_their_structure() -> None:
    text = (
        "1. Introduction\n    ------------\n\n    ### 1.1 Contract\n\n"
        "    When you use our Services you agree to all of these terms and policies.\n\n"
        "> SCHEDULE 1\n> ----------\n>\n> If you reside in the United States these terms apply.\n"
    )
    segments = segment(text)
    check_invariants(text, segments)
    assert [s.heading_path for s in segments] == [
        ("1. Introduction", "1.1 Contract"),
        ("SCHEDULE 1",),
    ]


def test_giant_flattened_paragraphs_split_at_inline_clause_labels() -> None:
    clause = "Subject to these terms you may use the API for approved purposes only. " * 12
    text = " ".join(f"**{c}. Heading {c}.** {clause}" for c in "ABCDEFGHIJ")
    segments = segment(text)
    check_invariants(text, segments)
    assert [s.label for s in segments] == list("ABCDEFGHIJ")


def test_section_references_are_not_labels() -> None:
    assert segment("Section 2 below explains this in more detail.")[0].label is None
    assert segment("Section 2. Privacy. We care about your privacy.")[0].label == "2"


def test_empty_and_heading_only_texts() -> None:
    assert segment("") == []
    assert segment("# Title\n\n## Sub\n\n---\n") == []
    assert substantive_spans("# Title\n") == []


# --- property: any mix of blocks ------------------------------------------------------------------

_counter = iter(range(10**9))


def _token(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


@st.composite
def blocks(draw: st.DrawFn) -> tuple[str, list[str], list[str]]:
    """One Markdown block, with the tokens that must be inside / outside provisions."""
    kind = draw(
        st.sampled_from(
            ["atx", "setext", "bold", "numbered", "para", "list", "nested", "table", "nav", "short"]
        )
    )
    words = draw(st.lists(st.sampled_from(["we", "may", "data", "your", "use", "the"]), min_size=9))
    body = " ".join(words)
    if kind == "atx":
        tok = _token("h")
        return f"{'#' * draw(st.integers(1, 6))} Heading {tok}", [], [tok]
    if kind == "setext":
        tok = _token("h")
        return f"Part {tok}\n{draw(st.sampled_from(['===', '---']))}", [], [tok]
    if kind == "bold":
        tok = _token("h")
        return f"**{draw(st.integers(1, 9))}.{draw(st.integers(1, 9))} Title {tok}**", [], [tok]
    if kind == "numbered":  # between prose: right after a list it would continue the list
        tok, before, after = _token("h"), _token("b"), _token("b")
        title = f"{draw(st.integers(1, 20))}. Section {tok}"
        return f"{before} {body}.\n\n{title}\n\n{after} {body}.", [before, after], [tok]
    if kind == "para":
        sentences = [_token("b") for _ in range(draw(st.integers(1, 3)))]
        sep = draw(st.sampled_from([" ", "\n"]))
        return sep.join(f"{t} {body}." for t in sentences), sentences, []
    if kind in ("list", "nested"):
        items: list[str] = []
        lines: list[str] = []
        for _ in range(draw(st.integers(1, 5))):
            tok = _token("b")
            items.append(tok)
            long = draw(st.booleans())
            marker = draw(st.sampled_from(["-", "*", "1."]))
            nested = kind == "nested" and bool(lines) and draw(st.booleans())
            lines.append(f"{'    ' if nested else ''}{marker} {tok} {body if long else 'name'};")
        return "\n".join(lines), items, []
    if kind == "table":
        head, toks = _token("h"), [_token("b") for _ in range(draw(st.integers(1, 4)))]
        rows = [f"| {t} {body} | cell |" for t in toks]
        return "\n".join([f"| Column {head} | Other |", "| --- | --- |", *rows]), toks, [head]
    if kind == "nav":
        tok = _token("n")
        return (
            draw(
                st.sampled_from(
                    [
                        f"- [Go {tok}](#a)\n- [Also {tok}](#b)",
                        f"Back to top\n\n[Learn more {tok}](#x)",
                        f"- - -\n\n[{tok}](#top)",
                    ]
                )
            ),
            [],
            [tok],
        )
    return "Short line", [], []  # may be a heading or a provision: only invariants apply


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(blocks(), min_size=1, max_size=14), st.sampled_from(["\n\n", "\n\n\n", "\n  \n"]))
def test_any_document_is_covered_exactly(
    parts: list[tuple[str, list[str], list[str]]], gap: str
) -> None:
    text = gap.join(block for block, _, _ in parts) + "\n"
    segments = segment(text)
    check_invariants(text, segments)
    for _, inside, outside in parts:
        for tok in inside:
            assert covered(text, segments, tok), (tok, text)
        for tok in outside:
            assert not covered(text, segments, tok), (tok, text)


_PIECES = ["**", "- ", "1. ", "# ", "| a | b |\n", "---\n", "(a) ", "Section 3 ", "[x](#y)"]
_NOISE = st.sampled_from(
    [*"ab cX1.2()#*-_|>[]:\n\n\t=", *_PIECES, "\xa0", "Back to top\n", "- - -\n", "<br>", "    "]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_NOISE, max_size=120).map("".join))
def test_markdown_noise_never_breaks_the_invariants(text: str) -> None:
    segments = segment(text)
    check_invariants(text, segments)
    assert all(s.title for s in segments)


# --- the 133 real documents -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def latest() -> dict[tuple[str, str], str]:
    texts: dict[tuple[str, str], str] = {}
    with lzma.open(JSONL, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["text"] is not None:
                texts[record["service"], record["terms_type"]] = record["text"]
    return texts


def test_every_real_document_segments_sanely(latest: dict[tuple[str, str], str]) -> None:
    assert len(latest) == 133
    per_document = []
    for key, raw in latest.items():
        for text in (raw, normalise_for_hash(raw)):
            segments = segment(text)
            check_invariants(text, segments)
            assert segments or len(text) < 1000, key
            for s in segments:  # only a table cell or a one-block paragraph may be a giant
                assert len(s.text) < 6000 or s.kind == "table_row" or "\n\n" not in s.text, key
        per_document.append(len(segments))
        assert 20 <= statistics.median(len(s.text) for s in segments) <= 1500, key
    assert min(per_document) >= 2 and statistics.median(per_document) >= 50


def test_what_a_lawyer_cites(latest: dict[tuple[str, str], str]) -> None:
    tiktok = normalise_for_hash(latest["TikTok", "Terms of Service"])
    segments = segment(tiktok)
    assert not covered(tiktok, segments, "- 1. Who your contract is with")  # table of contents
    can_do = find(segments, "You can use the Platform to:")
    assert can_do.heading_path[-2:] == (
        "4. Using the Platform",
        "4.4 What you can do on the Platform",
    )
    assert "- create and share content;" in can_do.text

    linkedin = normalise_for_hash(latest["LinkedIn", "Privacy Policy"])
    segments = segment(linkedin)
    row = find(segments, "To detect and combat the spread of Child Sexual Abuse Material")
    assert row.kind == "table_row" and row.context == "Why and how we use your data | Data we use"
    assert "Wilton Plaza" in find(segments, "If you are in the Designated Countries:").text

    terms = normalise_for_hash(latest["LinkedIn", "Terms of Service"])
    segments = segment(terms)
    assert not covered(terms, segments, "[Obligations](#obligations)")
    assert find(segments, "When you use our Services you agree").heading_path[-2:] == (
        "1. Introduction",
        "1.1 Contract",
    )

    facebook = latest["Facebook", "Terms of Service"]
    assert not covered(facebook, segment(facebook), "Return to top")
    spotify = latest["Spotify", "Community Guidelines"]
    assert not any(s.text.startswith("Home") for s in segment(spotify))  # repeated site menu
    x_developer = latest["X", "Developer Terms"]
    assert max(len(s.text) for s in segment(x_developer)) < 15_000  # one-line agreement, split


def test_facebook_privacy_policy_reads_like_its_sections(
    latest: dict[tuple[str, str], str],
) -> None:
    text = latest["Facebook", "Privacy Policy"]
    segments = segment(text)
    kinds = {s.kind for s in segments}
    assert kinds >= {"paragraph", "list_item"}
    sections = {s.heading_path[0] for s in segments if s.heading_path}
    assert "What information do we collect?" in sections
    assert not any(re.fullmatch(r"\W*", s.text) for s in segments)
