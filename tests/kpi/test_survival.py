"""Kaplan-Meier percentiles and means: the empirical ones without censoring, honest with it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kpi import survival


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=60),
    st.sampled_from([0.05, 0.5, 0.9, 0.95]),
)
def test_without_censoring_it_is_the_empirical_quantile(values, q):
    t = np.array(values, dtype=float)
    event = np.ones(len(t), dtype=bool)
    expected = np.quantile(t, q, method="inverted_cdf")
    assert survival.quantile(t, event, q) == expected
    # The general path (one group, any order) gives the same.
    assert survival.group_quantile(np.zeros(len(t), int), t, event, 1, q)[0] == expected
    assert survival.restricted_mean(t, event) == pytest.approx(t.mean())


def test_censored_times_are_not_outcomes():
    # Five parcels; two still on their way when the run stopped (censored at 2 and 5 h).
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    event = np.array([True, False, True, True, False])
    # S: 0.8 after 1 h; 0.8 * 2/3 after 3 h; 0.8 * 2/3 * 1/2 after 4 h.
    assert survival.quantile(t, event, 0.2) == 1.0
    assert survival.quantile(t, event, 0.5) == 4.0
    # Never 95% known: unknown, not the censoring time.
    assert np.isnan(survival.quantile(t, event, 0.95))
    (p50, p95), mean = survival.summary(t, event, (0.5, 0.95))
    assert p50 == 4.0 and np.isnan(p95)
    assert mean == pytest.approx(1 * 1 + 0.8 * 2 + 0.8 * 2 / 3 * 1 + 0.8 / 3 * 1)


def test_groups_and_weights():
    rng = np.random.default_rng(5)
    t = rng.integers(0, 50, 400).astype(float)
    g = rng.integers(0, 7, 400)
    w = rng.integers(1, 4, 400)
    event = np.ones(400, dtype=bool)
    got = survival.group_quantile(g, t, event, 8, 0.95, w.astype(float))
    for k in range(7):
        expected = np.quantile(np.repeat(t[g == k], w[g == k]), 0.95, method="inverted_cdf")
        assert got[k] == expected
    assert np.isnan(got[7])  # an empty group


def test_sort_key_matches_lexsort():
    rng = np.random.default_rng(9)
    for _ in range(50):
        n = int(rng.integers(1, 200))
        g = rng.integers(0, 6, n)
        t = rng.integers(0, 15, n).astype(float)
        e = rng.random(n) < 0.6
        o, ref = survival._order(g, t, e), np.lexsort((~e, t, g))
        for a in (g, t, e):
            np.testing.assert_array_equal(a[o], a[ref])


def test_summary_of_tallies_equals_summary():
    """The province's Kaplan-Meier over tallies of float32 samples (distinct values and
    counts, merged across counties) is summary()'s, with ties, zeros and censoring."""
    rng = np.random.default_rng(3)
    for trial in range(150):
        n = int(rng.integers(1, 2000))
        decimals = int(rng.integers(0, 3))  # many ties when rounded, zeros among them
        t = np.round(rng.exponential(20, n), decimals).astype(np.float32).astype(np.float64)
        if rng.random() < 0.3:
            t[rng.random(n) < 0.1] = 0.0
        event = rng.random(n) < rng.choice([1.0, 0.9, 0.5, 0.05, 0.0])
        x = survival.encode(t, event)
        parts = list(np.array_split(x.copy(), int(rng.integers(1, 5))))
        tallies = [survival.Tally.of(p) for p in parts]
        assert sum(k.n for k in tallies) == n
        assert sum(k.n_censored for k in tallies) == (~event).sum()
        for k in tallies:
            assert np.all(np.diff(k.values.astype(np.float64)) >= 0) and np.all(k.counts > 0)
        want = survival.summary(t, event, (0.5, 0.95))
        for samples in (tallies, parts, tallies[:1] + parts[1:]):
            got = survival.summary_encoded(samples, (0.5, 0.95))
            np.testing.assert_allclose(
                [*got[0], got[1]], [*want[0], want[1]], rtol=1e-9, atol=1e-9, err_msg=str(trial)
            )
        np.testing.assert_array_equal(np.concatenate(parts), x)  # the arrays are not changed
        np.testing.assert_array_equal(np.signbit(np.concatenate(parts)), np.signbit(x))


def test_tally_keeps_signed_zeros_apart():
    x = np.array([-0.0, 0.0, 0.0, -0.0, -0.0, 1.5, -2.0, 1.5], dtype=np.float32)
    t = survival.Tally.of(x)
    np.testing.assert_array_equal(t.values, [-2.0, -0.0, 0.0, 1.5])
    np.testing.assert_array_equal(np.signbit(t.values), [True, True, False, False])
    np.testing.assert_array_equal(t.counts, [1, 3, 2, 2])
    assert (t.n, t.n_censored) == (8, 4)
