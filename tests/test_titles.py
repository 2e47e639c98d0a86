"""Human provision titles (issue #12 item 2): headings, labels, bold leads, natural cuts, unique."""

from __future__ import annotations

import re

import pytest

from clausewatch.provisions.segment import Segment, segment
from clausewatch.provisions.titles import (
    DANGLING,
    dedupe_label,
    lead_words,
    segment_title,
    titles_for,
)


def seg(text: str, *path: str, kind: str = "paragraph", label: str | None = None) -> Segment:
    return Segment(0, len(text), text, tuple(path), kind, label)  # type: ignore[arg-type]


def titles(text: str) -> list[str]:
    return [s.title for s in segment(text)]


# --- the five examples --------------------------------------------------------------------


def test_table_row_is_titled_by_its_first_cell_not_a_run_into_the_next() -> None:
    text = (
        "| Why we use your data | Data we use |\n| --- | --- |\n"
        "| **To train our content-generating Generative AI systems** | To train, fine-tune, "
        "evaluate and improve our Generative AI models used to create content |\n"
    )
    assert titles(text) == ["To train our content-generating Generative AI systems"]


def test_numbered_item_cut_before_the_parenthesis_not_inside_it() -> None:
    text = (
        "Developers must not:\n\n"
        "7.  Request or obtain more Content than is minimally required by the Application to "
        "provide a high quality experience to Users;\n"
        "8.  Sell, rent, lease, disclose, distribute, share (with the exception of making the "
        "Content available to Users through the Application), transfer, sublicense, communicate, "
        "or otherwise make available, any Content, directly or indirectly, to any third party.\n"
    )
    got = titles(text)[-1]
    assert got == "8. Sell, rent, lease, disclose, distribute, share"


def test_a_label_written_twice_is_written_once() -> None:
    text = (
        "1.  5\\. Termination\n    ---------------\n    \n"
        "    We can each end this Contract whenever we want.\n"
    )
    assert titles(text) == ["5. Termination"]
    assert dedupe_label("5. 5. Termination") == "5. Termination"
    assert dedupe_label("3. 2. How We Use Your Data") == "2. How We Use Your Data"
    assert dedupe_label("1. 1.1 Contract") == "1.1 Contract"
    assert dedupe_label("4.2 Opt-out of AI training") == "4.2 Opt-out of AI training"
    assert dedupe_label("3. 30 days notice") == "3. 30 days notice"


def test_a_list_number_over_a_heading_with_its_own_number() -> None:
    assert segment_title(seg("We use it to run LinkedIn.", "3. 2. How We Use Your Data")) == (
        "2. How We Use Your Data"
    )


def test_bold_lead_is_the_title() -> None:
    assert segment_title(seg("**Termination.** We may end this agreement at any time.")) == (
        "Termination"
    )
    assert segment_title(seg("**Termination**: We may end it.", "Terms")) == "Termination"
    # Bold emphasis inside a sentence is not a title.
    assert segment_title(seg("**Do not** share your password with anyone.", "Security")) == (
        "Security"
    )
    # A bold label before a bold title: the title, with the label once.
    text = "**a.** **Requirement for Safeguards**: You will comply with security measures."
    assert segment_title(seg(text, kind="clause", label="a")) == "a. Requirement for Safeguards"


def test_linked_term_that_the_text_defines() -> None:
    text = "[Your activity data](https://example.com/a?x=1): This is data that we observe."
    assert segment_title(seg(text, kind="list_item")) == "Your activity data"


# --- natural boundaries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Short sentence.", "Short sentence"),
        ("Is this allowed?", "Is this allowed?"),
        (
            "We may collect information about you. We use it to provide the services you ask for.",
            "We may collect information about you",
        ),
        (
            "If you create an account, we collect your name and email address and the "
            "information you provide",
            "If you create an account",
        ),
        (
            "We recommend streamers wear attire that would be publicly acceptable in most "
            "public places and events",
            "We recommend streamers wear attire",
        ),
    ],
)
def test_lead_words_end_at_a_natural_boundary(text: str, expected: str) -> None:
    assert lead_words(text) == expected


def test_lead_words_never_end_on_a_dangling_word_or_open_bracket() -> None:
    text = (
        "Content that promotes the sale of regulated goods and services (including firearms "
        "and ammunition, explosives, and fireworks) to people under the age"
    )
    for limit in range(20, 120, 3):
        got = lead_words(text, limit)
        assert got, limit
        assert got.split()[-1].casefold() not in DANGLING, (limit, got)
        assert got.count("(") == got.count(")"), (limit, got)
        assert not got.endswith(("…", ",", ";", ":")), (limit, got)


def test_list_items_end_without_their_connector_and_start_with_a_capital() -> None:
    text = "You confirm that:\n\n- you are at least 13 years old and able to agree; and\n"
    text += "- you are not a convicted sex offender; and\n- you will follow these Terms.\n"
    doc = "A long enough paragraph to keep the list items apart from the lead-in paragraph."
    got = titles(doc + "\n\n" + text.replace("- ", "- " + "really " * 5))
    assert all(not t.endswith(("; and", ", and", "; or")) for t in got)
    assert all(t[0].isupper() for t in got)


def test_titles_are_plain_text() -> None:
    texts = [
        "| **Name** | Purpose |\n|---|---|\n| `_ga` | Analytics<br>cookie |\n",
        "Visit our [Help Center](https://help.example.com/a_b?c=d) for more <br><br> about it.\n",
        "![](data:image/svg+xml,%3Csvg%3E) \\- **Be respectful.** Treat others as you would.\n",
        "&quot;Quoted&quot; words &amp; more words here to see.\n",
    ]
    for text in texts:
        for title in titles(text):
            assert not re.search(r"\*\*|__|\]\(|<[a-z/]|\||^#|\\|&\w+;|`", title), title


# --- table rows ----------------------------------------------------------------------------------


def test_table_row_with_a_name_cell_gets_its_column_header() -> None:
    text = (
        "| Cookie | Purpose | Duration |\n|---|---|---|\n"
        "| _ga | Used to distinguish users. | 2 years |\n"
        "| _gid | Used to distinguish users. | 24 hours |\n"
    )
    assert titles(text) == ["Cookie: _ga", "Cookie: _gid"]


def test_table_row_with_an_empty_first_cell_uses_the_first_filled_one() -> None:
    text = "| | |\n|---|---|\n| | Reddit Pro Users |\n"
    assert titles(text) == ["Reddit Pro Users"]


# --- unique within a document ---------------------------------------------------------------------


def test_paragraphs_under_one_heading_get_their_own_lead_words() -> None:
    text = (
        "## Data Retention\n\n"
        "How long we keep logs depends on the service. We keep them for 30 days.\n\n"
        "When you delete your account, we delete your posts within 90 days.\n"
    )
    assert titles(text) == [
        "Data Retention — How long we keep logs depends on the service",
        "Data Retention — When you delete your account",
    ]


def test_a_lone_paragraph_keeps_its_heading_as_title() -> None:
    text = "## Data Retention\n\nWe keep logs for 30 days.\n\n## Security\n\nWe encrypt data.\n"
    assert titles(text) == ["Data Retention", "Security"]


def test_same_heading_in_different_sections_is_told_apart_by_section() -> None:
    text = (
        "# Bullying\n\n## User experiences\n\nWe notify people about takedowns.\n\n"
        "# Hate speech\n\n## User experiences\n\nWe notify people about takedowns.\n"
    )
    got = titles(text)
    assert len(set(got)) == 2
    assert got[0].startswith("Bullying — User experiences")
    assert got[1].startswith("Hate speech — User experiences")


def test_repeated_text_is_numbered_as_a_last_resort() -> None:
    text = "## Examples\n\n" + "\n\n".join(["Data"] * 3) + "\n"
    segments = [seg("Data", "Examples") for _ in range(3)]
    assert titles_for(segments) == ["Examples — Data", "Examples — Data (2)", "Examples — Data (3)"]
    assert len(set(titles(text))) == len(titles(text))


def test_titles_for_matches_segment_output_and_is_pure() -> None:
    text = "## A\n\nOne paragraph here.\n\nAnother paragraph here.\n\n- item one is long enough\n"
    segments = segment(text)
    assert titles_for(segments) == [s.title for s in segments]
    assert titles_for(segments) == titles_for(segments)
    # A segment rebuilt from a stored layout (no document context) still has a human title.
    bare = [Segment(s.start, s.end, s.text, s.heading_path, s.kind, s.label) for s in segments]
    assert bare == segments
    assert all(b.title for b in bare)
