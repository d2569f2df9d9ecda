"""The benchmark command runs (figures are measured by hand, never asserted as times)."""

from __future__ import annotations

import pytest

from benchmarks.county import format_county, time_county
from sim.cli import main


def test_county_benchmark_with_reference_and_all_options(tiny_path, capsys):
    plain = time_county(tiny_path, days=2, rate=3, reference_days=1, repeat=2)
    assert plain.parcels > plain.reference_parcels > 0
    assert len(plain.build) == len(plain.reference) == 2
    assert "speed ratio" in format_county(plain)
    full = time_county(tiny_path, days=2, rate=3, options=True, repeat=1)
    assert full.parcels > plain.parcels  # outbound parcels are added
    assert not full.reference
    argv = ["benchmark", str(tiny_path), "--days", "2", "--rate", "2", "--reference-days", "0"]
    assert main([*argv, "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "parcels/s" in out and "reference" not in out
    assert main([*argv, "--repeat", "1", "--set", "schedules.visits_per_week=3"]) == 0
    assert main([*argv, "--repeat", "1", "--set", "schedules.visits_per_week=9"]) == 2
    assert "--set schedules.visits_per_week=9" in capsys.readouterr().err


def test_province_benchmark_runs_on_a_small_region(tiny_path, capsys, monkeypatch):
    import benchmarks.province as province

    real = province.province_scenario

    def three_counties(scenario, *, days, rate, sets=()):
        data = real(scenario, days=days, rate=rate, sets=sets).model_dump(mode="json")
        data["region"] = {"counties": ["140821", "141124"]}
        from sim.scenario import scenario_from_dict

        return scenario_from_dict(data)

    monkeypatch.setattr(province, "province_scenario", three_counties)
    argv = ["benchmark", str(tiny_path), "--province", "--days", "2", "--rate", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for label in ("2 counties", "parcels", "wall time", "CPU time", "peak memory", "run folder"):
        assert label in out


def test_sweep_benchmark_runs(tiny_path):
    from benchmarks.sweep import run_sweep_benchmark

    text = run_sweep_benchmark(tiny_path, n_runs=4, days=2, rate=2, repeat=2)
    for label in ("direct calls", "serial", "1 process", "LocalCluster", "efficiency", "overhead"):
        assert label in text


def test_benchmark_runs_from_another_folder_on_the_shipped_scenario(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no scenarios/ here: the default is the shipped 临县
    argv = ["benchmark", "--days", "1", "--rate", "1", "--repeat", "1", "--reference-days", "0"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "benchmark: linxian_mountain, 1 days" in out and "pipeline" in out, out


def test_vectorised_floor_moves_the_same_parcels_no_later_than_the_engine(tiny_path):
    """The floor (benchmarks/floor.py) is a fair lower bound: the engine's parcels and table
    layout, the engine's sorter times, the same vehicle legs, and without capacities no
    parcel reaches a stage later than in the engine."""
    import numpy as np

    from benchmarks.county import county_scenario
    from benchmarks.floor import floor_run, prepare
    from sim.build import build
    from sim.engine import run

    world = build(county_scenario(tiny_path, days=14, rate=20))
    parcels, trips = floor_run(prepare(world))
    engine = run(world)
    ep = engine.parcels
    assert list(parcels.columns) == list(ep.columns)
    assert parcels.dtypes.equals(ep.dtypes)
    assert len(parcels) == len(ep) > 50_000
    np.testing.assert_array_equal(parcels["t_created"], ep["t_created"])
    np.testing.assert_allclose(parcels["t_sorted"], ep["t_sorted"], rtol=0, atol=1e-6)
    for col in ("t_shuttle_depart", "t_township", "t_loop_depart", "t_point"):
        assert not (parcels[col].isna() & ep[col].notna()).any(), col
        both = parcels[col].notna() & ep[col].notna()
        assert (parcels[col][both] <= ep[col][both] + 1e-6).all(), col
    assert (ep["t_point"] > parcels["t_point"] + 60).any()  # capacity binds in the engine
    # A parcel on the same run as in the engine reaches its stop at the same minute.
    for left, reached in (("t_shuttle_depart", "t_township"), ("t_loop_depart", "t_point")):
        same = (parcels[left] == ep[left]).to_numpy()
        assert same.sum() > 100, left
        np.testing.assert_allclose(parcels[reached][same], ep[reached][same], rtol=0, atol=1e-6)
    assert list(trips.columns) == list(engine.trips.columns)
    assert len(trips) == len(engine.trips)
    assert trips["km"].sum() == pytest.approx(engine.trips["km"].sum())
    assert (trips["load"] >= 0).all()
    assert "run / floor" in format_county(time_county(tiny_path, days=2, rate=3, repeat=1))
