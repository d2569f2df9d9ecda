"""The per-block KPI API: scopes, compact picklable parts, region rows from parts alone."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import sim
from sim.kpi import SCOPES, county_block, county_coverage, region_rows, survival
from tests.test_engine import _scenario


@pytest.fixture(scope="module")
def pair(tiny_scenario):
    sc = _scenario(tiny_scenario, region={"counties": ["140821", "140822"]}, replications=2)
    return sim.run(sim.build(sc))


@pytest.fixture(scope="module")
def kpis(pair):
    return sim.compute_kpis(pair)


def test_sign_bit_encodes_censoring():
    lead = np.array([0.0, 0.0, 1.5, 2.25, 30.0])
    reached = np.array([True, False, True, False, True])
    x = survival.encode(lead, reached)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(np.signbit(x), ~reached)  # a censored 0.0 is -0.0
    back, got = survival.decode(x)
    np.testing.assert_array_equal(got, reached)
    np.testing.assert_array_equal(back, lead)


@pytest.mark.parametrize("scopes", [("county",), ("province", "carrier"), ("village", "county")])
def test_fewer_scopes_give_the_same_values(pair, kpis, scopes):
    some = sim.compute_kpis(pair, scopes=scopes)
    assert set(some["scope"]) == set(scopes)
    want = kpis[kpis["scope"].isin(scopes)].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, want)


def test_unknown_scope_is_refused(pair):
    with pytest.raises(ValueError, match="scopes"):
        sim.compute_kpis(pair, scopes=["nation"])


def test_region_rows_from_pickled_parts_match_compute_kpis(pair, kpis):
    world = pair.world
    parts_by_rep: dict[int, list] = {}
    p, t = pair.parcels, pair.trips
    for r in range(pair.replications):
        for c in world.counties:
            rows = p[(p["replication"] == r) & (p["county_code"] == c.county_code)]
            legs = t[(t["replication"] == r) & (t["county_code"] == c.county_code)]
            skips = pair.skipped
            assert skips is not None
            skips = skips[(skips["replication"] == r) & (skips["county_code"] == c.county_code)]
            end = pair.end_of(r, c.county_code)
            frame, parts = county_block(c, rows, legs, skips, end, scopes=())
            assert frame.empty
            parts = pickle.loads(pickle.dumps(parts))
            assert parts.lead.values.dtype == np.float32
            parts_by_rep.setdefault(r, []).append(parts)
    names = [c.name for c in world.scenario.carriers]
    got = region_rows(parts_by_rep, names)
    want = kpis[kpis["scope"].isin(["province", "carrier"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    assert set(SCOPES) == set(kpis["scope"])


def test_county_coverage_is_the_coverage_table(pair):
    table = sim.coverage_table(pair)
    c = pair.world.counties[1]
    p, t = pair.parcels, pair.trips
    ends = {r: pair.end_of(r, c.county_code) for r in range(pair.replications)}
    got = county_coverage(
        c, p[p["county_code"] == c.county_code], t[t["county_code"] == c.county_code], ends
    )
    want = table[table["code"].str.startswith(c.county_code)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
