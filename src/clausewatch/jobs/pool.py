"""Process pools for the CPU-bound batch stages (`clausewatch import`, the provisions build).

The work is split by document: a document's records and versions must be handled in order, one
at a time, but different documents are independent. Each share runs in a spawned process (no
inherited database connections) that opens its own `Archive` on the same database and store;
the database serialises the short write transactions and the CPU-bound work runs side by side.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

_PROGRESS: Any = None  # this worker's queue to the parent's progress bar


def default_workers() -> int:
    """One process per core, at most four (the database takes one writer at a time)."""
    return max(1, min(4, os.cpu_count() or 1))


# A share is worth a process from about this many characters of text: starting one (spawn,
# imports) costs 1-2 s of CPU, what importing or building about 3 MB of policy text costs.
MIN_SHARE_WEIGHT = 10_000_000


def balance(weights: Mapping[K, int], workers: int) -> list[list[K]]:
    """Keys dealt into at most ``workers`` lists of about equal total weight, heaviest first
    (LPT), with no fewer than `MIN_SHARE_WEIGHT` a list; empty lists are left out."""
    shares = min(workers, sum(weights.values()) // MIN_SHARE_WEIGHT)
    bins: list[tuple[int, list[K]]] = [(0, []) for _ in range(max(1, shares))]
    for key in sorted(weights, key=lambda k: weights[k], reverse=True):
        lightest = min(range(len(bins)), key=lambda i: bins[i][0])
        total, keys = bins[lightest]
        keys.append(key)
        bins[lightest] = (total + weights[key], keys)
    return [keys for _, keys in bins if keys]


def report_progress(done: int) -> None:
    """Called in a worker: ``done`` more units for the parent's progress callback."""
    if _PROGRESS is not None:
        _PROGRESS.put(done)


def _init_worker(progress: Any) -> None:
    global _PROGRESS
    _PROGRESS = progress


def run_shares(
    task: Callable[..., R],
    shares: Sequence[tuple[Any, ...]],
    *,
    progress: Callable[[int], None] | None = None,
) -> list[R]:
    """``task(*share)`` for every share, each in its own process, results in share order. The
    first failure cancels what has not started and is raised once the running shares end."""
    context = multiprocessing.get_context("spawn")
    updates = context.Queue()
    with ProcessPoolExecutor(
        max_workers=len(shares), mp_context=context, initializer=_init_worker, initargs=(updates,)
    ) as pool:
        futures: list[Future[R]] = [pool.submit(task, *share) for share in shares]
        pending: set[Future[R]] = set(futures)
        failure: BaseException | None = None
        while pending and failure is None:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            _drain(updates, progress)
            failure = next((f.exception() for f in done if f.exception() is not None), None)
        for future in pending:
            future.cancel()  # those not started; the running ones end before the pool closes
    _drain(updates, progress)
    if failure is not None:
        raise failure
    return [f.result() for f in futures]


def _drain(updates: Any, progress: Callable[[int], None] | None) -> None:
    while True:
        try:
            done = updates.get_nowait()
        except queue.Empty:
            return
        if progress is not None:
            progress(done)
