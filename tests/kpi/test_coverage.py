"""Coverage that means service: every unit not covered carries a reason and a stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.runfolder import exact_csv
from tests.test_engine import _scenario


def _coverage(sc: sim.Scenario) -> pd.DataFrame:
    return sim.coverage_table(sim.run(sim.build(sc))).set_index("code")


def test_village_reasons(tiny_scenario, tiny_county):
    codes = list(tiny_county.village_codes)
    no_point, no_visits, few = codes[0], codes[1], codes[2]
    sc = _scenario(
        tiny_scenario,
        horizon_days=8,
        replications=1,
        facilities__village_points__villages=codes[1:],
        schedules__village_visits_per_week={no_visits: 0, few: 3},
    )
    cov = _coverage(sc)
    assert cov.loc[no_point, ["covered", "reason"]].tolist() == [False, "no_point"]
    assert "township point" in cov.loc[no_point, "why"]
    assert cov.loc[no_visits, "reason"] == "no_visits"
    assert cov.loc[few, "reason"] == "too_few_visits"
    assert cov.loc[few, "visits_per_week"] == 3
    villages = cov[cov["level"] == "village"]
    assert (villages["covered"] == (villages["reason"] == "covered")).all()
    assert set(villages["stage"].fillna("")) <= {"", "sorting", "shuttle", "township_point", "loop"}


def test_lead_time_reason_names_the_stage(tiny_scenario):
    sc = _scenario(tiny_scenario, horizon_days=8, replications=1, kpi__max_lead_time_h=6)
    cov = _coverage(sc)
    slow = cov[(cov["level"] == "village") & (cov["reason"] == "lead_time_too_long")]
    assert len(slow) > 100
    assert slow["stage"].isin(["sorting", "shuttle", "township_point", "loop"]).all()
    assert slow["why"].str.contains("misses by").all()
    assert (slow["p95_lead_h"] > 6).all()


def test_full_shuttles_leave_townships_and_county_uncovered(tiny_scenario):
    """Shuttles too small for the day's parcels: every township point is still visited daily,
    but parcels pile up at the centre, so neither townships nor the county are covered."""
    sc = _scenario(
        tiny_scenario,
        horizon_days=8,
        replications=1,
        fleet__vehicle_types__van__capacity_parcels=60,
    )
    results = sim.run(sim.build(sc))
    cov = sim.coverage_table(results)
    towns = cov[cov["level"] == "township"]
    assert not towns["covered"].any()
    assert (towns["reason"] == "lead_time_too_long").all()
    assert (towns["stage"] == "shuttle").all()
    county = cov[cov["level"] == "county"].iloc[0]
    assert (county["covered"], county["reason"], county["stage"]) == (
        False,
        "townships_not_covered",
        "shuttle",
    )
    kpis = sim.compute_kpis(results).query("scope == 'county'").set_index("kpi")["value"]
    assert kpis["township_point_coverage"] == 0 and kpis["county_hub_coverage"] == 0
    assert kpis["backlog_county_centre_sorted"] > kpis["backlog_county_centre_unsorted"]


def test_kpi_csvs_read_back_exactly(tiny_world, tmp_path):
    kpis = sim.compute_kpis(sim.run(tiny_world))
    big = pd.DataFrame({"kpi": ["parcels_created", "x"], "value": [1527587.0, 0.1 + 0.2]})
    for table in (kpis, big):
        exact_csv(table, tmp_path / "k.csv")
        back = pd.read_csv(tmp_path / "k.csv", dtype={"code": str})
        np.testing.assert_array_equal(back["value"].to_numpy(), table["value"].to_numpy())
    raw = (tmp_path / "k.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs for Chinese names
    text = raw.decode("utf-8-sig")
    assert "1527587\n" in text and "0.30000000000000004" in text
    assert "e+06" not in text


@pytest.mark.parametrize("level", ["village", "township", "county"])
def test_coverage_table_has_the_reason_columns(tiny_world, level):
    cov = sim.coverage_table(sim.run(tiny_world))
    rows = cov[cov["level"] == level]
    assert len(rows) and rows["reason"].notna().all()
