"""Executors of a sweep's runs (serial, local processes, Dask), and worker processes that die
with their parent, so a killed sweep leaves nothing running."""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pandas as pd

from sim._sweep_runs import Outcome, cached_run, variant_runs, variant_task
from sim.errors import SimError, UsageError

_PR_SET_PDEATHSIG = 1
#: Errors of a run recorded by the serial backend (others, such as bugs, stop the sweep).
_SERIAL_ERRORS = (SimError, ValueError, RuntimeError)

#: One variant's pending runs: its resolved scenario and each (replication, run key).
Task = tuple[dict[str, Any], list[tuple[int, str]]]


def init_worker(parent_pid: int) -> None:
    """Pool initializer: on Linux, ask the kernel to SIGKILL this worker when its parent dies.

    Also ignores SIGINT (the parent handles Ctrl-C and stops the pool), exits at once if
    the parent is already gone, and moves the objects it inherited (the imported modules,
    some 130,000) out of the garbage collector's reach (``gc.freeze``): each county's two
    full collections then skip them, about 30 ms each, and do not copy their pages.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    gc.freeze()


def pool(workers: int | None) -> ProcessPoolExecutor:
    """A process pool whose workers die with this process."""
    return ProcessPoolExecutor(
        max_workers=workers or os.cpu_count(), initializer=init_worker, initargs=(os.getpid(),)
    )


def stop(executor: ProcessPoolExecutor) -> None:
    """Cancel what has not started and kill the running workers (after an error or a signal)."""
    procs = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.kill()
    for p in procs:
        p.join(timeout=5)


def execute(
    tasks: list[Task],
    finish: Callable[[str, Outcome], None],
    *,
    backend: str,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Run each variant's pending runs on the backend; a variant's world is built once.

    ``tasks`` are (resolved scenario, [(replication, run key), ...]) per variant.
    ``finish(key, result or error)`` is called for each run as it ends (on Dask, for the
    runs of a variant when the variant ends); a run's error is passed on, so the sweep goes
    on. The results do not depend on the backend, the number of workers or the order in
    which runs end.

    An error in ``finish`` (e.g. a full disk) or a signal stops the sweep: runs not started
    are cancelled and the worker processes are killed.
    """
    if backend == "dask":
        _run_dask(tasks, scheduler, finish)
    elif backend == "serial" or sum(len(runs) for _, runs in tasks) <= 1:
        for scenario, runs in tasks:
            keys = dict(runs)
            for r, result in variant_runs(scenario, list(keys), errors=_SERIAL_ERRORS):
                finish(keys[r], result)
    else:
        _run_pools(tasks, finish, workers)


def _run_pools(
    tasks: list[Task], finish: Callable[[str, Outcome], None], workers: int | None
) -> None:
    """Run on local processes, one single-worker pool each, a variant's runs on one of them.

    A worker builds a variant's world on its first run and reuses it for the next ones
    (:func:`sim._sweep_runs.cached_run`). A pool is given more runs as soon as it has at most
    one left, so it never waits for the parent, and every run's result comes back (and is
    written) as soon as it ends. The last variants are handed out one run at a time, so that
    no worker idles at the end while another has runs waiting.

    The parent's objects are frozen out of the garbage collector while the pools live
    (``gc.freeze``): a forked worker then does not copy them page by page on its first
    collections, which cost about half a second per worker.
    """
    n = max(1, min(workers or os.cpu_count() or 1, sum(len(runs) for _, runs in tasks)))
    backlog = deque((json.dumps(sc, sort_keys=True), runs) for sc, runs in tasks)
    running: dict[Future[pd.DataFrame], tuple[str, int]] = {}
    load = [0] * n  # runs sent to each pool and not yet finished
    gc.freeze()
    pools = [pool(1) for _ in range(n)]

    def feed(i: int) -> None:
        while backlog and load[i] <= 1:
            for r, key, text in _take(backlog, n):
                try:
                    running[pools[i].submit(cached_run, text, r)] = (key, i)
                    load[i] += 1
                except BrokenProcessPool as exc:  # its worker died: the run fails
                    finish(key, exc)

    try:
        for i in range(n):
            feed(i)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                key, i = running.pop(fut)
                load[i] -= 1
                try:
                    result: Outcome = fut.result()
                except Exception as exc:  # a failed run is recorded, the sweep goes on
                    result = exc
                finish(key, result)
                feed(i)
    except BaseException:
        for p in pools:
            stop(p)
        raise
    finally:
        gc.unfreeze()
    for p in pools:
        p.shutdown()


def _take(backlog: deque[tuple[str, list[tuple[int, str]]]], n_pools: int) -> list:
    """The next runs for a pool: a whole variant, or one run of it when fewer variants are
    left than pools (the end of a sweep, or a sweep of few variants), so that every pool gets
    work. Each run is (replication, key, scenario JSON)."""
    text, runs = backlog[0]
    if len(backlog) < n_pools and len(runs) > 1:
        backlog[0] = (text, runs[1:])
        runs = runs[:1]
    else:
        backlog.popleft()
    return [(r, key, text) for r, key in runs]


def _run_dask(tasks: list[Task], scheduler: str | None, finish: Callable) -> None:
    """Run on a Dask distributed cluster, one task per variant; results written as they come."""
    if not scheduler:
        raise UsageError("--backend dask needs --scheduler tcp://HOST:PORT")
    client = connect(scheduler)
    from distributed import as_completed as dask_completed

    try:
        futures = {
            client.submit(variant_task, sc, [r for r, _ in runs], pure=False): dict(runs)
            for sc, runs in tasks
        }
        for fut in dask_completed(list(futures)):
            keys = futures[fut]
            try:
                outcomes = fut.result()
            except Exception as exc:  # a failed variant is recorded, the sweep goes on
                outcomes = [(r, exc) for r in keys]
            for r, result in outcomes:
                finish(keys[r], result)
    finally:
        client.close()


def connect(scheduler: str):
    """A Dask client of the scheduler at ``scheduler`` (``tcp://HOST:PORT``).

    Raises
    ------
    UsageError
        When dask.distributed is missing or the scheduler cannot be reached.
    """
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask is a dependency
        raise UsageError(
            "--scheduler needs dask.distributed: pip install 'dask[distributed]'"
        ) from None
    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
