"""Polarity rules and the normalised text view, on real sentences (source in each comment).

Sources: ota = ../shared/data/ota/pga-versions.jsonl.xz (service/document), ext =
../shared/data/extraction/<service>/<doc>/expected.md, claudette = claudette/sentences/<file>.
"""

from __future__ import annotations

import re

import pytest

from clausewatch.classify.normtext import flex, inflect_pattern, normalise
from clausewatch.classify.polarity import (
    addressed_to_user,
    licence_direction,
    list_lead_in,
    negated_practice,
    user_right,
)

# --- normtext -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "pattern"),
    [
        # ext Perplexity/Privacy Policy: curly quotes around the verbs
        (
            "We do not “sell” or “share” sensitive personal data for cross-context behavioral "
            "advertising, although we may transfer it to third parties when you instruct us to do "
            "so.",
            r"we do not sell or share sensitive personal data",
        ),
        # ota Moltbook/Privacy Policy: curly single quotes become straight
        (
            "We currently do not ‘sell’ or ‘share’ your personal information for targeted or "
            "cross-contextual behavioral advertising purposes.",
            r"do not 'sell' or 'share' your",
        ),
        # claudette Facebook.txt: curly apostrophe
        ("We don’t sell your personal data.", r"we don't sell your personal data\."),
        # ota Twitch/Community Guidelines: Markdown emphasis removed
        (
            "However, **Twitch does not allow content that glorifies, promotes, or encourages "
            "self-harm.",
            r"however, twitch does not allow content",
        ),
        # ota LINE/Privacy Policy: link reduced to its text
        (
            "You can confirm our group companies to share Personal Data in “[List of Group "
            "Companies](https://privacy.lycorp.co.jp/en/connection/group.html)”.",
            r"personal data in list of group companies\.$",
        ),
        # ota Facebook/Terms of Service: line breaks and double spaces become one space
        (
            "Authorized representative: Anne O'Leary  \nRegistered in Ireland",
            r"anne o'leary registered in ireland",
        ),
        # claudette Quora.txt: "nonexclusive" and "non-exclusive" read alike
        (
            "you grant Quora and its affiliated companies a nonexclusive, worldwide, royalty free",
            r"a nonexclusive, worldwide",
        ),
        # claudette WhatsApp.txt
        (
            "We grant you a limited, revocable, non-exclusive, non-sublicensable, and "
            "non-transferable license to use our Services",
            r"nonexclusive, nonsublicensable, and nontransferable license",
        ),
        # claudette Grindr.txt: "OPT-OUT" reads "optout"
        ("YOU MAY OPT-OUT OF ARBITRATION.", r"you may optout of arbitration"),
        # ota Bluesky/Privacy Policy: "opt out" reads "optout" too
        (
            "You may opt out of this collection by changing the settings on your mobile device.",
            r"you may optout of this collection",
        ),
        # ota Parler/Privacy Policy: en dash (U+2013) becomes "-"
        ("Data Privacy Framework – EU-U.S.", r"framework - eu-u\.s\."),
    ],
)
def test_normalised_text_matches_plain_pattern(original: str, pattern: str) -> None:
    norm = normalise(original)
    m = re.search(pattern, norm.text)
    assert m is not None, norm.text
    a, b = norm.original_span(m.start(), m.end())
    quoted = original[a:b]
    # the quote is exact original text with the same words as the match
    assert original.find(quoted) == a
    assert _words(normalise(quoted).text) == _words(m.group())


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)


def test_non_refundable_variants_read_alike() -> None:
    # claudette-style variants of one word: hyphen, non-breaking hyphen, space, joined
    for text in ("non-refundable", "non‑refundable", "non refundable", "Nonrefundable"):
        assert normalise(text).text == "nonrefundable"
    assert normalise("pre-installed").text == "preinstalled"
    assert normalise("snake_case stays").text == "snake_case stays"


def test_every_word_maps_back_to_itself_on_real_text() -> None:
    # ota Instagram/Community Guidelines, with quotes, emphasis and a link
    original = (
        "Offering giveaways (i.e., offering others a chance to win) of cash or cash equivalents "
        "in exchange for engagement. (e.g., “Anyone that likes my page will be entered to win "
        "$500”) See **[our policy](https://help.instagram.com/a.b)**."
    )
    norm = normalise(original)
    for m in re.finditer(r"[^\W_]+", norm.text):
        a, b = norm.original_span(m.start(), m.end())
        assert original[a:b].lower() == m.group()
    assert norm.original_span(0, 0) == (0, 0)


def test_flex_tolerates_hyphen_space_or_nothing() -> None:
    rx = re.compile(flex("third party"))
    # claudette / ota phrasing of the same words
    for text in ("third-party services", "third party services", "thirdparty services"):
        assert rx.search(normalise(text).text)


def test_inflect_pattern() -> None:
    rx = re.compile(inflect_pattern("notify"))
    for word in ("notify", "notifies", "notified", "notifying", "notification", "notifications"):
        assert rx.fullmatch(word), word
    assert not rx.search("notifier")
    rx = re.compile(inflect_pattern(["share", "sell", "sold"]))
    for word in ("share", "shares", "shared", "sharing", "sell", "sells", "selling", "sold"):
        assert rx.fullmatch(word), word
    assert re.compile(inflect_pattern("collect")).fullmatch("collection")


# --- negated_practice -----------------------------------------------------------------------------

NEGATED = [
    # claudette Facebook.txt
    ("We don't sell your personal data.", "We don't sell"),
    # ext Perplexity/Privacy Policy
    ("We do not “sell” your personal data for money.", "We do not “sell"),
    # ext Vibe/Privacy Policy
    ("We do not use this Third-Party Content to train our models.", "to train"),
    # ext Perplexity/Privacy Policy
    (
        "We do not use the content of emails to create, train, improve, or fine-tune AI models.",
        "We do not use the content of emails to create, train",
    ),
    # ota Reddit/Privacy Policy
    (
        "We do not engage in profiling of consumers in furtherance of automated decisions that "
        "produce legal or similarly significant effects.",
        "We do not engage in profiling",
    ),
    # ota Facebook/Privacy Policy
    ("We don't sell any of your information to anyone, and we never will.", "We don't sell"),
    # ota TikTok/Privacy Policy
    (
        "TikTok does not sell information from users of the Under 13 Experience to third parties.",
        "TikTok does not sell",
    ),
    # ota Parler/Privacy Policy
    (
        "Data Sharing: We do not sell, rent, or lease your phone number or other personal "
        "information to third parties for SMS marketing purposes.",
        "We do not sell, rent, or lease",
    ),
    # ext Perplexity/Data Processor Agreement
    (
        "For the avoidance of doubt, Personal Data will not be used for training of Perplexity’s "
        "large language models.",
        "Data will not be used for training",
    ),
    # ota Bluesky/Privacy Policy
    ("We do not collect, receive, possess, or have access to this data.", "We do not collect"),
    # ext ChatGPT/Privacy Policy (gold G-a8f2e6e00f): the last of a negated list
    (
        "Chats from Temporary Chat won’t appear in history, use or create memories, or be used "
        "to train our models.",
        "or be used to train",
    ),
    # ext ChatGPT/Enterprise privacy (gold G-bf2fc3a4fb)
    (
        "Your fine-tuned models are for your use alone and never served to or shared with other "
        "customers or used to train other models.",
        "never served to or shared",
    ),
]


@pytest.mark.parametrize(("sentence", "quoted"), NEGATED)
def test_negated_practice_fires(sentence: str, quoted: str) -> None:
    span = negated_practice(sentence)
    assert span is not None
    assert quoted in sentence[span[0] : span[1]]


@pytest.mark.parametrize(
    "sentence",
    [
        # claudette Garmin.txt: a prohibition on the user
        "You may not distribute or otherwise exploit the Software.",
        # ext Meta AI/Terms of Service: imperative to the user
        "Do not share information that you don’t want the AIs to use and retain, such as "
        "information about sensitive topics.",
        # ota Facebook/Privacy Policy: exception ("unless") means the practice happens
        "But we don't share information with these advertisers and their vendors that by itself "
        "can be used to contact or identify you, such as your name or email address, unless you "
        "give us permission.",
        # ext Le Chat/Terms of Service: exception ("except")
        "We do not use Your Data to train our artificial intelligence models except (a) when you "
        "have not opted out of training or (b) when you provide Feedback to us.",
        # ota Parler/Privacy Policy: partial ("in the traditional sense")
        "We do not sell your Personal Information in the traditional sense.",
        # ota Facebook/Community Guidelines: the negation is about something else
        "**We do not prohibit threats when shared in awareness-raising or condemning context.**",
        # ota LinkedIn/Developer Terms: "training" is not the negated practice
        "We are not obliged to provide any training, support or technical assistance for the "
        "Application, the Content, or the APIs directly to your Users.",
        # ext ChatGPT/Commercial Terms: the customer, not the provider
        "Customer will not share Account access credentials or individual login credentials "
        "between multiple users.",
        # claudette GooglePayments.txt: passive about apps, not data
        "These Apps are not sold by Your Operator , Google, GPL, or Google Play.",
        # ota Bluesky/Terms of Service: "without getting your permission" is a condition
        "We will never sell your Content without getting your permission first.",
        # ota LinkedIn/Community Guidelines
        "And do not share your LinkedIn account with anyone else.",
        # a negation about something else, then a stated practice
        "Messages that are not encrypted may be read or used to train our models.",
        "Your content is not private, and it may be shared or used to train our models.",
        # ota Pinterest/Privacy Policy: a denial in an aside about one category of a list
        "Any of the categories of information listed in ‘We collect information in a few "
        "different ways’ except for Precise location information (which we don’t collect from "
        "users in EEA, Switzerland or the UK).",
        # ota Quora/Privacy Policy: a denial in parentheses, and "but can" states the practice
        "Geolocation data, such as approximate location data (we don’t collect precise "
        "geolocation, but can infer general location from your IP address)",
        "We don’t collect precise geolocation, but can infer general location from your IP "
        "address.",
        # a relative clause about something else
        "We share the device identifiers, which we do not sell, with our measurement partners.",
        # ota pga X/Community Guidelines: a denial inside a condition, then the practice
        "Note: regardless of intent, if the information is not shared during a crisis situation "
        "to assist with humanitarian efforts or in relation to public engagement events, we will "
        "remove any posts or accounts that share someone's live location.",
        "If we do not retain your data, we cannot restore your account.",
    ],
)
def test_negated_practice_does_not_fire(sentence: str) -> None:
    assert negated_practice(sentence) is None


# --- addressed_to_user ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        # ext Le Chat/Acceptable Use Policy
        "You shall not use the Mistral AI Products to compromise, or attempt to compromise, the "
        "security of Mistral AI, the Mistral AI Products, or any other third party.",
        # claudette Microsoft.txt
        "You agree not to use any false, inaccurate or misleading information when signing up "
        "for your Microsoft account.",
        # ota Reddit/Advertising Content Policy
        "Advertisers must ensure the content of their ad is verifiable and truthful.",
        # ota Upscrolled/Community Guidelines
        "Users must represent themselves honestly.",
        # ota X/Developer Terms
        "In addition, at this time, X prohibits any use of the X APIs and/or X Content to "
        "fine-tune or train a foundation or frontier model with the exception of [Grok]"
        "(https://help.x.com/en/using-x/about-grok).",
        # ext Meta AI/Terms of Service
        "Do not share information that you don’t want the AIs to use and retain, such as "
        "information about sensitive topics.",
        # ota Pinterest/Advertising Content Policy
        "*   Ads for lawyers are prohibited",
        # ota Tumblr/Terms of Service
        "If you don't agree to all the terms and conditions of this Agreement, you shouldn't, and "
        "aren't permitted to, use the Services.",
        # ota Instagram/Developer Terms
        "i. You will not provide or promote content in your App that infringes upon or otherwise "
        "violates the rights of any person or third party.",
    ],
)
def test_addressed_to_user_fires(sentence: str) -> None:
    assert addressed_to_user(sentence)


@pytest.mark.parametrize(
    ("sentence", "context"),
    [
        # ext ChatGPT/Acceptable Use Policy: items under a prohibition lead-in
        (
            "Make automated decisions in sensitive domains without human involvement",
            "Our policies prohibit using ChatGPT Agent for regulated activities without following "
            "applicable laws and rules. Specifically, users should not:",
        ),
        ("Automate actions like stock trading or other investment transactions", "Do not:"),
        # ext Grok/Terms of Service: heading "What you cannot do."
        ("Create automated tools designed to compromise systems", "Terms > What you cannot do."),
    ],
)
def test_addressed_to_user_by_context(sentence: str, context: str) -> None:
    assert not addressed_to_user(sentence)
    assert addressed_to_user(sentence, context)


@pytest.mark.parametrize(
    "sentence",
    [
        # claudette Facebook.txt: the provider's practice
        "We don't sell your personal data.",
        # ota Facebook/Terms of Service: retention by the provider ("Content will not be …")
        "Content will not be deleted within 90 days of the account deletion or content deletion "
        "process beginning in the following situations:",
        # claudette Visa.txt: "you and Visa shall" is not a rule for the user
        "Any Disputes between you and Visa shall be resolved through binding arbitration.",
        # claudette Snap.txt: licence to the provider
        "But you grant us a license to use that content.",
        # claudette Spotify.txt: a user right
        "You may terminate the Agreements at any time.",
        # ota LinkedIn/Terms of Service
        "You own all of your original content that you provide to us, but you also grant us a "
        "non-exclusive license to it.",
        # the provider's practice with a user's missing choice in the same sentence
        "We use the content you post to train our models, and you cannot opt out.",
    ],
)
def test_addressed_to_user_does_not_fire(sentence: str) -> None:
    assert not addressed_to_user(sentence)


@pytest.mark.parametrize(
    ("sentence", "context"),
    [
        # ToS;DR quotes and gold provisions that were shown as acceptable use (2026-12-07):
        # a consequence or a possibility, not a rule
        ("If you don't accept cookies, however, you may not be able to use all portions of the "
         "Site or all functionality of the Services.", None),
        ("Analytical data does not move outside Netsyms servers, and you cannot be identified "
         "with it", None),
        ("By accessing or using the Services or otherwise providing information to us, you "
         "consent to the processing, transfer and storage of information in and to the U.S. and "
         "other countries, where you may not have the same rights as you do under local law.",
         None),
        ("When cancelling your account, we scramble your data in our database so you cannot "
         "recover your account and we don't lose your contributions", None),
        # "Do Not Track" is a signal's name, in the text or in the heading
        ("13. Do Not Track Requests We do not respond to the browser “Do Not Track” (DNT) signal "
         "if enabled by the user in their web browser.", None),
        ("However, Twitch does not recognize or respond to browser-initiated DNT signals.",
         "Privacy Notice > Do Not Track"),
        ("\"Do Not Track\" Notice: Because the providers of \"do not track\" and similar "
         "signals do not yet operate according to common, industry-accepted standards, we "
         "currently do not respond to those signals.", None),
        ("Do Not Track We do not currently respond to browser do-not-track signals", None),
        ("You should note, however, that if you do not allow the use of cookies or do not wish "
         "to provide certain information to Grinding Gear Games, you may not be able to take "
         "full advantage of our website.", None),
        ("If you disable Flash cookies, you won't have access to many features that make your "
         "guest experience more efficient", None),
        ("Except to the extent that any such waiver is prohibited by law, you hereby waive the "
         "benefit of any provision of law known as \"moral rights\".", None),
        # the provider's own practice or power
        ("We do not allow third party tracker networks to record your activity on this site.",
         None),
        ("These cookies do not allow us to directly identify you, but use your browser and "
         "device's unique ID to display those ads.", None),
        ("Massdrop reserves the right to refuse or cancel any person’s registration for this "
         "Site, remove any person from this Site and prohibit any person from using this Site "
         "for any reason whatsoever.", None),
        ("These partners are required to process personal information in accordance with "
         "contractual obligations and applicable data protection laws.", None),
        ("These parties are subject to confidentiality agreements with us and other legal "
         "restrictions that prohibit their use of the information we provide to them for any "
         "other purpose.", None),
        # a legal hedge in a waiver of moral rights (the licence clause itself)
        ("To the extent permissible under law, you irrevocably waive—or agree not to assert "
         "against Snap and its affiliates to the extent a waiver is not permitted—any moral "
         "rights or equivalent rights you may have in the Asset.", None),
    ],
)  # fmt: skip
def test_consequences_and_the_providers_own_acts_are_not_rules(
    sentence: str, context: str | None
) -> None:
    assert not addressed_to_user(sentence, context)


@pytest.mark.parametrize(
    "sentence",
    [  # the same words where they do make a rule
        "You may not be under 13 to use the Services.",
        "Do not track other users or collect their data without consent.",
        "Advertising partners must not use the data to build profiles.",
        "Reddit prohibits the use of the Services to harass others.",
        "We do not allow hate speech.",
    ],
)
def test_the_fixes_keep_real_rules(sentence: str) -> None:
    assert addressed_to_user(sentence)


def test_provider_power_in_the_same_sentence_wins() -> None:
    # built from a CLAUDETTE-style rule: the provider's power makes it the provider's clause
    assert not addressed_to_user(
        "You must not misuse our Services, and we may suspend or terminate your account."
    )
    assert not addressed_to_user("We are a venue.", "Our mission > What we do")


def test_list_lead_in() -> None:
    # ext ChatGPT/Acceptable Use Policy
    text = (
        "Specifically, users should not:\n\n*   Make automated decisions in sensitive domains\n"
        "*   Automate actions like stock trading"
    )
    assert list_lead_in(text, text.index("*   Automate")) == "Specifically, users should not:"
    assert list_lead_in(text, 0) is None


# --- licence_direction ----------------------------------------------------------------------------

TO_PROVIDER = [
    # claudette Snap.txt
    "But you grant us a license to use that content.",
    # claudette Google.txt
    "When you upload, submit, store, send or receive content to or through our Services, you "
    "give Google (and those we work with) a worldwide licence to use, host, store, reproduce, "
    "modify, create derivative works.",
    # ota Reddit/Terms of Service
    "You retain any ownership rights you have in Your Content, but you grant Reddit the "
    "following license to use that Content:",
    # claudette Garmin.txt
    "You hereby grant Garmin the right to edit, copy, publish and distribute any material you "
    "make available on any Garmin Site.",
    # claudette YouTube.txt
    "You grant to YouTube the right to monetize your Content on the Service.",
]
TO_USER = [
    # claudette WhatsApp.txt
    "We grant you a limited, revocable, non-exclusive, non-sublicensable, and non-transferable "
    "license to use our Services, subject to and in accordance with our Terms.",
    # claudette Pinterest.txt
    "Subject to these Terms and our policies (including our Community Guidelines), we grant you "
    "a limited, non-exclusive, non-transferable, and revocable license to use our Service.",
    # claudette Electronic_Arts.txt
    "The EA Services are licensed to you, not sold.",
    # ota Twitter/Terms of Service
    "We give you a personal, worldwide, royalty-free, non-assignable and non-exclusive license "
    "to use the software provided to you as part of the Services.",
    # ota Tumblr/Terms of Service
    "Tumblr grants you a license to customize the Tumblr Template Code to create your own Themes"
    " for use on your blog page.",
]


@pytest.mark.parametrize("sentence", TO_PROVIDER)
def test_licence_to_provider(sentence: str) -> None:
    assert licence_direction(sentence) == "to_provider"


@pytest.mark.parametrize("sentence", TO_USER)
def test_licence_to_user(sentence: str) -> None:
    assert licence_direction(sentence) == "to_user"


@pytest.mark.parametrize(
    "sentence",
    [
        # ota Instagram/Privacy Policy
        "When we process information that you provide to us as necessary for concluding or "
        "performing our contracts with you, you have the right to port it under the GDPR.",
        # ota Spotify/Terms of Service
        "However, in order for us to make your User Content available on the Spotify Service and"
        " to provide you with certain features and functions, we do need a limited license from "
        "you to that User Content.",
        # claudette YouTube.txt
        "If you’re an EEA-based consumer, then starting on May 28, 2022, EEA consumer law gives "
        "you the right to withdraw from this contract.",
        # claudette Facebook.txt
        "We don't sell your personal data.",
        # claudette Spotify.txt
        "You may terminate the Agreements at any time.",
    ],
)
def test_no_licence_grant(sentence: str) -> None:
    assert licence_direction(sentence) is None


# --- user_right -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        # claudette Spotify.txt
        "You may terminate the Agreements at any time.",
        # claudette Oculus.txt
        "You may opt out of this agreement to arbitrate.",
        # ota Parler/Privacy Policy
        "You can delete your account by selecting that option via your account settings.",
        # ota Snapchat/Terms of Service
        "Depending on where you live, this may not apply to you and you have the right to opt out"
        " of arbitration.",
        # ota Twitter/Terms of Service
        "You may end your legal agreement with us at any time by deactivating your accounts and "
        "discontinuing your use of the Services.",
        # ota Reddit/Terms of Service
        "Your right to terminate these Terms at any time pursuant to Section 16 remains "
        "unaffected.",
        # claudette Grindr.txt
        "YOU MAY OPT-OUT OF ARBITRATION.",
    ],
)
def test_user_right_fires(sentence: str) -> None:
    assert user_right(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        # claudette Linkedin.txt: a prohibition, not a power
        "You may not assign or transfer this Contract (or your membership or use of Services) to "
        "anyone without our consent.",
        # claudette Spotify.txt: the provider's power
        "Spotify may terminate the Agreements or suspend your access to the Spotify Service at "
        "any time, including in the event of your actual or suspected unauthorised use.",
        # claudette Facebook.txt
        "We don't sell your personal data.",
        # ota Facebook/Terms of Service: provider retention
        "Content will not be deleted within 90 days of the account deletion or content deletion "
        "process beginning in the following situations:",
        # a sentence stating both powers (built from claudette phrasing): the provider's wins
        "You may terminate your account at any time, and we may suspend or terminate your access"
        " to the Services at any time.",
    ],
)
def test_user_right_does_not_fire(sentence: str) -> None:
    assert not user_right(sentence)
