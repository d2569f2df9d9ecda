"""Worker processes that die with their parent, so a killed sweep leaves nothing running."""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

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
