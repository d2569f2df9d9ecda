"""Tables of a run: parcels (inbound and outbound rows), vehicle legs and skipped loops."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import numpy as np
import pandas as pd

from sim.engine.constants import _STAGE, DIRECTIONS, FINAL_STATES, REASONS, RUN_KINDS
from sim.engine.demand import draw_carriers
from sim.engine.state import _Parcels, _Trips, county_cached
from sim.outbound import Outbound, spoil_times
from sim.world import POINT_KINDS, County, World

# pandas-stubs accepts only an Index (or None) as ``categories``; pandas takes any list-like.
_from_codes = cast("Callable[..., pd.Categorical]", pd.Categorical.from_codes)


@dataclass(frozen=True)
class Categories:
    """Category lists shared by every county's parcel table, so tables concatenate cheaply.

    Attributes
    ----------
    counties, townships, villages, places
        Codes (and, for places, vehicle ids and ``""``) of the whole region.
    town_offset, village_offset, place_offset
        Per county: index of its first township, village and place in those lists. A
        county's places are its centre, townships, villages and vehicles, in that order.
    """

    counties: list[str]
    carriers: list[str]
    townships: list[str]
    villages: list[str]
    places: list[str]
    town_offset: list[int]
    village_offset: list[int]
    place_offset: list[int]

    @classmethod
    def of(cls, world: World) -> Categories:
        """The categories of a world."""
        towns: list[str] = []
        vills: list[str] = []
        places: list[str] = []
        t_off, v_off, p_off = [], [], []
        for c in world.counties:
            t_off.append(len(towns))
            v_off.append(len(vills))
            p_off.append(len(places))
            towns += list(c.township_codes)
            vills += list(c.village_codes)
            places += [c.county_code, *c.township_codes, *c.village_codes]
            places += [v.id for v in c.vehicles]
        return cls(
            counties=[c.county_code for c in world.counties],
            carriers=[c.name for c in world.scenario.carriers],
            townships=towns,
            villages=vills,
            places=[*places, ""],
            town_offset=t_off,
            village_offset=v_off,
            place_offset=p_off,
        )

    @cached_property
    def dtypes(self) -> dict[str, pd.CategoricalDtype]:
        """The categorical type of each category column of the parcel table, made once (a
        type's categories are checked for duplicates when it is made)."""
        lists = {
            "carrier": self.carriers,
            "direction": DIRECTIONS,
            "county_code": self.counties,
            "township_code": self.townships,
            "village_code": self.villages,
            "point_kind": [*POINT_KINDS, "township"],
            "final_state": FINAL_STATES,
            "place": self.places,
            "reason": REASONS,
        }
        return {name: pd.CategoricalDtype(list(cats)) for name, cats in lists.items()}


def _code_type(n: int) -> type[np.signedinteger[Any]]:
    """The integer type pandas keeps for the codes of ``n`` categories (as its
    ``coerce_indexer_dtype``): codes made in it are not cast again."""
    for t in (np.int8, np.int16, np.int32):
        if n < np.iinfo(t).max:
            return t
    return np.int64


def _cat(codes: np.ndarray, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """A categorical of codes made here, within range by construction (not checked again:
    the check reads every code)."""
    return _from_codes(codes, dtype=dtype, validate=False)


#: Final state code (index in ``FINAL_STATES``) of an inbound parcel by its stage code:
#: delivered once picked up, failed once returned, else in the system.
_STATE_OF_STAGE = np.array(
    [
        FINAL_STATES.index({"picked_up": "delivered", "returned": "failed"}.get(name, "in_system"))
        for name in _STAGE
    ],
    dtype=np.int8,
)
_STATE_OF_STAGE.flags.writeable = False


def _stage(p: _Parcels, end: float) -> np.ndarray:
    """Stage code of every parcel at time ``end``."""
    # The last stage reached: stage codes grow along the list, so it is the largest code.
    stage = np.zeros(len(p.village), dtype=np.int8)
    for col, name in (
        (p.t_sorted, "awaiting_shuttle"),
        (p.t_shuttle, "on_shuttle"),
        (p.t_township, "awaiting_loop"),
        (p.t_loop, "on_loop"),
        (p.t_point, "awaiting_pickup"),
        (p.t_pickup, "picked_up"),
        (p.t_returned, "returned"),
    ):
        # The codes come in increasing order: a stage reached replaces the earlier ones.
        np.copyto(stage, np.int8(_STAGE[name]), where=col <= end)
    # Parcels held at the township point await pickup there, not a loop.
    stage[(stage == _STAGE["awaiting_loop"]) & p.held] = _STAGE["awaiting_pickup"]
    return stage


def _parcel_table(
    county: County,
    r: int,
    p: _Parcels,
    on_vehicle: np.ndarray,
    cats: Categories,
    index: int,
    end: float,
    *,
    stage: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rows of the parcel table for inbound parcels (``stage``: from :func:`_stage`)."""
    if stage is None:
        stage = _stage(p, end)
    state = _STATE_OF_STAGE.take(stage)
    # REASONS starts with the inbound stages in order: the stage codes are the reason codes
    # (in the int8 type the categorical keeps for them).
    reason = stage
    # Place: the facility or vehicle holding the parcel at the end ("" once it left).
    n_t, n_v = county.n_townships, county.n_villages
    place = np.full(len(stage), len(cats.places) - 1, dtype=_code_type(len(cats.places)))
    place[stage <= _STAGE["awaiting_shuttle"]] = 0
    moving = (stage == _STAGE["on_shuttle"]) | (stage == _STAGE["on_loop"])
    place[moving] = 1 + n_t + n_v + on_vehicle[moving]
    at_town = (stage == _STAGE["awaiting_loop"]) | ((stage == _STAGE["awaiting_pickup"]) & p.held)
    place[at_town] = 1 + p.township[at_town]
    at_vill = (stage == _STAGE["awaiting_pickup"]) & ~p.held
    place[at_vill] = 1 + n_t + p.village[at_vill]
    if cats.place_offset[index]:
        placed = place < len(cats.places) - 1
        place[placed] += cats.place_offset[index]
    # The run is over: its stage times become the table's columns in place (times after the
    # run's end cleared), and the frame keeps them without a copy (copy=False: one block per
    # column; copy-on-write guards them), so the table costs no second set of timestamps.
    for t in (p.t_sorted, p.t_shuttle, p.t_township, p.t_loop, p.t_point, p.t_pickup):
        _clear_after(t, end)
    _clear_after(p.t_returned, end)
    np.copyto(p.t_point, p.t_township, where=p.held)
    # The pickup draws are spent: their memory, already in use, holds the NaN column.
    nan = p.pickup_u
    nan.fill(np.nan)
    # Codes made in the integer type the categoricals keep (no second, cast copy).
    dt_c, dt_t, dt_v = (_code_type(len(c)) for c in (cats.counties, cats.townships, cats.villages))
    off_t, off_v = cats.town_offset[index], cats.village_offset[index]
    dt = cats.dtypes
    return pd.DataFrame(
        {
            "replication": np.full(len(stage), r, dtype=np.int32),
            "parcel_id": np.arange(len(stage), dtype=np.int64),
            "carrier": _cat(p.carrier, dt["carrier"]),
            "direction": _cat(np.zeros(len(stage), dtype=np.int8), dt["direction"]),
            "county_code": _cat(np.full(len(stage), index, dtype=dt_c), dt["county_code"]),
            "township_code": _cat(np.add(p.township, off_t, dtype=dt_t), dt["township_code"]),
            "village_code": _cat(np.add(p.village, off_v, dtype=dt_v), dt["village_code"]),
            "t_created": p.t_created,
            "t_sorted": p.t_sorted,
            "t_shuttle_depart": p.t_shuttle,
            "t_township": p.t_township,
            "t_loop_depart": p.t_loop,
            "t_point": p.t_point,
            "t_picked_up": p.t_pickup,
            "t_returned": p.t_returned,
            "t_collected": nan,  # one array for the three: copy-on-write keeps them apart
            "t_centre": nan,
            "t_trunk": nan,
            "held_at_township": p.held,
            "point_kind": _cat(
                np.where(p.held, len(POINT_KINDS), county.village_kind[p.village]),
                dt["point_kind"],
            ),
            "locker_overflows": p.overflows,
            "final_state": _cat(state, dt["final_state"]),
            "place": _cat(place, dt["place"]),
            "reason": _cat(reason, dt["reason"]),
        },
        copy=False,
    )


def _outbound_table(
    county: County,
    r: int,
    o: Outbound,
    on_vehicle: np.ndarray,
    cats: Categories,
    index: int,
    end: float,
) -> pd.DataFrame:
    """Rows of the parcel table for outbound parcels (same columns as the inbound rows)."""
    sc = county.scenario
    n = len(o)
    n_t, n_v = county.n_townships, county.n_villages
    spoil = spoil_times(o, sc.demand.outbound.cold_chain_shelf_factor)
    shipped = o.t_trunk <= end
    spoiled = spoil < np.where(shipped, o.t_trunk, end)
    # Stage at the end, latest first: on a trunk, at the centre, on a shuttle, at the
    # township, on a loop, at the village.
    on_shuttle = ~np.isnan(o.t_shuttle) & np.isnan(o.t_centre)
    at_town = ~np.isnan(o.t_township) & np.isnan(o.t_shuttle)
    on_loop = ~np.isnan(o.t_collected) & np.isnan(o.t_township)
    at_centre = ~np.isnan(o.t_centre) & ~shipped
    reason = np.full(n, REASONS.index("awaiting_collection"), dtype=np.int16)
    reason[on_loop] = REASONS.index("on_loop")
    reason[at_town] = REASONS.index("awaiting_shuttle_backhaul")
    reason[on_shuttle] = REASONS.index("on_shuttle")
    reason[at_centre] = REASONS.index("awaiting_trunk")
    reason[shipped] = REASONS.index("")
    reason[spoiled] = REASONS.index("shelf_life_exceeded")
    state = np.ones(n, dtype=np.int8)  # in_system
    state[shipped] = 0
    state[spoiled] = 2
    place = np.full(n, len(cats.places) - 1, dtype=np.int64)
    place[~shipped] = 1 + n_t + o.village[~shipped]  # still at the village
    moving = (on_loop | on_shuttle) & ~shipped
    place[moving] = 1 + n_t + n_v + on_vehicle[moving]
    place[at_town] = 1 + o.township[at_town]
    place[at_centre] = 0
    if cats.place_offset[index]:
        placed = place < len(cats.places) - 1
        place[placed] += cats.place_offset[index]
    nan = np.full(n, np.nan)
    dt = cats.dtypes
    return pd.DataFrame(
        {
            "replication": np.full(n, r, dtype=np.int32),
            "parcel_id": np.arange(n, dtype=np.int64),
            "carrier": _cat(
                draw_carriers(sc, f"carrier-out:{county.county_code}", r, n), dt["carrier"]
            ),
            "direction": _cat(np.ones(n, dtype=np.int8), dt["direction"]),
            "county_code": _cat(np.full(n, index, dtype=np.int32), dt["county_code"]),
            "township_code": _cat(o.township + cats.town_offset[index], dt["township_code"]),
            "village_code": _cat(o.village + cats.village_offset[index], dt["village_code"]),
            "t_created": o.t_created,
            "t_sorted": nan,
            "t_shuttle_depart": _upto(o.t_shuttle, end),
            "t_township": _upto(o.t_township, end),
            "t_loop_depart": nan,
            "t_point": nan,
            "t_picked_up": nan,
            "t_returned": nan,
            "t_collected": _upto(o.t_collected, end),
            "t_centre": _upto(o.t_centre, end),
            "t_trunk": _upto(o.t_trunk, end),
            "held_at_township": np.zeros(n, dtype=bool),
            "point_kind": _cat(county.village_kind[o.village], dt["point_kind"]),
            "locker_overflows": np.zeros(n, dtype=np.int16),
            "final_state": _cat(state, dt["final_state"]),
            "place": _cat(place, dt["place"]),
            "reason": _cat(reason, dt["reason"]),
        }
    )


def _upto(t: np.ndarray, end: float) -> np.ndarray:
    return np.where(t <= end, t, np.nan)


def _clear_after(t: np.ndarray, end: float) -> None:
    """Set the times after ``end`` to NaN, in place (as :func:`_upto` does in a copy)."""
    after = t > end
    if after.any():
        np.putmask(t, after, np.nan)


def _trip_table(county: County, r: int, trips: _Trips) -> pd.DataFrame:
    """One row per vehicle leg of a county and replication, in the order the legs ended."""
    n = len(trips.run)
    if n:
        # Text columns taken from the county's strings, converted once (not leg by leg).
        text = county_cached(county, "trip_text", lambda: _trip_text(county))
        one = np.zeros(n, dtype=np.intp)
        codes = {
            "county_code": text["county"].take(one),
            "vehicle": text["vehicle"].take(trips.vehicle),
            "type": text["type"].take(trips.vehicle),
            "kind": text["kind"].take(trips.kind),
            "from_code": text["codes"].take(trips.frm),
            "to_code": text["codes"].take(trips.to),
        }
    else:
        none = np.empty(0, dtype=object)
        codes = dict.fromkeys(
            ("county_code", "vehicle", "type", "kind", "from_code", "to_code"), none
        )
    return pd.DataFrame(
        {
            "replication": np.full(n, r, dtype=np.int32),
            "county_code": codes["county_code"],
            "run": trips.run.astype(np.int64),
            "vehicle": codes["vehicle"],
            "type": codes["type"],
            "kind": codes["kind"],
            "from_code": codes["from_code"],
            "to_code": codes["to_code"],
            "depart": trips.depart.astype(float),
            "arrive": trips.arrive.astype(float),
            "km": trips.km.astype(float),
            "load": trips.load.astype(np.int64),
            "stop_min": trips.stop_min.astype(float),
        }
    )


def _trip_text(county: County) -> dict[str, Any]:
    """The county's strings of the trip table as the column pandas makes of them (to take
    rows from): its code, vehicle ids and types, run kinds and facility codes."""

    def column(values: Any) -> Any:
        return pd.Series(np.asarray(values, dtype=object)).array

    return {
        "county": column([county.county_code]),
        "vehicle": column([v.id for v in county.vehicles]),
        "type": column([v.vtype for v in county.vehicles]),
        "kind": column(RUN_KINDS),
        "codes": column(county.codes),
    }


def _skip_table(county: County, r: int, skipped: list[tuple]) -> pd.DataFrame:
    ids = np.array([v.id for v in county.vehicles], dtype=object)
    rows = np.array(skipped, dtype=float).reshape(-1, 4)
    vi = rows[:, 0].astype(np.int64)
    return pd.DataFrame(
        {
            "replication": np.full(len(rows), r, dtype=np.int32),
            "county_code": np.full(len(rows), county.county_code, dtype=object),
            "vehicle": ids[vi] if len(rows) else np.empty(0, dtype=object),
            "day": rows[:, 1].astype(np.int64),
            "villages": rows[:, 2].astype(np.int64),
            "planned_min": rows[:, 3],
        }
    )
