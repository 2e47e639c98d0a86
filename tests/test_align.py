"""Provision lineage across versions: identity keys, matching, moves, splits and merges, speed, and
a regression run of the synthetic-edit benchmark on real documents."""

from __future__ import annotations

import dataclasses
import json
import lzma
import random
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.provision_alignment import run_synthetic, strip_links
from clausewatch.provisions.align import Match, align, provision_key
from clausewatch.provisions.segment import Segment, segment

JSONL = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ota" / "pga-versions.jsonl.xz"
)

CLAUSES = [
    "You must be at least 13 years old to use the Services, or older where local law requires.",
    "We may suspend or terminate your account if you breach these Terms or the Community Rules.",
    "You keep ownership of your content, but you grant us a worldwide licence to host and show it.",
    "We collect information you give us, such as your name, email address and phone number.",
    "We share information with service providers who process it on our behalf and instructions.",
    "You can object to the use of your data for training our models in your privacy settings.",
    "Any dispute will be resolved by binding individual arbitration and not in a class action.",
    "These Terms are governed by the laws of Ireland, without regard to conflict of law rules.",
    "We will notify you at least 30 days before changes to these Terms take effect for you.",
    "Our liability to you is limited to the amount you paid us in the twelve months before.",
    "You may not scrape, crawl or otherwise collect data from the Services by automated means.",
    "We keep your personal data for as long as your account is open and then for 90 days.",
]


def doc(*paragraphs: str, heading: str = "## Terms") -> list[Segment]:
    return segment(heading + "\n\n" + "\n\n".join(paragraphs) + "\n")


def kinds(matches: list[Match]) -> list[str]:
    return [m.kind for m in matches]


def check_complete(matches: list[Match], old: list[Segment], new: list[Segment]) -> None:
    assert sorted(m.old for m in matches if m.old is not None) == list(range(len(old)))
    assert sorted(m.new for m in matches if m.new is not None) == list(range(len(new)))
    assert all(0.0 <= m.similarity <= 1.0 for m in matches)


# --- identity key ---------------------------------------------------------------------------------


def test_provision_key_ignores_numbering_markup_and_punctuation() -> None:
    key = provision_key("4.2 You must be at least 13 years old to use the Services.")
    assert key == provision_key("5.2   You must be at least 13 years old to use the Services")
    assert key == provision_key("**(b)** You must be at least *13* years old, to use the Services!")
    assert key == provision_key(
        "- You must be at least 13 years old to use [the Services](https://x)"
    )
    assert key != provision_key("4.2 You must be at least 16 years old to use the Services.")
    assert key != provision_key("4.2 You must be at least 13 years old to use the Service.")
    assert provision_key("In to the") != provision_key("Into the")


# --- matching -------------------------------------------------------------------------------------


def test_identical_versions_are_unchanged() -> None:
    old = doc(*CLAUSES)
    matches = align(old, doc(*CLAUSES))
    assert kinds(matches) == ["unchanged"] * len(CLAUSES)
    assert [(m.old, m.new) for m in matches] == [(i, i) for i in range(len(CLAUSES))]


def test_an_insertion_moves_nothing() -> None:
    new_clause = (
        "We may show you sponsored content that is labelled as an advertisement in your feed."
    )
    old, new = doc(*CLAUSES), doc(*CLAUSES[:3], new_clause, *CLAUSES[3:])
    matches = align(old, new)
    check_complete(matches, old, new)
    assert kinds(matches).count("unchanged") == len(CLAUSES)
    assert [m for m in matches if m.kind == "added"] == [Match(None, 3, "added", 0.0)]


def test_renumbering_and_renamed_headings_keep_identity() -> None:
    old = segment("## 4. Accounts\n\n4.1 " + CLAUSES[0] + "\n\n4.2 " + CLAUSES[1] + "\n")
    new = segment("## 5. Your account\n\n5.1 " + CLAUSES[0] + "\n\n5.2 " + CLAUSES[1] + "\n")
    assert kinds(align(old, new)) == ["unchanged", "unchanged"]


def test_a_move_flags_only_the_moved_provision() -> None:
    moved = [*CLAUSES[:2], *CLAUSES[3:9], CLAUSES[2], *CLAUSES[9:]]
    old, new = doc(*CLAUSES), doc(*moved)
    matches = align(old, new)
    check_complete(matches, old, new)
    assert [(m.old, m.new) for m in matches if m.kind == "moved"] == [(2, 8)]
    assert kinds(matches).count("unchanged") == len(CLAUSES) - 1


def test_a_modified_provision_keeps_its_identity_with_its_similarity() -> None:
    edited = CLAUSES[:]
    edited[8] = edited[8].replace("30 days", "15 days")
    edited[5] = "You can object at any time to the use of your data for training our AI models."
    old, new = doc(*CLAUSES), doc(*edited)
    by_old = {m.old: m for m in align(old, new)}
    assert by_old[8].kind == "modified" and by_old[8].new == 8 and by_old[8].similarity > 0.95
    assert by_old[5].kind == "modified" and by_old[5].new == 5 and by_old[5].similarity < 0.9


def test_a_new_clause_in_place_of_a_deleted_one_is_added_not_modified() -> None:
    edited = CLAUSES[:]
    edited[4] = (
        "Creators can earn money from subscriptions, tips and gifts sold through the app store."
    )
    old, new = doc(*CLAUSES), doc(*edited)
    matches = align(old, new)
    check_complete(matches, old, new)
    assert {(m.old, m.new, m.kind) for m in matches if m.kind != "unchanged"} == {
        (4, None, "removed"),
        (None, 4, "added"),
    }


def test_split_and_merge_report_the_pieces() -> None:
    joined = CLAUSES[3] + " " + CLAUSES[4]
    old, new = doc(*CLAUSES[:3], joined, *CLAUSES[5:]), doc(*CLAUSES)
    matches = align(old, new)
    check_complete(matches, old, new)
    split = [m for m in matches if m.kind == "split"]
    assert len(split) == 2
    primary = next(m for m in split if m.old is not None)
    secondary = next(m for m in split if m.old is None)
    assert primary.old == 3 and {primary.new, *primary.related} == {3, 4}
    assert secondary.related == (primary.new,)

    merged = align(new, old)  # the same edit the other way round
    check_complete(merged, new, old)
    primary = next(m for m in merged if m.kind == "merged" and m.new is not None)
    assert primary.new == 3 and {primary.old, *primary.related} == {3, 4}
    assert [m.old for m in merged if m.kind == "merged" and m.new is None] == [*primary.related]


def test_repeated_text_pairs_with_the_copy_in_the_same_place() -> None:
    boilerplate = "Learn more about how we process your information in our Privacy Centre today."
    old = doc(CLAUSES[0], boilerplate, CLAUSES[1], boilerplate, CLAUSES[2], boilerplate)
    new = doc(CLAUSES[1], boilerplate, CLAUSES[2], boilerplate)  # first section deleted
    matches = align(old, new)
    check_complete(matches, old, new)
    assert {(m.old, m.new) for m in matches if m.kind == "unchanged"} == {
        (2, 0),
        (3, 1),
        (4, 2),
        (5, 3),
    }
    assert {m.old for m in matches if m.kind == "removed"} == {0, 1}


def test_empty_sides() -> None:
    segs = doc(*CLAUSES[:3])
    assert align([], []) == []
    assert kinds(align([], segs)) == ["added"] * 3
    assert kinds(align(segs, [])) == ["removed"] * 3


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["keep", "drop", "edit", "insert", "swap"]), min_size=12, max_size=12)
)
def test_every_provision_is_accounted_for_exactly_once(ops: list[str]) -> None:
    new_paragraphs: list[str] = []
    for clause, op in zip(CLAUSES, ops, strict=True):
        if op == "keep":
            new_paragraphs.append(clause)
        elif op == "edit":
            new_paragraphs.append(clause.replace(" the ", " any "))
        elif op == "insert":
            new_paragraphs += [clause, "A completely new obligation about refunds within 14 days."]
        elif op == "swap" and new_paragraphs:
            new_paragraphs.insert(0, clause)
    old, new = doc(*CLAUSES), doc(*new_paragraphs)
    matches = align(old, new)
    check_complete(matches, old, new)
    by_new = {m.new: m for m in matches if m.new is not None}
    for j, seg in enumerate(new):
        if seg.text in CLAUSES:  # an untouched clause is never added or split off
            assert by_new[j].old == CLAUSES.index(seg.text)


# --- speed and the benchmark ----------------------------------------------------------------------


def test_500_provisions_mostly_unchanged_align_in_under_100_ms() -> None:
    with lzma.open(JSONL, "rt", encoding="utf-8") as lines:
        text = next(
            r["text"]
            for r in map(json.loads, lines)
            if (r["service"], r["terms_type"]) == ("Facebook", "Community Guidelines") and r["text"]
        )
    old = segment(strip_links(text))[:500]
    assert len(old) == 500
    rng = random.Random(1)
    new = list(old)
    for k in rng.sample(range(500), 10):
        new[k] = dataclasses.replace(new[k], text=new[k].text.replace(" the ", " any ", 1))
    for k in sorted(rng.sample(range(500), 5), reverse=True):
        del new[k]
    for k in rng.sample(range(495), 5):
        new.insert(k, dataclasses.replace(old[0], text=f"A brand new rule number {k} about fees."))
    best = min(_timed(old, new) for _ in range(5))
    assert best < 0.1, best


def _timed(old: list[Segment], new: list[Segment]) -> float:
    start = time.process_time()  # CPU time: parallel test workers do not inflate it
    align(old, new)
    return time.process_time() - start


def test_synthetic_edit_benchmark_regression() -> None:
    score, timing = run_synthetic(documents=8, seed=3)
    assert timing["documents"] == 8
    assert score.rate("identity") >= 0.99
    assert score.rate("modified") >= 0.95 and score.rate("heavy") >= 0.9
    assert score.rate("stable") >= 0.995
    for name in ("added", "removed", "moved"):
        assert score.precision(name) >= 0.95 and score.recall(name) >= 0.95, name
    for name in ("split", "merge"):
        assert score.precision(name) >= 0.85 and score.recall(name) >= 0.85, name
