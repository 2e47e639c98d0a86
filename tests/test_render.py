"""Archived Markdown for readers (clausewatch.render): safe HTML, clean plain text, redlines and
search snippets."""

from __future__ import annotations

import json
import lzma
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html
from markupsafe import Markup

from clausewatch import render
from clausewatch.render import (
    marked_plain_html,
    redline_html,
    to_html,
    to_plain,
    to_plain_line,
)
from tests.archive_fixtures import SHARED_DATA

ALLOWED_TAGS = {
    "p", "strong", "em", "a", "code", "pre", "table", "thead", "tbody", "tr", "th", "td",
    "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "hr", "br", "ins", "del", "mark",
    "details", "summary",
}  # fmt: skip
ALLOWED_ATTRS = {"href", "rel", "title", "start", "class", "style", "colspan"}

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "[x](javascript:alert(1))",
    "[x](JavaScript:alert(1))",
    "[x](  javascript:alert(1) )",
    "[x](java\tscript:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "[x](file:///etc/passwd)",
    "[ref][1]\n\n[1]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "![pic](javascript:alert(1))",
    "![pic](http://tracker.example/p.gif)",
    '[x](http://ok.example/ "a\\" onmouseover=\\"alert(1)")',
    "<a href='javascript:alert(1)'>x</a>",
    "<iframe src=//evil.example></iframe>",
    "| a | <b onclick=alert(1)>b</b> |",
    "<br onload=alert(1)>",
]


def elements(fragment: str) -> list[lxml_html.HtmlElement]:
    root = lxml_html.fragment_fromstring(f"<div>{fragment}</div>")
    return list(root.iter())[1:]  # not the wrapper


def assert_safe(fragment: str) -> None:
    for el in elements(fragment):
        assert el.tag in ALLOWED_TAGS, (el.tag, fragment)
        for name, value in el.attrib.items():
            assert name in ALLOWED_ATTRS and not name.startswith("on"), (name, fragment)
            if name == "href":
                assert value.startswith(("http://", "https://", "mailto:")), fragment
                assert el.get("rel") == "nofollow noopener noreferrer"


def test_hostile_archived_text_never_becomes_markup() -> None:
    for text in HOSTILE:
        out = to_html(text)
        assert isinstance(out, Markup)
        assert_safe(str(out))
        assert "<script" not in out and "<img" not in out and "<iframe" not in out
        assert 'href="javascript' not in str(out).lower()  # text at most, never a link
    # raw HTML is shown as text, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in to_html(HOSTILE[0])
    assert "&lt;img src=x onerror=alert(2)&gt;" in to_html(HOSTILE[1])


def test_unsafe_links_keep_their_text_only() -> None:
    out = str(to_html("See [the rules](javascript:alert(1)) and [here](/relative) or [top](#x)."))
    assert "<a" not in out and "See the rules and here or top." in out
    out = str(to_html("[Learn more](https://example.com/a?b=1&c=2) <https://example.org>"))
    links = [el for el in elements(out) if el.tag == "a"]
    assert [a.get("href") for a in links] == [
        "https://example.com/a?b=1&c=2",
        "https://example.org",
    ]
    assert all(a.get("rel") == "nofollow noopener noreferrer" for a in links)
    assert "[Learn more]" not in out and "](" not in out
    assert "<a" in str(to_html("[write](mailto:dpo@example.com)"))


def test_images_are_not_fetched() -> None:
    out = str(to_html("Logo: ![the logo](https://example.com/logo.png)"))
    assert "<img" not in out and "the logo" in out


def test_markdown_becomes_formatting() -> None:
    out = str(to_html("# Terms\n\n#### Last Updated\n\n**we**, _us_ and\n\n1. one\n2. two"))
    assert "<h3>Terms</h3>" in out and "<h6>Last Updated</h6>" in out  # below the page's h1/h2
    assert "<strong>we</strong>" in out and "<em>us</em>" in out and "<ol>" in out
    assert "#" not in out and "**" not in out
    # indentation is layout in extracted text, not code
    assert "<pre" not in str(
        to_html("        The AAA Rules are at [www.adr.org](https://adr.org/).")
    )


def test_tables_become_tables() -> None:
    table = "| Why | Data |\n| --- | --- |\n| **Safety:** | Name<br>Year of birth<br/>City |"
    out = str(to_html(table))
    assert "<table>" in out and "<th>Why</th>" in out and "<strong>Safety:</strong>" in out
    assert out.count("<br>") == 2 and "&lt;br" not in out
    # a provision is often one row of a table whose header is elsewhere: still a table
    row = "| **Law enforcement:** | To disclose information [when required](https://x.example/l) |"
    out = str(to_html(row))
    assert "<table>" in out and "<thead>" not in out and out.count("<td>") == 2
    assert "|" not in re.sub(r"<[^>]+>", "", out)
    # an empty header row (OTA's "| | |") is dropped; a header alone is nothing
    assert "<thead>" not in str(to_html("| | |\n| --- | --- |\n| a | b |"))
    assert str(to_html("| | |\n| --- | --- |")).strip() == ""
    assert str(to_html("| --- | --- |\n| a | b |")).count("<td>") == 2


def test_br_in_a_paragraph_is_a_line_break() -> None:
    out = str(to_html("Name<br><br>Year<BR />City"))
    assert out.count("<br>") == 3 and "&lt;" not in out


def test_to_plain_is_clean() -> None:
    text = (
        "# Terms\n\n**Safety** and [User Agreement](https://x.example/ua).\n\n"
        "| | |\n| --- | --- |\n| **Why** | Name<br><br>Year |\n\n- one\n- two\n\n"
        "<script>alert(1)</script>"
    )
    plain = to_plain(text)
    assert plain == (
        "Terms\n\nSafety and User Agreement.\n\nWhy — Name; Year\n\n- one\n- two\n\n"
        "<script>alert(1)</script>"
    )
    assert to_plain(None) == "" and to_plain("") == ""


def test_to_plain_line_cleans_cut_fragments() -> None:
    assert to_plain_line("**Safety and security:** To help…") == "Safety and security: To help…"
    assert to_plain_line("rmation, [payment information](https://x.example/bil") == (
        "rmation, payment information"
    )
    assert to_plain_line("more](https://x.example/a) and **bold") == "more and bold"
    assert to_plain_line("Information](#tech-info) and [Usage](#usage) with") == (
        "Information and Usage with"
    )
    assert to_plain_line("| To allow | Your account<br>data |") == "To allow — Your account; data"
    assert to_plain_line("#### Last Updated: May 5") == "Last Updated: May 5"
    assert to_plain_line("snake_case and a_b__c stay") == "snake_case and a_b__c stay"


def test_redline_marks_changes_inside_the_formatting() -> None:
    ops = [
        ("equal", "# Title\n\nSame para.\n\n"),
        ("delete", "Old"),
        ("insert", "New"),
        ("equal", " words **bold** [link](https://x.example/z).\n\n| a | b |\n"),
        ("insert", "| c | d |\n"),
        ("equal", "\n" + "\n\n".join(f"p{i}" for i in range(10))),
    ]
    out = str(redline_html(ops))
    assert_safe(out)
    assert "<del>Old</del><ins>New</ins>" in out and "<strong>bold</strong>" in out
    assert "<td><ins>c</ins></td>" in out and "**" not in out and "](" not in out
    # two blocks of context after the change, the eight others folded
    assert '<details class="unchanged"><summary>8 unchanged blocks</summary>' in out
    assert "<p>p1</p>\n<details" in out
    # the tags always nest: an insertion across paragraphs is closed and reopened
    out = str(redline_html([("equal", "a "), ("insert", "b\n\nc"), ("equal", " d")]))
    assert "<p>a <ins>b</ins></p>" in out and "<p><ins>c</ins> d</p>" in out
    # archived markup in a diff stays text
    hostile = str(redline_html([("insert", "<script>alert(1)</script> [x](javascript:y)")]))
    assert_safe(hostile)
    assert "&lt;script&gt;" in hostile


def test_redline_never_shows_a_split_link_or_bold_marker() -> None:
    """A change that splits a link's URL (the word diff cuts URLs at "/" and ".") or a bold
    run's ``**`` renders each side whole: the old link deleted, the new one inserted."""
    ops = [
        ("equal", "San Francisco, CA 94107"),
        ("delete", "[copyright@reddit.com](mailto:"),
        ("insert", "\n"),
        ("equal", "copyright@reddit.com"),
        ("delete", ")"),
    ]
    out = str(redline_html(ops))
    assert_safe(out)
    text = lxml_html.fromstring(out).text_content()
    assert "](" not in text and "mailto" not in text
    assert '<a href="mailto:copyright@reddit.com" rel="nofollow noopener noreferrer">' in out
    ops = [
        ("equal", "the [Code](https://www."),
        ("delete", "reddit"),
        ("insert", "redditinc"),
        ("equal", ".com/x) and "),
        ("insert", "["),
        ("equal", "Terms"),
        ("delete", ": see [UK](https://uk.example/t)"),
        ("insert", "](https://ie.example/t): see below"),
    ]
    out = str(redline_html(ops))
    text = lxml_html.fromstring(f"<div>{out}</div>").text_content()
    assert "](" not in text and "[" not in text, text
    assert out.count("<a ") == 4 and "https://www.redditinc.com/x" in out
    out = str(redline_html([("equal", "| *"), ("insert", "*Lead:**<br>*"), ("equal", " x |")]))
    assert "**" not in lxml_html.fromstring(out).text_content()
    assert "<strong><ins>Lead:</ins></strong>" in out


def test_redline_folds_unchanged_rows_of_a_long_table() -> None:
    rows = "".join(f"| r{i} | x |\n" for i in range(10))
    ops = [
        ("equal", "| h | k |\n| --- | --- |\n" + rows),
        ("insert", "| new | row |\n"),
        ("equal", rows.replace("r", "s")),
    ]
    out = str(redline_html(ops))
    assert_safe(out)
    assert out.count('<tr class="unchanged"><td colspan="2"><details class="unchanged">') == 2
    assert out.count("<summary>9 unchanged rows</summary>") == 2
    assert "<td><ins>new</ins></td>" in out and "<th>h</th>" in out


def test_redline_keeps_block_syntax_when_a_change_starts_a_line() -> None:
    out = str(redline_html([("equal", "Intro\n\n"), ("insert", "## New section\n\nText")]))
    assert "<h4><ins>New section</ins></h4>" in out
    out = str(redline_html([("equal", "| a | b |\n"), ("delete", "| c | d |"), ("equal", "\n")]))
    assert "<td><del>c</del></td>" in out and "|" not in re.sub(r"<[^>]+>", "", out)


def test_snippet_marks_only() -> None:
    parts = [("foo **bar [learn ", False), ("more", True), ("](https://x.example) <b>x</b>", False)]
    out = str(marked_plain_html(parts))
    assert out == "foo bar learn <mark>more</mark> &lt;b&gt;x&lt;/b&gt;"
    # a match inside a URL disappears with the URL; the marks stay balanced
    out = str(marked_plain_html([("[a](https://x.example/", False), ("b", True), (")", False)]))
    assert out == "a"


TOKENS = [*"ab *_[]()<>|#-:!`/\"'=&;", "\n", "javascript:", "<br>", "http://x.example"]
markdownish = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


@settings(max_examples=150, deadline=None)
@given(markdownish)
def test_any_text_renders_safely(text: str) -> None:
    assert_safe(str(to_html(text)))
    words = text.split(" ")
    ops = [
        ("insert" if i % 3 == 1 else "delete" if i % 3 == 2 else "equal", w + " ")
        for i, w in enumerate(words)
    ]
    assert_safe(str(redline_html(ops)))
    plain = str(marked_plain_html([(w, i % 2 == 1) for i, w in enumerate(words)]))
    assert not re.search(r"<(?!/?mark>)", plain)


def test_a_link_without_text_says_link_in_html_only() -> None:
    """`[](url)` (an icon on the captured page, as in LinkedIn's privacy policy) would be an
    unlabelled link nobody can see or follow; the plain text keeps the source's words."""
    help_url = "https://www.linkedin.com/help/a7152512"
    source = f"data used in this way[]({help_url}) [x](https://e.org/x) [`c`](https://e.org/c)"
    html = str(to_html(source))
    assert f'<a href="{help_url}" rel="nofollow noopener noreferrer">(link)</a>' in html
    assert html.count("(link)") == 1  # links with text, or code, keep theirs
    assert "(link)" not in to_plain(source) and "(link)" not in to_plain_line(source)
    assert "javascript" not in str(to_html("[](javascript:alert(1))"))


# Text with no Markdown syntax skips the parser in to_plain_line (issue #13): it must read the
# same as the parsed text would, on anything.
INERT_OR_NOT = [
    *"ab1 .,;:'\"()/?%$@-\u2019\u2013\u2014\u2026\n*_[]<>|#!`=&+\t\xa0",
    *["1.", "5. ", "05. ", "0. ", "12. ", "1)", "2.5", " 3. ", "---", "\ue001", "\n=", "\n-"],
    " \u2014 ",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(INERT_OR_NOT), max_size=40).map("".join))
def test_plain_line_of_text_without_syntax_skips_the_parser_with_the_same_result(
    text: str,
) -> None:
    assert to_plain_line(text) == render._markdown_plain_line(text)


def test_plain_line_shortcut_on_the_pga_history(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every paragraph of the latest version of 40 pga documents, and 4,000 random cuts of
    their words (quotes and excerpts start and end anywhere): the shortcut, taken by about half
    of them, gives what the parser gives, and the plain-text parser (link targets left as
    written) gives what the HTML one gives."""
    latest: dict[tuple[str, str], str] = {}
    with lzma.open(SHARED_DATA / "ota" / "pga-versions.jsonl.xz", "rt") as f:
        for line in f:
            record = json.loads(line)
            latest[(record["service"], record["terms_type"])] = record.get("text") or ""
    rng = random.Random(13)
    strings: list[str] = []
    for key in sorted(latest)[:40]:
        text = latest[key]
        strings += [p for p in text.split("\n\n") if p.strip()]
        words = text.split(" ")
        for _ in range(100):
            i = rng.randrange(len(words))
            strings.append(" ".join(words[i : i + rng.randint(1, 40)]))
    parsed = [render._markdown_plain_line(s) for s in strings]
    calls: list[str] = []
    monkeypatch.setattr(
        render, "_markdown_plain_line", lambda s: calls.append(s) or parsed[strings.index(s)]
    )
    assert [to_plain_line(s) for s in strings] == parsed
    assert len(calls) < len(strings) * 0.6  # about half skipped the parser
    html_parsed = [render._plain(render._tokens(render._prepare(s))) for s in strings]
    plain_parsed = [render._plain(render._tokens(render._prepare(s), plain=True)) for s in strings]
    assert plain_parsed == html_parsed
