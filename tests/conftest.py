"""Shared pytest fixtures. Each stage keeps its fixtures in its own block below."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loopback import LoopbackServer

# --- capture: the loopback HTTP server (tests/loopback.py) ---------------------------------


@pytest.fixture(scope="session")
def loopback_server() -> Iterator[LoopbackServer]:
    """One server per test session (per xdist worker)."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def loopback(loopback_server: LoopbackServer) -> LoopbackServer:
    """The session server with default routes, an empty request log and zeroed counters."""
    loopback_server.reset()
    return loopback_server


# --- end of capture fixtures ----------------------------------------------------------------
