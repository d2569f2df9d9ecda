"""Peak memory of this process and its worker processes, sampled from ``/proc``.

``getrusage(RUSAGE_CHILDREN)`` is no use here: a child forked by a large parent (e.g. for
``git describe``) reports the parent's pages as its own peak. This samples the resident set
of this process and of each descendant every ``interval`` seconds instead (Linux only).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path


def _rss_mib(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The 4th field after the parenthesised command name is the parent pid.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry.name))
    return kids


@dataclass
class PeakMemory:
    """Peaks seen while the ``with`` block ran, MiB."""

    interval: float = 0.2
    own: float = 0.0
    worker: float = 0.0
    total: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            own = _rss_mib(me)
            kids = [_rss_mib(k) for k in _children(me)]
            self.own = max(self.own, own)
            self.worker = max([self.worker, *kids])
            self.total = max(self.total, own + sum(kids))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def rss_peak_mib() -> float:
    """This process's peak resident set so far (``getrusage``), MiB."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
