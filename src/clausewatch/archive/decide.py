"""The versioning rule, as one pure function shared by live captures and history imports."""

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


def decide(
    state: DocumentState,
    text_sha: str,
    now: dt.datetime,
    *,
    flipflop_window: dt.timedelta,
    require_confirmation: bool = True,
) -> Outcome:
    """What a newly extracted document text means for the document's history."""
    if state.current_sha is None:
        return Outcome.FIRST_VERSION
    if text_sha == state.current_sha or text_sha in state.variants:
        # Seeing the current text again while a change waits for confirmation retracts it.
        if state.pending_sha is not None:
            return Outcome.UNCONFIRMED
        return Outcome.VERIFIED if text_sha == state.current_sha else Outcome.VARIANT
    if (
        text_sha == state.previous_sha
        and state.current_recorded_at is not None
        and now - state.current_recorded_at <= flipflop_window
    ):
        return Outcome.FLIP_FLOP
    if require_confirmation and text_sha != state.pending_sha:
        return Outcome.CHANGE_DETECTED
    return Outcome.NEW_VERSION
