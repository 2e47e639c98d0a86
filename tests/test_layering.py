"""Import layering: stages lower in the data flow never import higher ones (no import circles).

Each check runs in a fresh interpreter, so that modules other tests loaded do not count."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_after(modules: list[str]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        # settings validate their values (capture time, frequency, digest time) when made
        "from clausewatch.config import Settings\n"
        "Settings(data_dir='.', capture_time='06:00', digest_at='monday 07:00')\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('clausewatch')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    ("modules", "forbidden"),
    [
        # settings parse their values with clausewatch.schedules only
        (["clausewatch.config"], ("clausewatch.jobs", "clausewatch.alerts")),
        # alerts are run by the job queue, never the other way round
        (
            [
                "clausewatch.alerts.digest",
                "clausewatch.alerts.dispatch",
                "clausewatch.alerts.matching",
                "clausewatch.alerts.watchlist",
            ],
            ("clausewatch.jobs",),
        ),
        (["clausewatch.registry.loader"], ("clausewatch.jobs", "clausewatch.alerts")),
        # change records are read by changes/queries.py; provisions' read path uses it, not back
        (["clausewatch.changes.queries"], ("clausewatch.provisions.queries", "clausewatch.web")),
    ],
)
def test_lower_stages_do_not_import_higher_ones(
    modules: list[str], forbidden: tuple[str, ...]
) -> None:
    loaded = loaded_after(modules)
    assert set(modules) <= loaded
    assert not {m for m in loaded if m.startswith(forbidden)}
