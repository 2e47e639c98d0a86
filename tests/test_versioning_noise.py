"""Noise that must never become a version: the comparison key, key variants, and the current
text following the live page when a flip-flop variant is all that is served."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from archive_fixtures import *  # noqa: F403
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from test_archive import BODY, T0, check, new_document

from clausewatch.archive.decide import DocumentState, Outcome, decide
from clausewatch.archive.service import Archive
from clausewatch.extract import normalise
from clausewatch.extract.normalise import comparison_key, normalise_for_hash
from clausewatch.storage.models import Variant

DAY = dt.timedelta(days=1)


def same(a: str, b: str) -> bool:
    return comparison_key(normalise_for_hash(a)) == comparison_key(normalise_for_hash(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Visit our Centre amongst others; we organise and personalise.",
         "Visit our Center among others; we organize and personalize."),
        ("THE ORGANISATION'S BEHAVIOUR AND LICENCE", "THE ORGANIZATION'S BEHAVIOR AND LICENSE"),
        ("We and our 1558 partners store cookies.", "We and our 1612 partners store cookies."),
        ("Shared with 842 IAB TCF vendors.", "Shared with 851 IAB TCF vendors."),
        ("![logo](https://scontent-frt3-1.xx.fbcdn.net/v/a.png?stp=dst&_nc_cat=1)",
         "![logo](https://scontent-frt3-2.xx.fbcdn.net/v/a.png?stp=dst-jpg&_nc_cat=9)"),
        ("See [more](http://www.messenger.com/privacy).",
         "See [more](https://www.messenger.com/privacy)."),
        ("Use the [logos](https://brand.linkedin.com/downloads).",
         "Use the [logos](https://brand.linkedin.com/downloads.html)."),
        ("[x](https://l.facebook.com/l.php?u=https%3A%2F%2Fm.com%2Fterms&h=AT2fkr)",
         "[x](https://m.com/terms)"),
        ("[x](https://www.google.com/url?q=https://m.com/terms&sa=D)", "[x](https://m.com/terms)"),
        ("[doc](https://x.com/files/policy.3f2b8c1e-9a7d-4e21-b0c3-1d2e3f4a5b6c.pdf)",
         "[doc](https://x.com/files/policy.a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d.pdf)"),
        ("Read the [rules](https://help.twitter.com/en/rules.html).",
         "Read the [rules](https://help.x.com/en/rules)."),  # a reader reads the link's text
        ("See [more](https://l.instagram.com/?u=https://m.com/t&e=AT0)", "See more"),
        ("## Rules\n\n- ### Be safe\n\n    Only bring safe talk.\n\nPlay Video",
         "# Rules\n- Be safe\nOnly bring safe talk."),
        ("Watch the video\n\n0:00 / 1:00\n\nRules apply.", "Watch the video\n\nRules apply."),
        ("## Help\n\n###\n\n- * *\n\nText.", "## Help\n\nText."),
    ],
)  # fmt: skip
def test_noise_has_one_comparison_key(a: str, b: str) -> None:
    assert normalise_for_hash(a) != normalise_for_hash(b)  # the archived texts do differ
    assert same(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Notice of 30 days.", "Notice of 7 days."),
        ("We and our partners may sell data.", "We and our partners never sell data."),
        ("The licence is revocable.", "The licensee is revocable."),
        ("Write to https://help.twitter.com/rules", "Write to https://help.x.com/rules"),
        ("Opt out at https://x.com/privacy", "Opt out at https://x.com/terms"),
        ("See [our rules](https://x.com/r).", "See [our new rules](https://x.com/r)."),
        ("Analysis of your data.", "Analyses of your data."),
        ("You must be 13.", "You must be 16."),
        ("We share it with our 3 partners.", "We share it with our 5 partners."),
    ],
)
def test_real_changes_keep_different_keys(a: str, b: str) -> None:
    assert not same(a, b)


def test_the_archived_text_keeps_its_own_spelling(archive: Archive) -> None:
    doc = new_document(archive)
    british = BODY + " We organise the centre of our licence programme."
    american = BODY + " We organize the center of our license program."
    assert check(archive, doc, british, T0).outcome == Outcome.FIRST_VERSION
    # the other locale: a variant of the version, never a change (no confirmation needed)
    assert check(archive, doc, american, T0 + DAY).outcome == Outcome.VARIANT
    assert check(archive, doc, british, T0 + 2 * DAY).outcome == Outcome.VERIFIED
    assert check(archive, doc, american, T0 + 3 * DAY).outcome == Outcome.VARIANT
    versions = archive.versions(doc)
    assert len(versions) == 1
    assert archive.version_text(versions[0]) == normalise_for_hash(british)
    with archive.sessions() as session:
        variants = session.scalars(select(Variant).where(Variant.document_id == doc)).all()
    assert [v.version_id for v in variants] == [versions[0].id]


def test_keys_of_versions_recorded_before_keys_are_computed(archive: Archive) -> None:
    doc = new_document(archive)
    check(archive, doc, BODY + " Centre.", T0)
    with archive.sessions() as session, session.begin():
        for version in archive.versions(doc):
            session.merge(version).comparison_sha256 = None  # as migrated from 0006
    assert check(archive, doc, BODY + " Center.", T0 + DAY).outcome == Outcome.VARIANT
    assert archive.versions(doc)[0].comparison_sha256 is not None


def test_the_current_text_follows_the_live_page_after_a_flip_flop(archive: Archive) -> None:
    doc = new_document(archive)
    a, b = BODY, BODY + " A regional clause that the page now keeps."
    check(archive, doc, a, T0)
    check(archive, doc, b, T0 + DAY)
    check(archive, doc, b, T0 + DAY + dt.timedelta(minutes=1))
    assert check(archive, doc, a, T0 + 2 * DAY).outcome == Outcome.FLIP_FLOP
    # inside the window B is a variant of A ...
    assert check(archive, doc, b, T0 + 3 * DAY).outcome == Outcome.VARIANT
    # ... but served alone for longer than the window (7 days), the page moved on to B
    moved = check(archive, doc, b, T0 + 10 * DAY)
    assert moved.outcome == Outcome.NEW_VERSION and moved.version_id is not None
    current = archive.document(doc).current_version
    assert current is not None and archive.version_text(current) == normalise_for_hash(b)
    assert check(archive, doc, b, T0 + 11 * DAY).outcome == Outcome.VERIFIED
    with archive.sessions() as session:
        assert not session.scalars(select(Variant).where(Variant.document_id == doc)).all()


def test_decide_compares_keys() -> None:
    window = dt.timedelta(days=7)
    state = DocumentState(current_sha="a", current_key="K", previous_sha="p", previous_key="P",
                          current_recorded_at=T0)  # fmt: skip
    assert decide(state, "a2", T0, flipflop_window=window, key="K") == Outcome.VARIANT
    assert decide(state, "p2", T0, flipflop_window=window, key="P") == Outcome.FLIP_FLOP
    assert decide(state, "n", T0, flipflop_window=window, key="N") == Outcome.CHANGE_DETECTED
    pending = DocumentState(current_sha="a", current_key="K", pending_sha="n", pending_key="N")
    assert decide(pending, "n2", T0, flipflop_window=window, key="N") == Outcome.NEW_VERSION


# -- junk found after it was recorded -----------------------------------------------------------

ERROR_PAGE = "Oops! 404 The page you were looking for could not be found. Go back home."


def test_a_junk_current_version_is_found_and_retracted(archive: Archive) -> None:
    from clausewatch.archive.audit import audit_versions, retract_version

    doc = new_document(archive)
    check(archive, doc, BODY, T0)
    # recorded before the gate knew this page: forced in as a technical version
    check(archive, doc, ERROR_PAGE, T0 + DAY, technical=True)
    (junk,) = audit_versions(archive)
    assert junk.current and junk.retractable and "404" in junk.reason.lower()
    retract_version(archive, junk.version_id, junk.reason)
    current = archive.document(doc).current_version
    assert current is not None and archive.version_text(current) == normalise_for_hash(BODY)
    retracted = [v for v in archive.versions(doc) if v.status == "retracted"]
    assert [v.id for v in retracted] == [junk.version_id]
    assert retracted[0].origin["retracted"]["reason"] == junk.reason  # the record of why
    assert not list(audit_versions(archive))
    # the real text is current again: seeing it is a verification, not a change
    assert check(archive, doc, BODY, T0 + 2 * DAY).outcome == Outcome.VERIFIED


def test_a_junk_version_with_later_versions_is_reported_not_retracted(archive: Archive) -> None:
    from clausewatch.archive.audit import audit_versions, retract_version

    doc = new_document(archive)
    check(archive, doc, BODY, T0)
    check(archive, doc, ERROR_PAGE, T0 + DAY, technical=True)
    check(archive, doc, BODY + " A later clause.", T0 + 2 * DAY, technical=True)
    (junk,) = audit_versions(archive)
    assert not junk.current and junk.later_versions == 1 and not junk.retractable
    with pytest.raises(ValueError, match="not the current version"):
        retract_version(archive, junk.version_id, junk.reason)


# -ise words, words that only hold "is", look-alike letters ("ı", "ſ", "İ"), word characters
_ISE_PIECE = st.sampled_from(
    ["organise", "Organised", "ORGANISATION", "authorisable", "minimising", "promise", "is",
     "isa", "ise", "isi", "otherwise", "realıse", "realiſe", "lİcense", "xise", "a_bise",
     "ab1ise", "ise_", "isers", "ising", "isingly", "realisé", "é", "_", "1"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_ISE_PIECE, st.sampled_from(["", " ", "\n", ".", "-"])), max_size=12))
def test_ise_spellings_are_found_from_their_stems(pieces: list[tuple[str, str]]) -> None:
    text = "".join(piece + gap for piece, gap in pieces)
    assert normalise._american_ise(text) == normalise._ISE.sub(normalise._ise, text)


def test_the_comparison_key_folds_every_whitespace_re_would() -> None:
    """``comparison_key`` collapses whitespace with str.split(), not re's ``\\s+``: the two
    must take the same characters, or keys of archived versions would change."""
    spaces = {chr(c) for c in range(0x110000) if re.fullmatch(r"\s", chr(c))}
    assert spaces == {chr(c) for c in range(0x110000) if chr(c).isspace()}
    text = "a" + "".join(sorted(spaces)) + "b\u2028c \u00a0d\u3000"
    assert comparison_key(text) == re.sub(r"\s+", " ", text).strip() == "a b c d"
