"""Fixtures for the Chromium tests: a sample archive, the site served from it by uvicorn on
loopback, and Debian's headless Chromium driven by Playwright. Each is a factory, so that a test
module picks its sample and names the fixtures itself::

    archive_dir = archive_fixture(BUNDLED_SAMPLE)
    base_url = server_fixture()  # serves archive_dir
    browser = browser_fixture()

All three are module-scoped: a module starts its server and browser once per xdist worker that
runs any of its tests; the archive of a sample is built once per test run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import free_port
from web_fixtures import SAMPLE, populate

from clausewatch.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
NEEDS_CHROMIUM = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


def archive_fixture(sample: Path = SAMPLE) -> Any:
    """A module fixture ``archive_dir``: ``sample`` imported and analysed into a fresh data dir,
    built once per test run: xdist workers share it (the pages only read it)."""

    @pytest.fixture(scope="module")
    def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
        root = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):
            root = root.parent  # this run's folder, above the workers' own
        target = root / f"archive-{sample.name}"
        with open(root / f"{target.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one worker builds it, the others wait for it
            if not (target / "built").exists():
                populate(target / "data", sample)
                (target / "built").touch()
        return target / "data"

    return archive_dir


@contextlib.contextmanager
def uvicorn_serving(app: Any, **options: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port for the block; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def server_fixture() -> Any:
    """A module fixture ``base_url``: the site over ``archive_dir``, served by uvicorn."""

    @pytest.fixture(scope="module")
    def base_url(archive_dir: Path) -> Iterator[str]:
        from clausewatch.web import create_app

        with uvicorn_serving(create_app(Settings(data_dir=archive_dir))) as url:
            yield url

    return base_url


def browser_fixture() -> Any:
    """A module fixture ``browser``: headless Chromium (the capture's launch arguments)."""

    @pytest.fixture(scope="module")
    def browser() -> Iterator[Any]:
        playwright_api = pytest.importorskip("playwright.sync_api")
        from clausewatch.capture.browser import LAUNCH_ARGS

        with playwright_api.sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS))
            yield chromium
            chromium.close()

    return browser
