"""`clausewatch serve`: the web site and the JSON API."""

from __future__ import annotations

import errno
import os
import socket
from typing import Annotated, Any

import typer

from clausewatch.cli_common import DataDir, fail, out, settings_for

Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on (0: any free port).")]


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or one clear error line: a port out of range, an
    address that does not resolve or is not this machine's, a port already in use."""
    if not 0 <= port <= 65535:
        raise fail(f"--port {port} is out of range (0 to 65535)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as exc:
        raise fail(f"--host {host}: cannot resolve this address ({exc})") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            message = f"port {port} on {host} is already in use: stop what holds it or use --port"
        elif exc.errno in (errno.EACCES, errno.EPERM):
            message = f"port {port} on {host}: permission denied (ports below 1024 need root)"
        else:
            message = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise fail(message) from exc
    return sock


# uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: off. The app reads the header
# itself, only from the configured `trusted_proxies` (clausewatch.web.accounts.client_ip).
SERVER_OPTIONS: dict[str, Any] = {"proxy_headers": False, "forwarded_allow_ips": ""}

Workers = Annotated[
    int,
    typer.Option(
        min=1,
        help="Worker processes sharing the port (uvicorn workers); each opens the archive "
        "read-mostly: on SQLite (WAL) readers never take the write lock.",
    ),
]


def serve(
    host: Host = "127.0.0.1", port: Port = 8000, data_dir: DataDir = None, workers: Workers = 1
) -> None:
    """Serve the web site and the JSON API (/api/v1) over the archive."""
    sock = listen(host, port)  # before anything is printed: a busy port fails in one line
    try:
        import uvicorn

        from clausewatch.web import create_app

        settings = settings_for(data_dir)
        port = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        if workers == 1:
            app = create_app(settings)
        else:
            from clausewatch.archive.service import Archive

            Archive.open(settings).close()  # migrate once, here, not in each worker at once
            if data_dir is not None:  # the workers build their settings from the environment
                os.environ["CLAUSEWATCH_DATA_DIR"] = str(data_dir)
        out.print(
            f"serving http://{shown}:{port}/ (API: /api/v1, OpenAPI: /api/v1/openapi.json)"
            + (f" with {workers} worker processes" if workers > 1 else ""),
            highlight=False,
        )
        if workers == 1:
            config = uvicorn.Config(app, host=host, port=port, log_level="info", **SERVER_OPTIONS)
            uvicorn.Server(config).run(sockets=[sock])
            return
        from uvicorn.supervisors import Multiprocess

        config = uvicorn.Config(
            "clausewatch.web.app:create_worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            **SERVER_OPTIONS,
        )
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
