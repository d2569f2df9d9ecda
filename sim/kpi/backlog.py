"""The physical queue at the county centre: every parcel there, whatever its creation time.

Inbound parcels wait unsorted from their arrival to the end of their sorting, then sorted
until their shuttle (or bus) leaves; outbound parcels wait from their arrival at the centre to
their trunk. The queue is a step function of time; its time average over the window is exact,
and its maximum is read on a one-minute grid (trunk arrivals fall on whole minutes).

A county-year is millions of parcels: the intervals are read a block of rows at a time, and
the grid counts come from each time's place on the grid, not from sorting the times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_GRID_MIN = 1.0
_CHUNK = 1 << 16


def _overlap_min(a: np.ndarray, b: np.ndarray, start: float, end: float) -> float:
    """Total minutes the intervals [a, b) spend inside [start, end)."""
    return float(np.clip(np.minimum(b, end) - np.maximum(a, start), 0.0, None).sum())


def _on_grid(a: np.ndarray, b: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """How many intervals [a, b) contain each grid time."""
    return np.searchsorted(np.sort(a), grid, side="right") - np.searchsorted(
        np.sort(b), grid, side="right"
    )


def grid_places(x: np.ndarray, grid: np.ndarray, padded: np.ndarray | None = None) -> np.ndarray:
    """``np.searchsorted(grid, x)`` (how many grid times lie before each ``x``) for a grid of
    whole steps of ``_GRID_MIN`` from ``grid[0]``: from each time's distance to the grid's
    start, checked against the grid (and searched for where the arithmetic is off).
    ``padded`` is the grid between -inf and +inf, if at hand."""
    m = len(grid)
    if m == 0:
        return np.zeros(len(x), dtype=np.int64)
    if padded is None:
        padded = np.concatenate([[-np.inf], grid, [np.inf]])
    with np.errstate(invalid="ignore"):
        j = np.ceil((x - grid[0]) / _GRID_MIN)
        np.clip(j, 0, m, out=j)
        j[np.isnan(j)] = m
    j = j.astype(np.int64)
    with np.errstate(invalid="ignore"):  # the grid time before each place, and at it
        wrong = ~((padded[j] < x) & (x <= padded[j + 1])) & ~np.isnan(x)
    if wrong.any():
        j[wrong] = np.searchsorted(grid, x[wrong])
    return j


class _Grid:
    """Counts, per grid time, of interval starts and ends at or before it."""

    def __init__(self, grid: np.ndarray) -> None:
        self.grid = grid
        self.padded = np.concatenate([[-np.inf], grid, [np.inf]])
        self.starts = np.zeros(len(grid) + 1, dtype=np.int64)
        self.ends = np.zeros(len(grid) + 1, dtype=np.int64)

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        """Add the intervals [a, b)."""
        for counts, x in ((self.starts, a), (self.ends, b)):
            j = grid_places(x, self.grid, self.padded)
            if len(j):  # over the span of places the block reaches (its rows are near in time)
                lo = int(j.min())
                part = np.bincount(j - lo)
                counts[lo : lo + len(part)] += part

    def queue(self) -> np.ndarray:
        """Intervals containing each grid time (as :func:`_on_grid`)."""
        m = len(self.grid)
        return np.cumsum(self.starts)[:m] - np.cumsum(self.ends)[:m]


def centre_queue(
    parcels: pd.DataFrame, start: float, end: float, run_end: float
) -> dict[str, float | np.ndarray]:
    """Time-averaged queues at the centre over [start, end), and the queue on a minute grid.

    ``parcels`` are one county's rows of one replication; times not reached by ``run_end``
    count as waiting until then.
    """
    inbound = parcels["direction"].cat.codes.to_numpy() == 0
    rows = np.flatnonzero(inbound)
    cols = [parcels[k].to_numpy() for k in ("t_created", "t_sorted", "t_shuttle_depart")]
    out0 = parcels["t_centre"].to_numpy()[~inbound]
    out1 = _fill(parcels["t_trunk"].to_numpy()[~inbound], run_end)
    has_out = ~np.isnan(out0)
    out0, out1 = out0[has_out], out1[has_out]
    length = end - start
    grid = _Grid(np.arange(start, end, _GRID_MIN))
    # Each interval's minutes in the window, a block at a time into one buffer that is then
    # summed whole (the same sum as of the whole array).
    unsorted, waiting = np.empty(len(rows)), np.empty(len(rows))
    whole = len(rows) > 0 and rows[-1] - rows[0] + 1 == len(rows)
    for a in range(0, len(rows), _CHUNK):
        b = min(a + _CHUNK, len(rows))
        part = slice(rows[0] + a, rows[0] + b) if whole else rows[a:b]
        t0, t1, t2 = (x[part] for x in cols)
        t1, t2 = _fill(t1, run_end), _fill(t2, run_end)
        at = slice(a, a + len(t0))
        _clipped(t0, t1, start, end, unsorted[at])
        _clipped(t1, t2, start, end, waiting[at])
        grid.add(t0, t2)
    grid.add(out0, out1)
    return {
        "unsorted": float(unsorted.sum()) / length,
        "sorted": float(waiting.sum()) / length,
        "outbound": _overlap_min(out0, out1, start, end) / length,
        "grid": grid.queue(),
    }


def _clipped(a: np.ndarray, b: np.ndarray, start: float, end: float, out: np.ndarray) -> None:
    """Minutes each interval [a, b) spends inside [start, end), into ``out``."""
    np.subtract(np.minimum(b, end), np.maximum(a, start), out=out)
    np.clip(out, 0.0, None, out=out)


def _fill(t: np.ndarray, run_end: float) -> np.ndarray:
    return np.where(np.isnan(t), run_end, t)
