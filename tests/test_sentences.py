"""Sentence spans of real provisions (quoted from ../shared/data, source in each comment)."""

from __future__ import annotations

import itertools

import pytest

from clausewatch.classify.sentences import sentence_spans


def pieces(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


@pytest.mark.parametrize(
    "text",
    [
        # ota Facebook/Terms of Service: domain inside a sentence
        "The websites under www.facebook.com and the services on these pages are being offered to"
        " you by: Meta Platforms Ireland Limited, Merrion Road, Dublin 4, D04 X2K5, Ireland",
        # ota LINE/Privacy Policy: Markdown link whose target has dots
        "We may collect and use information by leveraging [technologies such as association "
        "learning and differential privacy](https://privacy.lycorp.co.jp/en/acquisition/"
        "privacy_techs.html) in order to better protect your privacy.",
        # ota Parler/Privacy Policy: e-mail address in a link
        "You may request additional information about the safeguards we use for international "
        "transfers by contacting us at [privacy@parler.com](mailto:privacy@parler.com).",
        # ota Instagram/Community Guidelines: "e.g." before a capital
        "We may remove accounts based on their interactions with other violating accounts, "
        "searches for or interactions with violating content, or membership in communities "
        "(e.g. Groups) we have removed for violating our policies.",
        # ota LinkedIn/Developer Terms: "i.e.," and a list marker at the start
        "2.  Use the APIs to retrieve Content that is then aggregated with third party data in "
        "such a way that a User cannot attribute the Content to LinkedIn (i.e., aggregated search"
        " results).",
        # ota Instagram/Community Guidelines: "U.S." before a capital
        "False or unverified claims that the U.S. Immigration and Customs Enforcement (ICE) is at"
        " a voting location.",
        # ota LinkedIn/Trackers Policy: decimal section number
        "As described in [Section 2.4 of the Privacy Policy](https://www.linkedin.com/legal/"
        "privacy-policy), you have choices regarding the personalized ads you may see.",
        # ota Instagram/Developer Terms: roman clause marker and ";" clause list
        "ii. You will obtain (and represent and warrant that you own or have secured) all rights "
        "necessary from all applicable rights holders to (1) grant the licenses, rights, and "
        "permissions in these Terms; (2) display, distribute, and deliver all information, data,"
        " and other content in your App; and (3) otherwise operate your App.",
        # ota LinkedIn/Developer Terms: bold letter marker
        "**c.**  you will comply with the requirements to delete stored Content as per Section "
        "4.5 herein;",
    ],
)
def test_one_sentence_stays_whole(text: str) -> None:
    assert pieces(text) == [text.strip()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # ota Instagram/Developer Terms: "Inc." followed by lowercase is not an end
            'i. For transfers of Meta UK Data, Meta Platforms, Inc. is the "data exporter" and '
            'you are the "data importer" as defined in the Approved Addendum. For transfers of '
            'Developer UK Data, you are the "data exporter" and Meta Platforms, Inc. is the '
            '"data importer."',
            [
                'i. For transfers of Meta UK Data, Meta Platforms, Inc. is the "data exporter" '
                'and you are the "data importer" as defined in the Approved Addendum.',
                'For transfers of Developer UK Data, you are the "data exporter" and Meta '
                'Platforms, Inc. is the "data importer."',
            ],
        ),
        (  # ota Spotify/Community Guidelines: "etc." ends a sentence before "This"
            "Our algorithms take into account the characteristics of the content itself, such as "
            "its genre, release date, podcast category, etc. This allows us to identify which "
            "content has similar characteristics and might be enjoyed by similar listeners.",
            [
                "Our algorithms take into account the characteristics of the content itself, "
                "such as its genre, release date, podcast category, etc.",
                "This allows us to identify which content has similar characteristics and might "
                "be enjoyed by similar listeners.",
            ],
        ),
        (  # ota Facebook/Law Enforcement Guidelines: "U.S.C." inside, "Inc." at the start
            "Meta Platforms, Inc. discloses account records solely in accordance with our Terms "
            "of Service and applicable law, including the federal Stored Communications Act "
            '("SCA"), 18 U.S.C. Sections 2701-2712. Under US law:',
            [
                "Meta Platforms, Inc. discloses account records solely in accordance with our "
                "Terms of Service and applicable law, including the federal Stored Communications"
                ' Act ("SCA"), 18 U.S.C. Sections 2701-2712.',
                "Under US law:",
            ],
        ),
        (  # ota Twitch/Community Guidelines: emphasis around the final period
            "Anyone should be able to talk about their struggles, if they so choose**.** However, "
            "**Twitch does not allow content that glorifies, promotes, or encourages self-harm.",
            [
                "Anyone should be able to talk about their struggles, if they so choose**.**",
                "However, **Twitch does not allow content that glorifies, promotes, or encourages"
                " self-harm.",
            ],
        ),
        (  # ota Facebook/Terms of Service: address lines; "No." is not an end
            "Authorized representative: Anne O'Leary  \nRegistered in Ireland (Companies "
            "Registration Office)  \nCompany No. 462932",
            [
                "Authorized representative: Anne O'Leary",
                "Registered in Ireland (Companies Registration Office)",
                "Company No. 462932",
            ],
        ),
        (  # ota Instagram/Developer Terms: bold run-in heading with a letter label
            "**a. Prohibited Practices.** You will not perform, or facilitate or support others "
            "in performing, any of the following prohibited practices (collectively, “Prohibited"
            " Practices”):",
            [
                "**a. Prohibited Practices.**",
                "You will not perform, or facilitate or support others in performing, any of the "
                "following prohibited practices (collectively, “Prohibited Practices”):",
            ],
        ),
        (  # extraction ChatGPT/Acceptable Use Policy: lead-in and list items
            "Our policies prohibit using ChatGPT agent to defraud, scam, spam, or mislead others, "
            "including:\n\n*   Deceiving others for financial gain or manipulation.\n"
            "*   Impersonating individuals or organizations without consent or legal right",
            [
                "Our policies prohibit using ChatGPT agent to defraud, scam, spam, or mislead "
                "others, including:",
                "*   Deceiving others for financial gain or manipulation.",
                "*   Impersonating individuals or organizations without consent or legal right",
            ],
        ),
        (  # ota Twitter/Terms of Service: "X." ends a sentence before a bold clause label
            "or communications provided by X. **5\\. Injunctive Relief.** Notwithstanding the "
            "foregoing, you agree",
            [
                "or communications provided by X.",
                "**5\\. Injunctive Relief.**",
                "Notwithstanding the foregoing, you agree",
            ],
        ),
    ],
)
def test_splits_real_provisions(text: str, expected: list[str]) -> None:
    assert pieces(text) == expected


def test_soft_wrap_is_not_a_boundary() -> None:
    # ota (BeReal) privacy policy: a hard break inside a bold phrase
    text = "**We collect some data  \nabout you**"
    assert pieces(text) == [text]


def test_markup_only_pieces_fold_into_a_neighbour() -> None:
    text = "We do not sell your personal data.\n\n* * *\n\nNext section."
    assert pieces(text) == ["We do not sell your personal data.\n\n* * *", "Next section."]


def test_long_semicolon_sentence_is_cut_but_short_list_is_not() -> None:
    clause = "you will not copy, modify or distribute any part of the Services without consent"
    short = "; ".join([clause] * 3) + "."
    assert pieces(short) == [short]
    long = "; ".join([clause] * 6) + "."
    got = pieces(long)
    assert len(got) > 1 and all(p.split()[0] == "you" for p in got)


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_empty_text_has_no_spans(text: str) -> None:
    assert sentence_spans(text) == []


def test_no_boundary_gives_the_whole_text() -> None:
    assert sentence_spans("Terms of Service") == [(0, 16)]


def test_spans_are_exact_ordered_and_disjoint_on_real_provisions() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction"
    texts = [p.read_text(encoding="utf-8") for p in sorted(path.glob("*/*/expected.md"))[:8]]
    if not texts:
        pytest.skip("no shared data")
    for text in texts:
        spans = sentence_spans(text)
        assert spans
        for (a, b), (c, _) in itertools.pairwise(spans):
            assert a < b <= c
        for a, b in spans:
            assert text[a:b] == text[a:b].strip() and any(ch.isalnum() for ch in text[a:b])


def test_html_line_breaks_and_table_cells_end_sentences() -> None:
    # ota pga Spotify/Privacy Policy: a table row whose cells hold lists joined by <br>
    row = (
        "| Advertising partners | * User Data<br>* Usage Data | So Spotify and our advertising "
        "partners can deliver more relevant advertising. |"
    )
    pieces = [row[a:b] for a, b in sentence_spans(row)]
    assert pieces == [
        "Advertising partners",
        "* User Data",
        "* Usage Data",
        "So Spotify and our advertising partners can deliver more relevant advertising.",
    ]
    cell = "We may use this information.<br><br>We do not disclose data of users under 18."
    assert [cell[a:b] for a, b in sentence_spans(cell)] == [
        "We may use this information.",
        "We do not disclose data of users under 18.",
    ]
    # ota pga WeChat/Privacy Policy: a cell that ends with a full stop, then the next cell
    wechat = (
        "| **Access tokens.** Access tokens that facilitate the linkage of your WeChat account. "
        "<br>**Legal Basis**: Necessary to perform our contract with you. | If you connect third "
        "party social media accounts to your WeChat account, we process access tokens. | We do "
        "not store this. This is accessed momentarily. |"
    )
    assert [wechat[a:b] for a, b in sentence_spans(wechat)][2:] == [
        "**Legal Basis**: Necessary to perform our contract with you.",
        "If you connect third party social media accounts to your WeChat account, we process "
        "access tokens.",
        "We do not store this.",
        "This is accessed momentarily.",
    ]
    prose = "Choose yes | no in the form. Then save."
    assert [prose[a:b] for a, b in sentence_spans(prose)] == [
        "Choose yes | no in the form.",
        "Then save.",
    ]
