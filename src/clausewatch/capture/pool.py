"""Keep-alive connections kept per host, so that a request never scans other hosts' sockets.

httpcore's pool is one list of connections for every host: each request walks all of them and
asks every idle one whether its server hung up (a socket probe each). With the fetcher's many
hosts that walk grows with the number of hosts, and a keep-alive limit below the number of hosts
closes and reopens connections all the time. Here every host (scheme, host and port) has its own
small pool, and the pools of the hosts least recently asked are closed when there are too many.
The per-host gate already lets one request at a time through to a host, so one kept-alive
connection per host is all that is ever reused.
"""

from __future__ import annotations

import ssl
from collections import OrderedDict

import httpx2

KEEPALIVE_PER_HOST = 1
KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept (httpcore's default)


class PerHostTransport(httpx2.AsyncBaseTransport):
    """An `httpx2.AsyncHTTPTransport` per origin (scheme, host, port), at most ``max_hosts``
    of them: when a new host would make one more, idle pools of the hosts least recently used
    are closed (a pool with a request in flight is never closed). One TLS context for all."""

    def __init__(self, *, max_hosts: int = 64, ssl_context: ssl.SSLContext | None = None) -> None:
        self.max_hosts = max(1, max_hosts)
        self._ssl = ssl_context or httpx2.create_ssl_context(trust_env=False)
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], httpx2.AsyncHTTPTransport] = (
            OrderedDict()
        )
        self._limits = httpx2.Limits(
            max_connections=None,  # the fetcher's own limits bound what is in flight
            max_keepalive_connections=KEEPALIVE_PER_HOST,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        )

    @property
    def hosts(self) -> int:
        """How many hosts have a pool now."""
        return len(self._pools)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            await self._make_room()
            pool = self._pools[key] = httpx2.AsyncHTTPTransport(
                verify=self._ssl, trust_env=False, limits=self._limits
            )
        else:
            self._pools.move_to_end(key)
        return await pool.handle_async_request(request)

    async def _make_room(self) -> None:
        while len(self._pools) >= self.max_hosts:
            victim = next((k for k, p in self._pools.items() if _idle(p)), None)
            if victim is None:  # every pool busy: go over the bound rather than wait
                return
            await self._pools.pop(victim).aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await pool.aclose()


def _idle(transport: httpx2.AsyncHTTPTransport) -> bool:
    """No request in flight (every connection idle or closed): safe to close now."""
    pool = transport._pool
    return all(c.is_idle() or c.is_closed() for c in pool.connections)
