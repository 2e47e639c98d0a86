"""OPP-115 transfer evaluation: the taxonomy's OPP-115 mapping names real categories, and the
evaluation reads the data (never trains on it)."""

from __future__ import annotations

from clausewatch.classify.taxonomy import default_taxonomy
from clausewatch.classify.transfer import load_opp115, opp115_transfer


def test_opp115_mappings_exist_in_the_data() -> None:
    categories = {c for cats in load_opp115("train").values() for c in cats}
    mapped = {c for t in default_taxonomy().types for c in t.opp115}
    assert mapped and not mapped - categories, sorted(mapped - categories)


def test_transfer_scores_every_mapped_category() -> None:
    result = opp115_transfer()
    mapped = {c for t in default_taxonomy().types for c in t.opp115}
    assert set(result["per_category"]) == mapped
    assert result["segments"] == len(load_opp115("test"))
    assert 0.0 < result["macro_f1_mapped"] < 1.0
    policy_change = result["per_category"]["Policy Change"]
    assert policy_change["support"] > 0 and policy_change["f1"] > 0.5
