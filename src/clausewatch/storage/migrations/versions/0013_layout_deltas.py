"""version layouts as deltas of their document's keyframe layout

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 21:00:00.000000

``version_layouts.base_version_id``: NULL for a *keyframe* layout; otherwise the keyframe layout
whose two JSON texts (segments, heading paths) are the zstd dictionaries of this row's frames
(``storage.models.VersionLayout``, ``storage.compressed.compress_layout_texts``). Consecutive
versions of a document are laid out nearly alike: the pga history's 1,714 layouts take 2.91 MB
as whole frames and 0.95 MB this way. Existing layouts are rewritten so, document by document in
version order, each against its predecessor's keyframe, as the provisions build writes them; the
JSON each row reads back is unchanged (checked row by row before anything is written). The
downgrade writes every row whole again. SQLite keeps the freed pages: ``VACUUM`` gives them back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clausewatch.storage.compressed import compress_layout_texts, layout_json_text

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _rows(bind: sa.Connection) -> list[tuple[int, int | None, bytes | str, bytes | str]]:
    query = sa.text(
        "SELECT l.version_id, v.predecessor_id, l.segments, l.heading_paths"
        " FROM version_layouts l JOIN versions v ON v.id = l.version_id"
        " ORDER BY v.document_id, l.version_id"
    )
    return [tuple(r) for r in bind.execute(query)]


def upgrade() -> None:
    with op.batch_alter_table("version_layouts") as batch:
        batch.add_column(sa.Column("base_version_id", sa.Integer(), nullable=True))
    bind = op.get_bind()
    texts: dict[int, tuple[bytes, bytes]] = {}
    keyframe_of: dict[int, int] = {}  # version -> its layout's keyframe version
    update = sa.text(
        "UPDATE version_layouts SET segments = :s, heading_paths = :h, base_version_id = :b"
        " WHERE version_id = :v"
    )
    for version_id, predecessor_id, segments, heading_paths in _rows(bind):
        own = (layout_json_text(segments), layout_json_text(heading_paths))
        texts[version_id] = own
        keyframe = keyframe_of.get(predecessor_id) if predecessor_id is not None else None
        frames, delta = compress_layout_texts(own, texts[keyframe] if keyframe else None)
        keyframe_of[version_id] = keyframe if delta and keyframe else version_id
        if not delta:
            continue  # stays whole, as it is
        base = texts[keyframe] if keyframe else None
        back = tuple(layout_json_text(f, b) for f, b in zip(frames, base or (), strict=True))
        if back != own:
            raise RuntimeError(f"version {version_id}: its layout would not read back the same")
        bind.execute(update, {"s": frames[0], "h": frames[1], "b": keyframe, "v": version_id})


def downgrade() -> None:
    bind = op.get_bind()
    query = sa.text(
        "SELECT version_id, base_version_id, segments, heading_paths FROM version_layouts"
    )
    rows = list(bind.execute(query))
    whole = {v: (s, h) for v, b, s, h in rows if b is None}
    update = sa.text(
        "UPDATE version_layouts SET segments = :s, heading_paths = :h WHERE version_id = :v"
    )
    for version_id, base, segments, heading_paths in rows:
        if base is None:
            continue
        keyframe = tuple(layout_json_text(f) for f in whole[base])
        own = (
            layout_json_text(segments, keyframe[0]),
            layout_json_text(heading_paths, keyframe[1]),
        )
        frames, _ = compress_layout_texts(own, None)
        bind.execute(update, {"s": frames[0], "h": frames[1], "v": version_id})
    with op.batch_alter_table("version_layouts") as batch:
        batch.drop_column("base_version_id")
