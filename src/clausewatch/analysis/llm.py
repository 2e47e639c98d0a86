"""Optional LLM rewrite of a template narrative, kept only when it stays grounded.

:class:`LLMWriter` sends the template (reference) narrative and the provision text to an
OpenAI-compatible ``/chat/completions`` endpoint, asks for a rephrasing as JSON, and runs
:func:`~clausewatch.analysis.narrative.check_grounded` on the answer. It never raises for a bad
answer: a failed request, an HTTP error, a timeout, invalid JSON or a failed check all return
the reference narrative with the reasons in ``Narrative.rejected``.

Off by default; turned on by ``CLAUSEWATCH_LLM_URL`` (see :func:`narrative_writer`).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

import httpx2

from clausewatch.analysis.narrative import (
    Narrative,
    NarrativeInput,
    check_grounded,
    quoted_fragments,
)

if TYPE_CHECKING:
    from clausewatch.classify.taxonomy import Taxonomy
    from clausewatch.config import Settings

SYSTEM_PROMPT = """You rephrase the sections of a provision page so that they read well.
Rules:
- Rephrase only. Add no facts: no new numbers, dates, amounts, durations, names, companies,
  laws or claims that are not in the reference narrative or the provision text.
- Keep every quotation (text inside “ ” or " ") verbatim, character for character.
- Keep the severity word (High, Medium or Low) stated in the reference.
- Keep every section and every FAQ question; do not make the text longer than the reference.
- Answer with one JSON object only, with the keys what_it_is, why_it_matters, consumer_impact
  (strings), what_you_can_do (list of strings) and faq (list of [question, answer] pairs)."""
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*$", re.S | re.I)
_SECTIONS = ("what_it_is", "why_it_matters", "consumer_impact")


class _BadAnswer(ValueError):
    pass


class LLMWriter:
    """Rewrites narratives with an OpenAI-compatible chat-completions API."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx2.BaseTransport | None = None,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self._api_key = api_key
        self._transport = transport
        self._taxonomy = taxonomy

    def __repr__(self) -> str:  # never shows the key
        return f"LLMWriter(url={self.url!r}, model={self.model!r})"

    def rewrite(self, inp: NarrativeInput, reference: Narrative) -> Narrative:
        """The LLM's rephrasing when it passes :func:`check_grounded`, else ``reference``
        with the reasons in ``rejected``."""
        try:
            content = self._complete(inp, reference)
        except httpx2.TimeoutException:
            return self._reject(
                reference, f"LLM request failed: timed out after {self.timeout:g} s ({self.url})"
            )
        except httpx2.HTTPStatusError as exc:
            return self._reject(
                reference, f"LLM request failed: HTTP {exc.response.status_code} from {self.url}"
            )
        except httpx2.HTTPError as exc:
            return self._reject(
                reference, f"LLM request failed: {type(exc).__name__}: {exc} ({self.url})"
            )
        except _BadAnswer as exc:
            return self._reject(reference, f"LLM answer unusable: {exc}")
        try:
            candidate = _parse(content, self.model)
        except _BadAnswer as exc:
            return self._reject(reference, f"LLM answer unusable: {exc}")
        problems = check_grounded(candidate, inp, reference, self._taxonomy)
        if problems:
            return self._reject(reference, *problems)
        return candidate

    def _reject(self, reference: Narrative, *reasons: str) -> Narrative:
        return replace(reference, rejected=tuple(reasons))

    def _complete(self, inp: NarrativeInput, reference: Narrative) -> str:
        sections = asdict(reference)
        for key in ("quotes", "writer", "rejected"):
            sections.pop(key)
        user = (
            "Reference narrative (JSON):\n"
            + json.dumps(sections, ensure_ascii=False, indent=1)
            + f"\n\nPlatform: {inp.platform}\nDocument: {inp.document}\nTitle: {inp.title}\n"
            + "Provision text (quote only from this):\n<<<\n"
            + inp.text
            + "\n>>>"
        )
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user},
            ],
        }
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        with httpx2.Client(timeout=self.timeout, transport=self._transport) as client:
            response = client.post(self.url, json=body, headers=headers)
            response.raise_for_status()
        try:
            answer = response.json()
            content = answer["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _BadAnswer(f"not a chat-completions response ({type(exc).__name__})") from exc
        if not isinstance(content, str):
            raise _BadAnswer("the message content is not text")
        return content


def _parse(content: str, model: str) -> Narrative:
    fenced = _FENCE.match(content)
    raw = fenced.group(1) if fenced else content.strip()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _BadAnswer(f"invalid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise _BadAnswer("the JSON is not an object")
    for key in (*_SECTIONS, "what_you_can_do", "faq"):
        if key not in data:
            raise _BadAnswer(f"missing key {key}")
    for key in _SECTIONS:
        if not isinstance(data[key], str):
            raise _BadAnswer(f"{key} is not a string")
    actions = data["what_you_can_do"]
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise _BadAnswer("what_you_can_do is not a list of strings")
    faq = tuple(_faq_item(item, i) for i, item in enumerate(_as_list(data["faq"], "faq")))
    narrative = Narrative(
        what_it_is=data["what_it_is"],
        why_it_matters=data["why_it_matters"],
        consumer_impact=data["consumer_impact"],
        what_you_can_do=tuple(actions),
        faq=faq,
        quotes=(),
        writer=f"llm:{model}",
    )
    quotes = [q for _, text in narrative.sections() for q in quoted_fragments(text)]
    return replace(narrative, quotes=tuple(dict.fromkeys(quotes)))


def _as_list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise _BadAnswer(f"{key} is not a list")
    return value


def _faq_item(item: Any, i: int) -> tuple[str, str]:
    if isinstance(item, dict):
        item = [item.get("question", item.get("q")), item.get("answer", item.get("a"))]
    if (
        not isinstance(item, list | tuple)
        or len(item) != 2
        or not all(isinstance(x, str) for x in item)
    ):
        raise _BadAnswer(f"faq[{i}] is not a [question, answer] pair")
    return item[0], item[1]


def narrative_writer(settings: Settings) -> LLMWriter | None:
    """The configured writer, or ``None`` when ``llm_url`` is not set (the default)."""
    if not settings.llm_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LLMWriter(settings.llm_url, settings.llm_model, api_key=key)
