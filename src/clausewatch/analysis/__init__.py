"""The analyse stage: what a provision means, written only from what its text says.

``narrative`` builds the grounded narrative sections of a provision page (what it is, why it
matters, consumer impact, what you can do, FAQ) from the taxonomy and the provision's own text;
``llm`` optionally rephrases them with an OpenAI-compatible model and keeps the rewrite only when
:func:`~clausewatch.analysis.narrative.check_grounded` finds nothing that the text or the
reference narrative does not support.
"""

from clausewatch.analysis.narrative import (
    Narrative,
    NarrativeInput,
    check_grounded,
    narrate,
    quoted_fragments,
)

__all__ = ["Narrative", "NarrativeInput", "check_grounded", "narrate", "quoted_fragments"]
