"""The versioning rule, as one pure function shared by live captures and history imports.

Texts are compared twice: by the SHA-256 of their canonical text (what a version archives) and by
their comparison key (`extract.normalise.comparison_key`: spelling locale, image addresses, consent
counters… hidden). A text with the current version's key but other bytes is a variant of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    FIRST_VERSION = "first_version"
    VERIFIED = "verified"  # same text as the current version: a verification event
    VARIANT = "variant"  # a known flip-flop variant of the current version: also a verification
    CHANGE_DETECTED = "change_detected"  # new text, waiting for its confirming fetch
    NEW_VERSION = "new_version"  # new text, confirmed
    UNCONFIRMED = "unconfirmed"  # the confirming fetch did not see the detected text again
    FLIP_FLOP = "flip_flop"  # A → B → A inside the window: B becomes a variant of A
    TECHNICAL = "technical"  # new text caused by re-extraction only: never a change
    NOT_MODIFIED = "not_modified"  # 304 on every source: a verification event
    FAILED = "failed"  # fetch or extraction failed
    SUSPICIOUS = "suspicious"  # bot wall, error page, truncated, most text lost: never a version
    DELETED = "deleted"  # the source reports the document as gone (imports)


VERIFICATIONS = {Outcome.VERIFIED, Outcome.VARIANT, Outcome.NOT_MODIFIED, Outcome.UNCONFIRMED}


@dataclass(frozen=True)
class DocumentState:
    current_sha: str | None = None
    current_recorded_at: dt.datetime | None = None
    previous_sha: str | None = None  # the current version's predecessor
    pending_sha: str | None = None
    variants: frozenset[str] = field(default_factory=frozenset)
    # comparison keys of the current, previous and pending texts (None: compare by SHA only)
    current_key: str | None = None
    previous_key: str | None = None
    pending_key: str | None = None
    current_seen_at: dt.datetime | None = None  # when the current text itself was last seen


def decide(
    state: DocumentState,
    text_sha: str,
    now: dt.datetime,
    *,
    flipflop_window: dt.timedelta,
    require_confirmation: bool = True,
    key: str | None = None,
) -> Outcome:
    """What a newly extracted document text (``text_sha``, comparison ``key``) means for the
    document's history."""
    if state.current_sha is None:
        return Outcome.FIRST_VERSION

    def same(sha: str | None, other_key: str | None) -> bool:
        return text_sha == sha or (key is not None and key == other_key)

    if same(state.current_sha, state.current_key) or text_sha in state.variants:
        # Seeing the current text again while a change waits for confirmation retracts it.
        if state.pending_sha is not None:
            return Outcome.UNCONFIRMED
        if text_sha == state.current_sha:
            return Outcome.VERIFIED
        if not same(state.current_sha, state.current_key) and _moved_on(
            state, now, flipflop_window
        ):
            # A flip-flop variant seen alone for longer than the window: the live page moved
            # on, and the current text follows it (a version, not a variant that freezes A).
            return Outcome.NEW_VERSION
        return Outcome.VARIANT
    if (
        same(state.previous_sha, state.previous_key)
        and state.current_recorded_at is not None
        and now - state.current_recorded_at <= flipflop_window
    ):
        return Outcome.FLIP_FLOP
    if require_confirmation and not same(state.pending_sha, state.pending_key):
        return Outcome.CHANGE_DETECTED
    return Outcome.NEW_VERSION


def _moved_on(state: DocumentState, now: dt.datetime, window: dt.timedelta) -> bool:
    seen = state.current_seen_at or state.current_recorded_at
    return seen is not None and now - seen > window
