"""Executors of a sweep's runs (serial, local processes, Dask), and worker processes that die
with their parent, so a killed sweep leaves nothing running."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import pandas as pd

from sim.errors import SimError, UsageError

_PR_SET_PDEATHSIG = 1


def init_worker(parent_pid: int) -> None:
    """Pool initializer: on Linux, ask the kernel to SIGKILL this worker when its parent dies.

    Also ignores SIGINT (the parent handles Ctrl-C and stops the pool) and exits at once if
    the parent is already gone.
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
    one: Callable[[dict[str, Any], int], pd.DataFrame],
    pending: list,
    finish: Callable[[str, Any], None],
    *,
    backend: str,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Run ``one(scenario, replication)`` for each pending run on the backend.

    ``finish(key, result or error)`` is called for each run as it ends; a run's error is
    passed on, so the sweep goes on.

    An error in ``finish`` (e.g. a full disk) or a signal stops the sweep: runs not started
    are cancelled and the worker processes are killed.
    """
    if backend == "dask":
        _run_dask(one, pending, scheduler, finish)
        return
    if backend == "serial" or len(pending) <= 1:
        for _, r, key, sc in pending:
            try:
                result: pd.DataFrame | BaseException = one(sc, r)
            except (SimError, ValueError, RuntimeError) as exc:
                result = exc
            finish(key, result)
        return
    executor = pool(workers)
    try:
        futures = {executor.submit(one, sc, r): key for _, r, key, sc in pending}
        for fut in as_completed(futures):
            try:
                result = fut.result()
            except Exception as exc:  # a failed run is recorded, the sweep goes on
                result = exc
            finish(futures[fut], result)
    except BaseException:
        stop(executor)
        raise
    executor.shutdown()


def _run_dask(one: Callable, pending: list, scheduler: str | None, finish: Callable) -> None:
    """Run on a Dask distributed cluster; each result is written as it arrives."""
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise UsageError(
            "--scheduler needs dask.distributed: pip install 'dask[distributed]'"
        ) from None
    if not scheduler:
        raise UsageError("--backend dask needs --scheduler tcp://HOST:PORT")
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        futures = {client.submit(one, sc, r, pure=False): key for _, r, key, sc in pending}
        for fut in dask_completed(list(futures)):
            try:
                result = fut.result()
            except Exception as exc:  # a failed run is recorded, the sweep goes on
                result = exc
            finish(futures[fut], result)
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
