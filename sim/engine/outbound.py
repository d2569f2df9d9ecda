"""Outbound parcels (农产品进城): queues at villages, townships and the centre; trunk departures."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim.engine.constants import DAY_MIN
from sim.engine.state import State
from sim.scenario import clock_minutes


def queue_at_villages(st: State) -> None:
    """Put every outbound parcel in its village's queue, ready from its creation."""
    o = st.o
    order = np.lexsort((o.t_created, o.village))
    cut = np.flatnonzero(np.diff(o.village[order])) + 1
    for part in np.split(order, cut):
        st.out_village[o.village[part[0]]].push(part, o.t_created[part])


def out_index(st: State, f: int) -> int:
    """Queue index of a stop: its village for villages, its township for townships."""
    n_t = st.county.n_townships
    return f - 1 - n_t if f > n_t else f - 1


def out_stamp(st: State, ids: np.ndarray, now: float | np.ndarray) -> None:
    """Stamp outbound parcels taken on at a stop at ``now`` (one time, or one per parcel)."""
    o = st.o
    # Collected at a village (by a loop) or at a township point (by a shuttle).
    first = np.isnan(o.t_collected[ids])
    later = ~first
    now_f, now_l = (now[first], now[later]) if isinstance(now, np.ndarray) else (now, now)
    o.t_collected[ids[first]] = now_f
    o.t_shuttle[ids[later]] = now_l


def out_at_township(st: State, ids: np.ndarray, now: float) -> None:
    """A village vehicle brings collected parcels home to its township point."""
    o = st.o
    o.t_township[ids] = now
    town = o.township[ids]
    if len(town) and (town == town[0]).all():  # one township (a loop's usual case)
        st.out_town[int(town[0])].push(ids, float(now))
        return
    for t in np.unique(town):
        st.out_town[t].push(ids[town == t], float(now))


def out_at_centre(st: State, ids: np.ndarray, now: float) -> None:
    """A shuttle or bus brings outbound parcels home to the county centre."""
    st.o.t_centre[ids] = now
    st.out_centre.push(ids, float(now))


def trunk_out(st: State) -> Generator[simpy.Event, Any, None]:
    """Trunk departures take the parcels at the centre that made the cutoff."""
    env = st.env
    trunks = st.sc.facilities.county_centre.trunk_departures
    departures = sorted((clock_minutes(d.time), d.cutoff_min) for d in trunks)
    for day in range(st.n_days):
        for dep, cutoff in departures:
            t = day * DAY_MIN + dep
            if env.now < t:
                yield env.timeout(t - env.now)
            ids = st.out_centre.take(st.out_centre.n_ready(t - cutoff))
            st.o.t_trunk[ids] = env.now
