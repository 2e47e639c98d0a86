"""The capture stage: fetch a document's source URL and record exactly what came back.

``CaptureClient`` is the entry point (HTTP first, browser fallback); ``HttpFetcher`` and
``BrowserFetcher`` implement the `Fetcher` protocol; ``assess_response`` says when a response
is a wall or an error page rather than the document.
"""

from clausewatch.capture.assess import BlockedReason, assess_response, content_kind
from clausewatch.capture.base import Fetcher, FetcherName, FetchRequest, FetchResult, Redirect
from clausewatch.capture.browser import BrowserFetcher, BrowserUnavailable
from clausewatch.capture.client import FALLBACK_REASONS, CaptureClient, capture, needs_fallback
from clausewatch.capture.http import HttpFetcher, fetch_all, parse_retry_after
from clausewatch.capture.pacing import HostGate, host_key
from clausewatch.capture.robots import RobotsCache

__all__ = [
    "FALLBACK_REASONS",
    "BlockedReason",
    "BrowserFetcher",
    "BrowserUnavailable",
    "CaptureClient",
    "FetchRequest",
    "FetchResult",
    "Fetcher",
    "FetcherName",
    "HostGate",
    "HttpFetcher",
    "Redirect",
    "RobotsCache",
    "assess_response",
    "capture",
    "content_kind",
    "fetch_all",
    "host_key",
    "needs_fallback",
    "parse_retry_after",
]
