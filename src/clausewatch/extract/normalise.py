"""Placeholder, replaced below."""

import hashlib


def normalise_for_hash(markdown: str) -> str:
    return markdown


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
