"""Regions of several counties: independence, aggregation to the province, the province build."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from tests.test_engine import _scenario, assert_conserved


@pytest.fixture(scope="module")
def pair(tiny_scenario):
    sc = _scenario(
        tiny_scenario,
        region={"counties": ["140822", "140821"], "terrain_by_county": {"140822": "hills"}},
        replications=2,
    )
    world = sim.build(sc)
    return world, sim.run(world)


def test_counties_are_built_in_code_order_with_their_terrain(pair):
    world, _ = pair
    assert [c.county_code for c in world.counties] == ["140821", "140822"]
    assert [c.terrain for c in world.counties] == ["plains", "hills"]
    assert world.label == "2 counties"


def test_a_county_runs_the_same_alone_or_in_a_region(pair, tiny_scenario):
    _, results = pair
    alone = sim.run(sim.build(tiny_scenario)).parcels
    both = results.parcels[results.parcels["county_code"] == "140821"].reset_index(drop=True)
    for col in ("t_created", "t_point", "t_picked_up"):
        np.testing.assert_array_equal(alone[col].to_numpy(), both[col].to_numpy())
    assert (alone["village_code"].astype(str) == both["village_code"].astype(str)).all()


def test_region_tables_and_province_aggregate(pair):
    world, results = pair
    assert_conserved(results)
    p = results.parcels
    assert not p.duplicated(["replication", "parcel_id"]).any()
    assert set(results.trips["county_code"]) == {"140821", "140822"}
    kpis = sim.compute_kpis(results)
    one = kpis[kpis["replication"] == 0]
    county = one[one["scope"] == "county"].pivot(index="code", columns="kpi", values="value")
    province = one[one["scope"] == "province"].set_index("kpi")["value"]
    for k in ("parcels_created", "parcels_delivered", "vehicle_km", "cost_yuan"):
        assert province[k] == pytest.approx(county[k].sum())
    n_v = [c.n_villages for c in world.counties]
    assert province["village_express_coverage"] == pytest.approx(
        np.dot(county.loc[["140821", "140822"], "village_express_coverage"], n_v) / sum(n_v)
    )
    assert province["county_hub_coverage"] == pytest.approx(county["county_hub_coverage"].mean())
    cov = sim.coverage_table(results)
    assert (cov["level"] == "county").sum() == 2
    assert (cov["level"] == "village").sum() == sum(n_v)


def test_prefecture_and_province_resolve_to_counties(tiny_scenario):
    from sim.region import region_counties

    lvliang = _scenario(tiny_scenario, region={"prefecture": "1411"})
    assert len(region_counties(lvliang)) == 13
    shanxi = _scenario(tiny_scenario, region={"province": "14"})
    codes = region_counties(shanxi)
    assert len(codes) == 117 and "140171" not in codes
    with pytest.raises(sim.ScenarioError, match=r"region\.counties\.1"):
        region_counties(_scenario(tiny_scenario, region={"counties": ["140821", "140171"]}))


def test_references_must_lie_in_the_region(tiny_scenario):
    sc = _scenario(
        tiny_scenario,
        region={"counties": ["140821", "140822"]},
        fleet__townships={"141124100": {"van": 1}},
    )
    with pytest.raises(sim.ScenarioError, match=r"fleet\.townships\.141124100"):
        sim.build(sc)


def test_multi_county_map_and_report(pair, tmp_path):
    from sim.runfolder import RunTables, write_run

    _, results = pair
    kpis = sim.compute_kpis(results)
    tables = RunTables(kpis, sim.summarize(kpis), sim.coverage_table(results))
    out = write_run(tmp_path / "run", results, tables, wall_time_s=1.0)
    manifest = pd.read_json(out / "manifest.json", typ="series")
    assert manifest["geodata_sources"]["roads"] == {"synthetic": 2}
    assert [c["code"] for c in manifest["counties"]] == ["140821", "140822"]
    assert (out / "figures" / "county_map.png").stat().st_size > 10_000
