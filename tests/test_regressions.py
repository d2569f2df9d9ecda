"""Regressions found in review: wave order, impossible dates, visits, manifest counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sim
from sim.cli import main
from tests.test_engine import _scenario


def test_trunk_waves_may_be_listed_in_any_order(tiny_scenario):
    waves = tiny_scenario.facilities.county_centre.trunk_arrivals
    swapped = _scenario(
        tiny_scenario,
        replications=1,
        facilities__county_centre__trunk_arrivals=[w.model_dump() for w in waves[::-1]],
    )
    a = sim.run(sim.build(_scenario(tiny_scenario, replications=1))).parcels
    b = sim.run(sim.build(swapped)).parcels
    assert np.all(np.diff(b["t_created"].to_numpy()) >= 0)
    assert (b["t_sorted"] - b["t_created"]).min() == pytest.approx(
        (a["t_sorted"] - a["t_created"]).min()
    )
    assert b["t_point"].notna().sum() == pytest.approx(a["t_point"].notna().sum(), rel=0.05)


@pytest.mark.parametrize("day", ["02-30", "04-31"])
def test_impossible_month_days_are_rejected(tiny_scenario, day):
    data = tiny_scenario.model_dump(mode="json")
    data["demand"]["outbound"] = {
        "specialties": [
            {"name": "x", "start": "01-01", "end": day, "peak_parcels_per_village_per_day": 1}
        ]
    }
    with pytest.raises(sim.ScenarioError, match="not a day of the year"):
        sim.scenario_from_dict(data)


def test_february_29_in_a_common_year(tiny_scenario):
    sc = _scenario(
        tiny_scenario,
        start_date="2026-02-27",
        horizon_days=3,
        replications=1,
        demand__outbound={
            "specialties": [
                {
                    "name": "x",
                    "start": "02-29",
                    "end": "03-02",
                    "peak_parcels_per_village_per_day": 5,
                }
            ]
        },
    )
    p = sim.run(sim.build(sc)).parcels
    assert (p["direction"] == "outbound").any()


def test_visits_count_days_not_departures(tiny_scenario):
    sc = _scenario(
        tiny_scenario,
        replications=1,
        horizon_days=8,
        schedules__village_departures=["09:00", "15:00"],
        schedules__visits_per_week=3,
    )
    k = sim.compute_kpis(sim.run(sim.build(sc)))
    visits = k[(k["scope"] == "village") & (k["kpi"] == "visits_per_week")]["value"]
    assert visits.median() == pytest.approx(3, abs=0.6)


def test_manifest_counts_replications_without_demand(tiny_path, tmp_path):
    bad = tmp_path / "zero.yaml"
    bad.write_text(
        tiny_path.read_text(encoding="utf-8").replace(
            "parcels_per_village_per_day: 5", "parcels_per_village_per_day: 0"
        ),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    assert main(["run", str(bad), "--out", str(out), "--quiet", "--no-figures"]) == 0
    assert json.loads((out / "manifest.json").read_text())["replications"] == 2


def test_out_folder_problems_are_usage_errors(tiny_path, tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert main(["run", str(tiny_path), "--out", str(blocker / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "Traceback" not in err
