"""Versions found to be junk after they were recorded, and their retraction.

The gate (`archive.quality`) refuses error pages, walls and stubs before they become versions, but
an archive recorded before a rule existed can hold them. `audit_versions` runs the gate's page
checks over every active version again; `retract_version` retracts a junk current version the way
a flip-flop is folded: it stays in the archive as evidence with status ``retracted`` and the reason
in its ``origin``, its change record is retracted, and the version before it is current again.

A junk version with later versions is reported but not retracted here: the provisions of every
later version were aligned through it, so retracting it means rebuilding their lineage
(re-importing the history does that, and the import gate now refuses the junk).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from clausewatch.archive.quality import assess_text
from clausewatch.archive.service import Archive
from clausewatch.ids import format_id
from clausewatch.storage.db import transaction
from clausewatch.storage.models import ChangeRecord, Document, PendingChange, Variant, Version

RETRACTED = "retracted"


@dataclass(frozen=True)
class JunkVersion:
    document_id: int
    version_id: int
    reason: str
    current: bool  # the document's current version
    later_versions: int  # active versions recorded after it

    @property
    def retractable(self) -> bool:
        return self.current and self.later_versions == 0


def audit_versions(
    archive: Archive, document_ids: list[int] | None = None
) -> Iterator[JunkVersion]:
    """Active versions whose text the gate refuses on its own (error pages, walls, stubs). A loss
    against the previous text is not judged here: a confirmed shrink was rightly accepted."""
    with archive.sessions() as session:
        documents = session.scalars(select(Document).order_by(Document.id)).all()
        for document in documents:
            if document_ids is not None and document.id not in document_ids:
                continue
            versions = session.scalars(
                select(Version)
                .where(Version.document_id == document.id, Version.status == "active")
                .order_by(Version.recorded_at, Version.id)
            ).all()
            for index, version in enumerate(versions):
                reason = assess_text(archive.version_text(version), None)
                if reason is not None:
                    yield JunkVersion(
                        document_id=document.id,
                        version_id=version.id,
                        reason=reason,
                        current=document.current_version_id == version.id,
                        later_versions=len(versions) - index - 1,
                    )


def retract_version(archive: Archive, version_id: int, reason: str) -> None:
    """Retract the current version ``version_id`` (see the module docstring)."""
    name = format_id("V", version_id)
    with transaction(archive.sessions) as session:
        version = session.get(Version, version_id)
        if version is None:
            raise LookupError(f"no version {name}")
        document = session.get(Document, version.document_id, with_for_update=True)
        assert document is not None
        if document.current_version_id != version.id:
            raise ValueError(
                f"{name} is not the current version of {document.public_id}: later versions were "
                "aligned through it; re-import the history to rebuild them without it"
            )
        version.status = RETRACTED
        version.origin = {
            **version.origin,
            "retracted": {"reason": reason, "at": dt.datetime.now(dt.UTC).isoformat()},
        }
        session.execute(
            update(ChangeRecord)
            .where(ChangeRecord.to_version_id == version.id)
            .values(status=RETRACTED)
        )
        session.execute(delete(Variant).where(Variant.version_id == version.id))
        session.execute(delete(PendingChange).where(PendingChange.document_id == document.id))
        previous = session.get(Version, version.predecessor_id) if version.predecessor_id else None
        document.current_version_id = previous.id if previous else None
        document.current_version = previous
