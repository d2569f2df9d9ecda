"""The KPI step's block-by-block passes give the whole-array formulas' values, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from sim.kpi import backlog, cohort, survival


def _whole_array(groups, t, event, n, weights, order):
    """The Kaplan–Meier pass over whole arrays (as it was before it went block by block)."""
    g, ts, e = groups[order], t[order], event[order]
    w = np.ones(len(g)) if weights is None else weights[order]
    counts = np.bincount(g, minlength=n)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])[g]
    cum_w = np.cumsum(w)
    before = cum_w - w
    before -= cum_w[first] - w[first]
    at_risk = np.bincount(g, weights=w, minlength=n)[g] - before
    np.maximum(at_risk, 1e-300, out=at_risk)
    log_f = 1.0 - e * w / at_risk
    last = log_f <= 1e-12
    log_f[last] = 1.0
    log_f = np.log(log_f)
    s = np.cumsum(log_f)
    s -= s[first] - log_f[first]
    zeros = np.cumsum(last)
    zeros -= zeros[first] - last[first]
    s = np.exp(s)
    s[zeros > 0] = 0.0
    return g, ts, e, s


def _quantile(groups, t, event, n, q, weights):
    order = survival.group_order(groups, survival.time_order(t, event))
    g, ts, e, s = _whole_array(groups, t, event, n, weights, order)
    out = np.full(n, np.nan)
    hit = np.flatnonzero(e & (s <= 1.0 - q + 1e-9))
    if len(hit):
        first_group, first = np.unique(g[hit], return_index=True)
        out[first_group] = ts[hit[first]]
    return out


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 16])
@pytest.mark.parametrize("seed", range(6))
def test_blocks_match_the_whole_array_pass(monkeypatch, chunk, seed):
    monkeypatch.setattr(survival, "CHUNK", chunk)
    rng = np.random.default_rng(seed)
    n, n_groups = 400, 9
    groups = rng.integers(0, n_groups - 2, n)  # the last groups stay empty
    t = np.round(rng.exponential(10.0, n), seed % 3)  # ties, more so when rounded
    event = rng.random(n) < (0.3 + 0.1 * seed)
    weights = rng.random(n) * 2 if seed % 2 else None
    for q in (0.2, 0.5, 0.95):
        want = _quantile(groups, t, event, n_groups, q, weights)
        got = survival.group_quantile(groups, t, event, n_groups, q, weights)
        np.testing.assert_array_equal(got, want)
    zero = np.zeros(n, dtype=np.int64)
    order = survival.time_order(t, event)
    _, ts, e, s = _whole_array(zero, t, event, 1, None, order)
    mean = float(np.sum(np.concatenate([[1.0], s[:-1]]) * np.diff(np.concatenate([[0.0], ts]))))
    (p50,), got_mean = survival.summary(t, event, (0.5,))
    hit = np.flatnonzero(e & (s <= 0.5 + 1e-9))
    assert got_mean == mean or (event.all() and np.isclose(got_mean, np.mean(t)))
    assert p50 == ts[hit[0]] or event.all() or (np.isnan(p50) and not len(hit))


@pytest.mark.parametrize("chunk", [1, 7, 1 << 16])
@pytest.mark.parametrize("seed", range(4))
def test_time_order_is_the_lexsort(monkeypatch, chunk, seed):
    monkeypatch.setattr(survival, "CHUNK", chunk)
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 20, 300).astype(float)
    event = rng.random(300) < (0.6 if seed else 1.0)  # seed 0: no tie to reorder
    order = survival.time_order(t, event)
    assert np.array_equal(t[order], t[np.lexsort((~event, t))])
    assert np.array_equal(event[order], event[np.lexsort((~event, t))])


def test_cell_weights_are_the_parcel_weights(tiny_county):
    rng = np.random.default_rng(3)
    n = 5000
    rep = rng.integers(0, 3, n).astype(np.int32)
    village = rng.integers(0, tiny_county.n_villages, n)
    created = rng.integers(0, 5, n) * 1440.0 + rng.choice([420.0, 600.0, 601.0], n)
    want = cohort._parcel_weights(tiny_county, rep, village, created)
    np.testing.assert_array_equal(cohort._weights(tiny_county, rep, village, created), want)
    created[7] += 0.5  # a time off the whole minutes: parcel by parcel
    want = cohort._parcel_weights(tiny_county, rep, village, created)
    np.testing.assert_array_equal(cohort._weights(tiny_county, rep, village, created), want)


@pytest.mark.parametrize("seed", range(5))
def test_grid_places_are_the_searchsorted_places(seed):
    rng = np.random.default_rng(seed)
    start = float(rng.integers(0, 3)) * 1440 + float(rng.choice([0.0, 0.25, 0.5]))
    grid = np.arange(start, start + float(rng.integers(0, 3000)), 1.0)
    x = rng.uniform(start - 100, start + 3100, 4000)
    whole = rng.random(len(x)) < 0.3
    x[whole] = np.round(x[whole])
    x[rng.random(len(x)) < 0.05] = np.nan
    x[:3] = [np.inf, -np.inf, start]
    np.testing.assert_array_equal(backlog.grid_places(x, grid), np.searchsorted(grid, x))


def test_centre_queue_is_the_whole_array_count(monkeypatch, tiny_scenario):
    import sim

    data = tiny_scenario.model_dump(mode="json")
    data["demand"]["outbound"] = {"parcels_per_village_per_day": 1}
    results = sim.run(sim.build(sim.scenario_from_dict(data)))
    p = results.parcels
    p = p[p["replication"] == 0]
    assert (p["direction"] == "outbound").any() and (p["direction"] == "inbound").any()
    start, end, run_end = 1440.0, 4 * 1440.0 + 0.5, 6 * 1440.0
    monkeypatch.setattr(backlog, "_CHUNK", 97)
    got = backlog.centre_queue(p, start, end, run_end)
    inbound = p["direction"].cat.codes.to_numpy() == 0
    t0 = p["t_created"].to_numpy()[inbound]
    t1 = np.where(np.isnan(p["t_sorted"].to_numpy()), run_end, p["t_sorted"].to_numpy())[inbound]
    t2 = p["t_shuttle_depart"].to_numpy()[inbound]
    t2 = np.where(np.isnan(t2), run_end, t2)
    out0 = p["t_centre"].to_numpy()[~inbound]
    out1 = p["t_trunk"].to_numpy()[~inbound]
    out1 = np.where(np.isnan(out1), run_end, out1)[~np.isnan(out0)]
    out0 = out0[~np.isnan(out0)]
    grid = np.arange(start, end, 1.0)
    a, b = np.sort(np.concatenate([t0, out0])), np.sort(np.concatenate([t2, out1]))
    want = np.searchsorted(a, grid, side="right") - np.searchsorted(b, grid, side="right")
    np.testing.assert_array_equal(got["grid"], want)
    assert got["unsorted"] == backlog._overlap_min(t0, t1, start, end) / (end - start)
    assert got["sorted"] == backlog._overlap_min(t1, t2, start, end) / (end - start)


def test_days_are_the_floor_division():
    rng = np.random.default_rng(0)
    t = np.concatenate(
        [
            rng.uniform(-3000, 600_000, 20000),
            np.arange(-5, 6) * 1440.0,
            np.nextafter(np.arange(-5, 6) * 1440.0, -np.inf),
            np.nextafter(np.arange(-5, 6) * 1440.0, np.inf),
            [0.0, -0.0, np.nan, 1e15 + 0.5],
        ]
    )
    got, want = cohort._days(t), t // 1440.0
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("chunk", [1, 5, 1 << 16])
@pytest.mark.parametrize("censored", [0.0, 0.3])
def test_time_order_is_the_two_sort_order(monkeypatch, chunk, censored):
    monkeypatch.setattr(survival, "CHUNK", chunk)
    rng = np.random.default_rng(11)
    t = rng.integers(0, 30, 500).astype(float)
    event = rng.random(500) >= censored
    by_t = np.argsort(t)
    ts = t[by_t]
    rank = np.cumsum(np.concatenate([[False], ts[1:] != ts[:-1]]))
    want = by_t[np.argsort(rank * 2 + ~event[by_t], kind="stable")]
    np.testing.assert_array_equal(survival.time_order(t, event), want)
    groups = rng.integers(0, 7, 500)
    want_g = want[np.argsort(groups[want], kind="stable")]
    np.testing.assert_array_equal(survival.group_order(groups, want), want_g)
