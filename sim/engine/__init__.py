"""The SimPy engine: vehicles, the sorter and trunk waves move columnar parcel arrays.

Parcels are rows of numpy arrays (:class:`_Parcels`); a queue is a FIFO of array chunks
(:class:`_Fifo`), or one queue per (township point, lane) for all its villages
(:class:`_LaneQueue`), and loading a vehicle takes its parcels from a queue in one operation.
SimPy processes exist only for the trunk waves, the sorter, each vehicle and a daily clock
tick; a vehicle run is computed as a batch when it leaves (its stop times as one running sum,
its drops as one scatter, its legs as arrays), with events only at the stops other processes
can observe, so the number of events grows with vehicles and stops, never with parcels.

Flow (inbound): trunk wave -> county centre sorting (finite capacity, shifts) -> township shuttle
-> township point -> village loop -> village point -> picked up by the villager after a random
delay, or returned as unclaimed after ``max_hold_days``. Parcels for villages without a point or
without a visiting vehicle wait at the township point for the villager.

Modules: ``constants`` (stages, reasons, final states), ``state`` (parcel arrays, queues and
the per-run :class:`~sim.engine.state.State` every process receives), ``demand``, one module
per kind of process (``sorter``, ``shuttle``, ``village``, ``bus``, ``outbound``), ``drive``
(the run of a vehicle), ``layout`` (what the engine derives from a county alone: village
loops by weekday, shared legs and stops), ``stops`` and ``township`` (what happens at village
and township stops), ``tables`` and ``simulate`` (:func:`run`).
"""

from sim.engine.constants import (
    _DOOR,
    _LOCKER,
    _NONE,
    _STAGE,
    DAY_MIN,
    DIRECTIONS,
    FINAL_STATES,
    REASONS,
    STAGES,
)
from sim.engine.demand import _bus_shares, draw_carriers, generate_demand, held_at_township
from sim.engine.simulate import Block, Results, _simulate, run, simulate_block
from sim.engine.sorter import shift_at, sorting_shifts
from sim.engine.state import State, _Fifo, _LaneQueue, _Parcels, _Run, _Trips
from sim.engine.tables import (
    Categories,
    _from_codes,
    _outbound_table,
    _parcel_table,
    _skip_table,
    _stage,
    _trip_table,
    _upto,
)

__all__ = [
    "DAY_MIN",
    "DIRECTIONS",
    "FINAL_STATES",
    "REASONS",
    "STAGES",
    "_DOOR",
    "_LOCKER",
    "_NONE",
    "_STAGE",
    "Block",
    "Categories",
    "Results",
    "State",
    "_Fifo",
    "_LaneQueue",
    "_Parcels",
    "_Run",
    "_Trips",
    "_bus_shares",
    "_from_codes",
    "_outbound_table",
    "_parcel_table",
    "_simulate",
    "_skip_table",
    "_stage",
    "_trip_table",
    "_upto",
    "draw_carriers",
    "generate_demand",
    "held_at_township",
    "run",
    "shift_at",
    "simulate_block",
    "sorting_shifts",
]
