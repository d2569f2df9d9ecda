"""The physical queue at the county centre: every parcel there, whatever its creation time.

Inbound parcels wait unsorted from their arrival to the end of their sorting, then sorted
until their shuttle (or bus) leaves; outbound parcels wait from their arrival at the centre to
their trunk. The queue is a step function of time; its time average over the window is exact,
and its maximum is read on a one-minute grid (trunk arrivals fall on whole minutes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_GRID_MIN = 1.0


def _overlap_min(a: np.ndarray, b: np.ndarray, start: float, end: float) -> float:
    """Total minutes the intervals [a, b) spend inside [start, end)."""
    return float(np.clip(np.minimum(b, end) - np.maximum(a, start), 0.0, None).sum())


def _on_grid(a: np.ndarray, b: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """How many intervals [a, b) contain each grid time."""
    return np.searchsorted(np.sort(a), grid, side="right") - np.searchsorted(
        np.sort(b), grid, side="right"
    )


def centre_queue(
    parcels: pd.DataFrame, start: float, end: float, run_end: float
) -> dict[str, float | np.ndarray]:
    """Time-averaged queues at the centre over [start, end), and the queue on a minute grid.

    ``parcels`` are one county's rows of one replication; times not reached by ``run_end``
    count as waiting until then.
    """
    inbound = parcels["direction"].cat.codes.to_numpy() == 0
    t0 = parcels["t_created"].to_numpy()[inbound]
    t1 = _fill(parcels["t_sorted"].to_numpy()[inbound], run_end)
    t2 = _fill(parcels["t_shuttle_depart"].to_numpy()[inbound], run_end)
    out0 = parcels["t_centre"].to_numpy()[~inbound]
    out1 = _fill(parcels["t_trunk"].to_numpy()[~inbound], run_end)
    has_out = ~np.isnan(out0)
    out0, out1 = out0[has_out], out1[has_out]
    length = end - start
    grid = np.arange(start, end, _GRID_MIN)
    return {
        "unsorted": _overlap_min(t0, t1, start, end) / length,
        "sorted": _overlap_min(t1, t2, start, end) / length,
        "outbound": _overlap_min(out0, out1, start, end) / length,
        "grid": _on_grid(np.concatenate([t0, out0]), np.concatenate([t2, out1]), grid),
    }


def _fill(t: np.ndarray, run_end: float) -> np.ndarray:
    return np.where(np.isnan(t), run_end, t)
