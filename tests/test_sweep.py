"""Sweeps: designs, resume after a kill, same results on any backend, failures recorded."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import pandas as pd
import pytest

from sim._executors import _take
from sim._sweep_runs import KEPT_SCOPES, cached_run, variant_runs
from sim.cli import main
from sim.errors import ScenarioError
from sim.sweep import SweepFile, _one, load_sweep, resolve, run_sweep, variants

SWEEP = """base: {base}
design: grid
replications: 2
overrides:
  horizon_days: 2
  warmup_days: 1
factors:
  - path: fleet.county_centre.van
    values: [1, 2]
  - path: demand.inbound.parcels_per_village_per_day
    values: [2, 4]
"""


@pytest.fixture
def sweep_file(tmp_path, tiny_path) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.format(base=tiny_path.resolve()), encoding="utf-8")
    return path


def test_grid_runs_and_resumes(sweep_file, tmp_path):
    out = tmp_path / "out"
    assert run_sweep(sweep_file, out, backend="serial") == {"done": 8, "skipped": 0, "failed": 0}
    results = pd.read_parquet(out / "results.parquet")
    assert set(results["variant"]) == {0, 1, 2, 3}
    assert set(results["scope"]) == {"province", "county", "carrier"}
    summary = pd.read_csv(out / "summary.csv")
    assert {"mean", "ci95_low", "ci95_high", "fleet.county_centre.van"} <= set(summary.columns)
    # A killed sweep: one run's file is missing; a rerun does only that one.
    runs = sorted((out / "runs").glob("*.parquet"))
    before = {p.name: p.read_bytes() for p in runs}
    runs[3].unlink()
    assert run_sweep(sweep_file, out, backend="serial") == {"done": 1, "skipped": 7, "failed": 0}
    after = {p.name: p.read_bytes() for p in sorted((out / "runs").glob("*.parquet"))}
    assert after == before
    again = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(again, results)


def test_backends_give_the_same_results(sweep_file, tmp_path):
    run_sweep(sweep_file, tmp_path / "serial", backend="serial")
    a = pd.read_parquet(tmp_path / "serial" / "results.parquet")
    # 3 workers for 4 variants: the last ones are spread over the workers run by run.
    for workers in (2, 3):
        out = tmp_path / f"procs{workers}"
        run_sweep(sweep_file, out, backend="processes", workers=workers)
        pd.testing.assert_frame_equal(a, pd.read_parquet(out / "results.parquet"))


def test_replications_share_a_world_in_any_order(sweep_file):
    sweep, base = load_sweep(sweep_file)
    sc = resolve(sweep, base, variants(sweep)[3], sweep_file)
    alone = {r: _one(sc, r) for r in (0, 1)}  # a world built for each run
    shared = dict(variant_runs(sc, [1, 0]))
    cached = {r: cached_run(json.dumps(sc, sort_keys=True), r) for r in (1, 0)}
    for r in (0, 1):
        assert set(alone[r]["scope"]) == set(KEPT_SCOPES)
        pd.testing.assert_frame_equal(alone[r], shared[r])
        pd.testing.assert_frame_equal(alone[r], cached[r])


def test_last_variants_are_handed_out_run_by_run():
    backlog = deque([("a", [(0, "a0"), (1, "a1")]), ("b", [(0, "b0"), (1, "b1")])])
    assert _take(backlog, 2) == [(0, "a0", "a"), (1, "a1", "a")]
    assert _take(backlog, 2) == [(0, "b0", "b")]  # fewer variants left than pools
    assert _take(backlog, 2) == [(1, "b1", "b")]
    assert not backlog
    one = deque([("c", [(0, "c0"), (1, "c1"), (2, "c2")])])  # one variant, two pools
    assert [_take(one, 2) for _ in range(3)] == [[(r, f"c{r}", "c")] for r in range(3)]


def test_common_random_numbers_across_variants(sweep_file, tmp_path):
    out = tmp_path / "out"
    run_sweep(sweep_file, out, backend="serial")
    r = pd.read_parquet(out / "results.parquet")
    created = r[(r["scope"] == "county") & (r["kpi"] == "parcels_created")]
    # Same demand factor and replication: the same parcels, whatever the fleet.
    by = created.pivot_table(
        index=["demand.inbound.parcels_per_village_per_day", "replication"],
        columns="fleet.county_centre.van",
        values="value",
    )
    assert (by[1] == by[2]).all()


def test_latin_hypercube_design():
    sweep = SweepFile.model_validate(
        {
            "base": "x.yaml",
            "design": "lhs",
            "samples": 7,
            "factors": [
                {"path": "schedules.visits_per_week", "low": 1, "high": 7, "integer": True},
                {"path": "demand.inbound.parcels_per_village_per_day", "low": 5, "high": 50},
            ],
        }
    )
    vs = variants(sweep)
    assert len(vs) == 7
    assert all(isinstance(v["schedules.visits_per_week"], int) for v in vs)
    rates = sorted(v["demand.inbound.parcels_per_village_per_day"] for v in vs)
    # One sample per stratum of width (50 - 5) / 7.
    assert all(5 + i * 45 / 7 <= x <= 5 + (i + 1) * 45 / 7 for i, x in enumerate(rates))


def test_failures_are_recorded_and_bad_files_rejected(tmp_path, tiny_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SWEEP.format(base=tiny_path.resolve()).replace(
            "fleet.county_centre.van\n    values: [1, 2]",
            "fleet.vehicle_types.etricycle.range_km\n    values: [2, 500]",
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["sweep", str(bad), "--out", str(out), "--backend", "serial", "--quiet"]) == 1
    assert "4 failed" in capsys.readouterr().out
    assert len(list((out / "runs").glob("*.error.txt"))) == 4
    assert len(list((out / "runs").glob("*.parquet"))) == 4
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(SWEEP.format(base=tiny_path.resolve()).replace("grid", "sobol"))
    assert main(["sweep", str(wrong), "--out", str(out)]) == 2
    assert "design" in capsys.readouterr().err
    typo = tmp_path / "typo.yaml"
    typo.write_text(SWEEP.format(base=tiny_path.resolve()).replace("fleet.county", "fleet.countee"))
    assert main(["sweep", str(typo), "--out", str(out)]) == 2
    assert "countee" in capsys.readouterr().err
    with pytest.raises(ScenarioError, match=r"missing\.yaml"):
        load_sweep(tmp_path / "missing.yaml")


def test_dask_local_cluster_gives_the_same_results(sweep_file, tmp_path):
    import distributed

    run_sweep(sweep_file, tmp_path / "serial", backend="serial")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        argv = [
            "sweep",
            str(sweep_file),
            "--out",
            str(tmp_path / "dask"),
            "--quiet",
            "--scheduler",
            cluster.scheduler_address,
        ]
        assert main(argv) == 0
    a = pd.read_parquet(tmp_path / "serial" / "results.parquet")
    b = pd.read_parquet(tmp_path / "dask" / "results.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_unreachable_scheduler_is_a_usage_error(sweep_file, tmp_path, capsys):
    argv = [
        "sweep",
        str(sweep_file),
        "--out",
        str(tmp_path / "x"),
        "--quiet",
        "--scheduler",
        "tcp://127.0.0.1:9",
    ]
    assert main(argv) == 2
    assert "--scheduler tcp://127.0.0.1:9" in capsys.readouterr().err


@pytest.mark.parametrize(
    "design, samples, n_variants, columns",
    [
        ("sobol", 4, 4 * (2 + 2), {"S1", "S1_conf", "ST", "ST_conf"}),
        ("morris", 3, 3 * (2 + 1), {"mu_star", "mu_star_conf", "sigma"}),
    ],
)
def test_sobol_and_morris_indices(tmp_path, tiny_path, design, samples, n_variants, columns):
    path = tmp_path / "sa.yaml"
    path.write_text(
        f"""base: {tiny_path.resolve()}
design: {design}
samples: {samples}
seed: 3
replications: 1
outputs: [parcels_created, vehicle_km]
overrides: {{horizon_days: 2, warmup_days: 1}}
factors:
  - {{path: demand.inbound.parcels_per_village_per_day, low: 2, high: 10}}
  - {{path: fleet.county_centre.van, low: 1, high: 4, integer: true}}
""",
        encoding="utf-8",
    )
    sweep, _ = load_sweep(path)
    assert len(variants(sweep)) == n_variants
    run_sweep(path, tmp_path / "out", backend="serial")
    si = pd.read_csv(tmp_path / "out" / "sensitivity.csv")
    assert columns <= set(si.columns)
    assert set(si["kpi"]) == {"parcels_created", "vehicle_km"}
    created = si[si["kpi"] == "parcels_created"].set_index("factor")
    # Parcels depend on demand, not on the number of shuttles.
    key = "ST" if design == "sobol" else "mu_star"
    demand, vans = "demand.inbound.parcels_per_village_per_day", "fleet.county_centre.van"
    assert created.loc[demand, key] > 10 * abs(created.loc[vans, key])


# -- issue 12: shipped sweeps, errors in the scenario style, run count, another file's folder --


def test_shipped_sweeps_load_and_name_their_buses():
    import yaml

    root = Path(__file__).parent.parent / "scenarios"
    sweep, base = load_sweep(root / "sweeps" / "linyi_fleet.yaml")
    assert len(variants(sweep)) == 6 and base["name"] == "linyi_co_delivery"
    sweep, base = load_sweep(root / "sweeps" / "linxian_network.yaml")
    assert len(variants(sweep)) == 18 and base["name"] == "linxian_mountain"
    (buses,) = (f for f in sweep.factors if f.path == "buses")
    shipped = yaml.safe_load((root / "linxian_bus_freight.yaml").read_text(encoding="utf-8"))
    assert buses.values == [[], shipped["buses"]] and buses.labels == ["none", "nine_lines"]


@pytest.mark.parametrize(
    ("old", "new", "needles"),
    [
        (
            "fleet.county_centre.van",
            "fleet.county_centr.van",
            [":8: factors.0.path", "'county_centre'"],
        ),
        ("values: [1, 2]", "values: [1, -2]", [":9: factors.0.values", "got -2", "valid:"]),
        ("values: [2, 4]", "valuse: [2, 4]", [":11: factors.1.valuse", "did you mean 'values'"]),
        ("design: grid", "design: gird", [":2: design", "got 'gird'", "'grid'"]),
        ("horizon_days: 2", "horizon_dayz: 2", [":5: overrides.horizon_dayz", "'horizon_days'"]),
    ],
)
def test_sweep_errors_name_file_line_field_and_valid(
    tmp_path, tiny_path, old, new, needles, capsys
):
    text = SWEEP.format(base=tiny_path.resolve())
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new), encoding="utf-8")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "out"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ruralsim: error: {bad}:") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    assert not (tmp_path / "out").exists()


def test_sweep_says_its_runs_before_starting_and_resumes_only_its_file(
    sweep_file, tmp_path, capsys
):
    out = tmp_path / "out"
    argv = ["sweep", str(sweep_file), "--out", str(out), "--backend", "serial", "--quiet"]
    assert main(argv) == 0
    assert "4 variants x 2 replications = 8 runs (0 already done)" in capsys.readouterr().err
    assert main(argv) == 0
    assert "= 8 runs (8 already done)" in capsys.readouterr().err
    other = tmp_path / "other.yaml"
    other.write_text(sweep_file.read_text().replace("[2, 4]", "[3]"), encoding="utf-8")
    before = sorted(p.name for p in (out / "runs").iterdir())
    argv[1] = str(other)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--overwrite" in err and str(sweep_file) in err
    assert sorted(p.name for p in (out / "runs").iterdir()) == before
    (out / "notes.txt").write_text("mine")
    assert main([*argv, "--overwrite"]) == 2
    assert "notes.txt" in capsys.readouterr().err and len(before) == 8
    (out / "notes.txt").unlink()
    assert main([*argv, "--overwrite"]) == 0
    assert "2 variants x 2 replications = 4 runs (0 already done)" in capsys.readouterr().err
    assert len(list((out / "runs").glob("*.parquet"))) == 4
    assert str(other.resolve()) in (out / ".ruralsim-sweep.json").read_text()


def test_labelled_factor_is_shown_by_its_label(tmp_path, tiny_path):
    path = tmp_path / "labels.yaml"
    text = SWEEP.format(base=tiny_path.resolve()).replace(
        "values: [2, 4]", "values: [2, 4]\n    labels: [low, high]"
    )
    path.write_text(text.replace("replications: 2", "replications: 1"), encoding="utf-8")
    run_sweep(path, tmp_path / "out", backend="serial")
    design = pd.read_csv(tmp_path / "out" / "design.csv")
    assert list(design["demand.inbound.parcels_per_village_per_day"]) == ["low", "high"] * 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("labels: [low, high]", "labels: [low]"), encoding="utf-8")
    with pytest.raises(ScenarioError, match="one label per value"):
        load_sweep(bad)
