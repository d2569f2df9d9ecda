"""The batched vehicle runs: exact clock, township queues, stable sorts, legs in event order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.engine import _LaneQueue, _simulate
from sim.engine.constants import stable_order
from sim.engine.demand import _shuffled_villages, _stable_argsort
from sim.engine.drive import delays_to
from sim.engine.state import _arrival_order
from sim.engine.township import load_loop

_times = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(_times, _times)
def test_delays_land_exactly_on_the_time(a: float, b: float) -> None:
    now, t = min(a, b), max(a, b)
    for d in delays_to(now, t):
        assert d >= 0
        now += d
    assert now == t


def test_delays_to_a_time_one_sum_cannot_reach() -> None:
    now, t = 1.7313975764554925, 524290.1219068713
    delays = delays_to(now, t)
    assert len(delays) == 2
    assert (now + delays[0]) + delays[1] == t


@given(st.lists(st.integers(min_value=0, max_value=40_000), max_size=300))
def test_stable_order_is_a_stable_argsort(keys: list[int]) -> None:
    key = np.array(keys, dtype=np.int64)
    assert np.array_equal(stable_order(key), np.argsort(key, kind="stable"))


_draws = st.sampled_from([0.0, 0.25, 0.5, 0.999, 1 - 2**-53])


@given(st.lists(_draws, max_size=60), st.integers(min_value=0, max_value=5000))
def test_packed_sort_is_a_stable_argsort(draws: list[float], slot: int) -> None:
    # Keys as in the demand: a slot number plus draws, with ties (and sums rounding up).
    key = np.array(draws, dtype=float) + slot
    assert np.array_equal(_stable_argsort(key.copy()), np.argsort(key, kind="stable"))


@given(st.lists(st.lists(_draws, max_size=40), max_size=6))
def test_shuffle_is_the_stable_sort_of_all_slots(runs: list[list[float]]) -> None:
    # The villages shuffled slot by slot, as by one stable sort of slot + draw over all.
    n_v = 3
    per = np.array([[len(r[v::n_v]) for v in range(n_v)] for r in runs], dtype=np.int64)
    per = per.reshape(len(runs), n_v)
    village = np.repeat(np.tile(np.arange(n_v), len(runs)), per.reshape(-1))
    draws = np.array([u for r in runs for u in r], dtype=float)
    slot = np.repeat(np.arange(len(runs)), per.sum(1))
    expected = village[np.argsort(draws + slot, kind="stable")]
    assert np.array_equal(_shuffled_villages(draws.copy(), per), expected)


def _reference_load(fifos: dict[int, list], vills: list[int], cap: int, now: float) -> list:
    """Per-village FIFOs: the ``cap`` earliest ready (ties by place), by place then order."""
    ready = [
        (t, place, k, pid)
        for place, v in enumerate(vills)
        for k, (pid, t) in enumerate(fifos[v])
        if t <= now
    ]
    chosen = sorted(ready)[:cap]
    taken = sorted((place, k, pid) for _, place, k, pid in chosen)
    for place, k, _ in sorted(taken, key=lambda x: -x[1]):
        del fifos[vills[place]][k]
    return [pid for _, _, pid in taken]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 3), st.booleans()), min_size=1, max_size=40
    ),
    st.lists(st.tuples(st.integers(1, 8), st.floats(0, 10)), min_size=1, max_size=6),
)
def test_lane_queue_takes_like_per_village_fifos(pushes, loads) -> None:
    """Pushes (village, time step, to the front?) and loads (cap, now) on 6 villages."""
    q = _LaneQueue()
    fifos: dict[int, list] = {v: [] for v in range(6)}
    village_of: dict[int, int] = {}
    next_id, clock = 0, 0.0
    rng = np.random.default_rng(0)
    for (v, step, front), (cap, dt) in zip(pushes, loads * len(pushes)):
        clock += step
        ids = np.array([next_id], dtype=np.int64)
        village_of[next_id] = v
        next_id += 1
        if front:
            t = min([clock, *(t for _, t in fifos[v][:1])])
            q.push_front(ids, np.array([v]), np.array([t]))
            fifos[v].insert(0, (int(ids[0]), t))
        else:
            t = max([clock, *(t for _, t in fifos[v][-1:])])
            q.push(ids, np.array([v]), np.array([t]))
            fifos[v].append((int(ids[0]), t))
        vills = [int(x) for x in rng.permutation(6)[: rng.integers(1, 7)]]
        pos = np.full(7, -1, dtype=np.int64)  # a last -1: the place of taken entries
        pos[vills] = np.arange(len(vills))
        now = clock + dt
        got, owner = load_loop([q], pos, cap, now, ordered=True)
        assert got.tolist() == _reference_load(fifos, vills, cap, now)
        assert owner.tolist() == [int(pos[village_of[i]]) for i in got.tolist()]


def test_legs_are_recorded_in_arrival_order(tiny_world) -> None:
    run = _simulate(tiny_world.counties[0], 0, None)
    assert np.all(np.diff(run.trips.arrive) >= 0)
    assert np.all(run.trips.arrive < run.end)


def test_a_run_that_stops_mid_day_keeps_parcels_on_their_vehicles(tiny_scenario) -> None:
    data = tiny_scenario.model_dump(mode="json")
    data["schedules"]["shuttle_departures"] = ["23:00"]
    data["drain_days"] = 0
    world = sim.build(sim.scenario_from_dict(data))
    run = _simulate(world.counties[0], 0, None)
    p = run.parcels
    on_shuttle = (p.t_shuttle <= run.end) & ~(p.t_township <= run.end)
    assert on_shuttle.any()
    assert np.all(run.on_vehicle[on_shuttle] >= 0)
    assert np.all(run.on_vehicle[~on_shuttle & ~(p.t_loop <= run.end)] == -1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 3), st.booleans()), min_size=1, max_size=40
    ),
    st.lists(st.tuples(st.integers(1, 8), st.floats(0, 10)), min_size=1, max_size=6),
)
def test_take_ready_is_ready_then_remove(pushes, loads) -> None:
    """The one-queue load in one method takes what ready() finds, unless over capacity."""
    q, twin = _LaneQueue(), _LaneQueue()
    clock = 0.0
    rng = np.random.default_rng(1)
    for i, ((v, step, front), (cap, dt)) in enumerate(zip(pushes, loads * len(pushes))):
        clock += step
        args = (np.array([i], dtype=np.int64), np.array([v]), np.array([clock]))
        for queue in (q, twin):
            (queue.push_front if front else queue.push)(*args)
        pos = np.full(7, -1, dtype=np.int64)
        vills = rng.permutation(6)[: rng.integers(1, 7)]
        pos[vills] = np.arange(len(vills))
        now = clock + dt
        got, owner, vill, taken = q.take_ready(pos, now, pos >= 0, cap)
        sel, found = twin.ready(pos, now, pos >= 0)
        assert taken == (len(sel) <= cap)
        assert owner.tolist() == found.tolist()
        if taken:
            assert got.tolist() == twin.remove(sel).tolist()
            assert vill.tolist() == [int(vills[o]) for o in owner.tolist()]
        assert len(q) == len(twin)


_runs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),  # start
        st.lists(st.integers(min_value=0, max_value=2), min_size=2, max_size=9),  # minutes
    ),
    max_size=12,
)


@given(_runs)
@settings(max_examples=300)
def test_legs_arriving_together_keep_the_order_of_their_clocks(runs) -> None:
    # Each run: its start, then minutes of a leg, of a stop, of a leg, ..., of a leg (few
    # values, so that runs often leave and arrive together, in step or not).
    clocks, run, leg = [], [], []
    for r, (start, minutes) in enumerate(runs):
        steps = minutes if len(minutes) % 2 else minutes[:-1]
        clocks.append(np.cumsum([start, *steps]).astype(float))  # depart, arrive, ...
        n_legs = len(clocks[-1]) // 2
        run += [r] * n_legs
        leg += list(range(n_legs))
    flat = np.concatenate([*clocks, np.empty(0)])
    run_a, leg_a = np.array(run, dtype=np.int64), np.array(leg, dtype=np.int64)
    first = np.arange(len(run)) - leg_a  # the run's first leg

    def chain(g: int) -> tuple[float, ...]:
        return tuple(flat[2 * first[g] : 2 * g + 2][::-1].tolist())

    expected = sorted(range(len(run)), key=lambda g: (chain(g), run[g]))
    assert _arrival_order(flat, run_a, leg_a).tolist() == expected
