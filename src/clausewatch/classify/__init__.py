"""The classify stage: clause taxonomy, multi-label clause classifier, severity and evidence.

``classify(text, heading=None)`` returns the clause types found in a provision with calibrated
confidence, severity (and the reasons for it), evidence basis and the exact supporting words.
The model artifact ships in ``classify/model/`` and is loaded on first use (scikit-learn).
"""

from clausewatch.classify.model import Prediction, classify
from clausewatch.classify.taxonomy import (
    ClauseType,
    Taxonomy,
    TaxonomyError,
    default_taxonomy,
    load_taxonomy,
)

__all__ = [
    "ClauseType",
    "Prediction",
    "Taxonomy",
    "TaxonomyError",
    "classify",
    "default_taxonomy",
    "load_taxonomy",
]
