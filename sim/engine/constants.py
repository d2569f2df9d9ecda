"""Constants of the engine: the day length, parcel stages, reasons and final states."""

from __future__ import annotations

import numpy as np

from sim.measure import DAY_MIN as DAY_MIN  # minutes in a day, defined once there
from sim.world import POINT_KINDS

#: Stages a parcel passes, in order; the index is the parcel's stage code.
STAGES = (
    "awaiting_sort",  # at the county centre, not sorted yet
    "awaiting_shuttle",  # sorted, waiting at the county centre
    "on_shuttle",
    "awaiting_loop",  # at the township point, waiting for a village loop
    "on_loop",
    "awaiting_pickup",  # at the village (or township) point
    "picked_up",
    "returned",  # unclaimed, returned after max_hold_days
)
_STAGE = {name: i for i, name in enumerate(STAGES)}

_LOCKER = POINT_KINDS.index("locker")
_DOOR = POINT_KINDS.index("door")
_NONE = np.empty(0, dtype=np.int64)

#: Parcel directions: 工业品下乡 (into villages) and 农产品进城 (out of them).
DIRECTIONS = ("inbound", "outbound")

#: Reasons in the parcel table: the inbound stages in order (see ``STAGES``; picked up is
#: "", returned is "unclaimed_returned"), then the outbound ones.
REASONS = (
    *STAGES[:6],
    "",
    "unclaimed_returned",
    "awaiting_collection",
    "awaiting_shuttle_backhaul",
    "awaiting_trunk",
    "shelf_life_exceeded",
)

#: Kinds of vehicle run, in the order of their codes in the vehicle legs (``_Trips.kind``).
RUN_KINDS = ("shuttle", "village_loop", "collection", "bus")
_RUN_KIND = {name: i for i, name in enumerate(RUN_KINDS)}

#: Final states of a parcel at the end of a run.
FINAL_STATES = ("delivered", "in_system", "spoiled", "failed")


def stable_order(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of small non-negative integer keys, by radix sort.

    Keys below 2**15 are sorted as ``int16``, which numpy sorts in linear time; the order
    is the same (a stable sort of equal keys has one result). Short arrays sort as they are.
    """
    if len(key) > 256 and 0 <= key.min() and key.max() < 2**15:
        return np.argsort(key.astype(np.int16), kind="stable")
    return np.argsort(key, kind="stable")
