"""``ruralsim optimise``: file errors, the known optimum, same results on any number of
workers, resume without repeating a run, and a best.yaml that runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.cli import main
from sim.kpi import REGION_KPIS
from sim.optimise import load_optimise
from sim.optimise.evaluate import Evaluation
from sim.optimise.outputs import confidence
from sim.optimise.spec import parse_target

#: Coverage needs at least 5 visits a week (the tiny scenario's kpi.min_visits_per_week), and
#: cost per parcel rises with the tricycles per township: the cheapest feasible candidate is
#: 7 visits a week with 2 tricycles.
GRID = """base: {base}
variables:
  - path: schedules.visits_per_week
    choices: [3, 5, 7]
  - path: fleet.township_default.etricycle
    low: 2
    high: 3
target:
  - village_express_coverage >= 0.5
objective: cost_per_parcel_yuan
evaluations: {evaluations}
batch: 4
replications: {replications}
seed: 5
"""

#: A space of 12 candidates searched with a budget of 6: Optuna's TPE proposes them.
SEARCH = GRID.replace("low: 2\n    high: 3", "low: 1\n    high: 4").replace(
    "batch: 4", "batch: 3\nstartup: 3"
)


def _write(tmp: Path, text: str, name: str = "opt.yaml") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _optimise(path: Path, out: Path, *extra: str) -> int:
    return main(["optimise", str(path), "--out", str(out), "--quiet", *extra])


@pytest.fixture(scope="module")
def searched(tmp_path_factory, tiny_path) -> Path:
    """A TPE search of the tiny scenario on one worker (6 candidates, 1 replication each)."""
    tmp = tmp_path_factory.mktemp("search")
    path = _write(tmp, SEARCH.format(base=tiny_path.resolve(), evaluations=6, replications=1))
    assert _optimise(path, tmp / "out", "--workers", "1") == 0
    (tmp / "first.csv").write_bytes((tmp / "out" / "evaluations.csv").read_bytes())
    return tmp


BAD = [
    ({"objective": "cost_per_parcel"}, "objective: unknown KPI 'cost_per_parcel' (did you mean"),
    ({"target": ["village_coverage >= 0.9"]}, "target: unknown KPI 'village_coverage'"),
    ({"target": ["on_time_rate > 0.9"]}, "target: target 'on_time_rate > 0.9' is not"),
    ({"batchs": 2}, "batchs: unknown key (did you mean 'batch'?)"),
    ({"evaluations": 0}, "evaluations: too small"),
    (
        {"variables": [{"path": "schedules.visits_per_week", "choices": [3, 9]}]},
        "variables: schedules.visits_per_week: the value 9 makes an invalid scenario",
    ),
    ({"variables": [{"path": "fleet.nope.van", "low": 1, "high": 2}]}, "no field 'nope'"),
    ({"variables": [{"path": "fleet.county_centre.van", "low": 3, "high": 1}]}, "below low 3"),
    ({"confidence": 0.9}, "confidence needs replications of 2 or more"),
    ({"confidence": 1.5, "replications": 2}, "confidence"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_a_bad_file_is_one_line_naming_file_and_field(
    tmp_path, tiny_path, capsys, change, message
) -> None:
    data = yaml.safe_load(GRID.format(base=tiny_path.resolve(), evaluations=6, replications=1))
    path = _write(tmp_path, yaml.safe_dump({**data, **change}, sort_keys=False))
    assert _optimise(path, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"ruralsim: error: {path}") and message in err
    assert not (tmp_path / "out").exists()


def test_targets_and_confidence() -> None:
    t = parse_target(" village_express_coverage>=0.95 ")
    assert (t.kpi, t.op, t.value, str(t)) == (
        "village_express_coverage",
        ">=",
        0.95,
        "village_express_coverage >= 0.95",
    )
    e = Evaluation(0, 0, {}, {}, {"village_express_coverage": [0.96, 0.98, 0.94]}, 0)
    conf, meeting, n = confidence(e, t)
    assert conf == pytest.approx(0.7611, abs=1e-4) and (meeting, n) == (2, 3)  # t = 0.866, 2 df
    assert confidence(e, parse_target("village_express_coverage <= 0.96"))[0] == pytest.approx(0.5)
    one = Evaluation(0, 0, {}, {}, {"village_express_coverage": [0.96]}, 0)
    assert math.isnan(confidence(one, t)[0])


def test_a_confidence_level_makes_a_barely_met_target_infeasible() -> None:
    from sim.optimise.search import feasible

    t = parse_target("village_express_coverage >= 0.95")
    near = Evaluation(0, 0, {}, {}, {"village_express_coverage": [0.96, 0.98, 0.94]}, 0)
    sure = Evaluation(1, 0, {}, {}, {"village_express_coverage": [0.97, 0.98, 0.975]}, 0)
    assert feasible(near, [t]) and feasible(sure, [t])  # both means meet it
    assert not feasible(near, [t], 0.9)  # t confidence 0.76
    assert feasible(sure, [t], 0.9)


def test_the_cheapest_feasible_candidate_is_found_and_best_yaml_runs(
    tmp_path, tiny_path, capsys
) -> None:
    path = _write(tmp_path, GRID.format(base=tiny_path.resolve(), evaluations=10, replications=2))
    out = tmp_path / "out"
    assert _optimise(path, out, "--workers", "2") == 0
    table = pd.read_csv(out / "evaluations.csv")
    assert len(table) == 6  # the budget covers the space: every candidate is simulated
    feasible = table[table["feasible"]]
    assert set(feasible["schedules.visits_per_week"]) <= {5, 7}
    assert (table.loc[table["schedules.visits_per_week"] == 3, "feasible"] == False).all()  # noqa: E712
    top = feasible.sort_values("cost_per_parcel_yuan_mean").iloc[0]
    assert (top["schedules.visits_per_week"], top["fleet.township_default.etricycle"]) == (7, 2)
    assert {"village_express_coverage_ci95", "on_time_rate_mean"} <= set(table.columns)
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "schedules.visits_per_week: 7" in summary and "t confidence" in summary
    pareto = pd.read_csv(out / "pareto.csv")
    assert int(top["candidate"]) in set(pareto["candidate"])
    meta = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert meta["best_candidate"] == int(top["candidate"]) and meta["runs_now"] == 12
    # best.yaml is a scenario that `ruralsim run` accepts, and gives the same KPIs.
    load_optimise(path)  # (the file itself loads)
    capsys.readouterr()
    assert main(["validate", str(out / "best.yaml")]) == 0
    assert main(["run", str(out / "best.yaml"), "--out", str(tmp_path / "run"), "--quiet",
                 "--no-figures"]) == 0  # fmt: skip
    s = pd.read_csv(tmp_path / "run" / "kpis_summary.csv")
    prov = s[s["scope"] == "province"].set_index("kpi")["mean"]
    assert prov["cost_per_parcel_yuan"] == pytest.approx(top["cost_per_parcel_yuan_mean"], 1e-5)


def test_same_results_on_one_and_two_workers(searched, tiny_path) -> None:
    out = searched / "two"
    assert _optimise(searched / "opt.yaml", out, "--workers", "2") == 0
    a = (searched / "first.csv").read_text(encoding="utf-8")
    assert a == (out / "evaluations.csv").read_text(encoding="utf-8")
    table = pd.read_csv(out / "evaluations.csv")
    assert len(table) == 6
    # TPE found the optimum of the 12 candidates: daily visits with one tricycle (fewer visits
    # leave coverage near 0.1, more tricycles cost more).
    names = ["schedules.visits_per_week", "fleet.township_default.etricycle"]
    top = table[table["feasible"]].sort_values("cost_per_parcel_yuan_mean").iloc[0]
    assert tuple(top[names]) == (7, 1)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["optimiser"].startswith("optuna") and "TPESampler" in manifest["optimiser"]
    # Every province KPI of a run is a name the file may use.
    run = next((out / "runs").glob("*.parquet"))
    frame = pd.read_parquet(run)
    assert set(frame.loc[frame["scope"] == "province", "kpi"]) == set(REGION_KPIS)


def test_resume_reuses_runs_and_a_larger_budget_continues(searched, tiny_path) -> None:
    out = searched / "out"
    before = (out / "evaluations.csv").read_text(encoding="utf-8")
    runs = sorted((out / "runs").glob("*.parquet"))
    stamps = {p.name: p.stat().st_mtime_ns for p in runs}
    runs[2].unlink()  # a search killed before this run ended
    (out / "evaluations.csv").unlink()
    assert _optimise(searched / "opt.yaml", out) == 0
    assert (out / "evaluations.csv").read_text(encoding="utf-8") == before
    status = pd.read_csv(out / "runs.csv")["status"]
    assert (status == "run").sum() == 1 and (status == "reused").sum() == len(runs) - 1
    for p in runs:
        if p != runs[2]:
            assert p.stat().st_mtime_ns == stamps[p.name]  # not run again
    # The same file with a larger budget replays these candidates, then goes on.
    bigger = SEARCH.format(base=tiny_path.resolve(), evaluations=8, replications=1)
    path = _write(searched, bigger, "bigger.yaml")
    assert _optimise(path, out) == 0
    after = pd.read_csv(out / "evaluations.csv")
    assert len(after) == 8
    names = ["schedules.visits_per_week", "fleet.township_default.etricycle"]
    earlier = pd.read_csv(searched / "two" / "evaluations.csv")
    pd.testing.assert_frame_equal(after.head(6)[names], earlier[names])
    assert (pd.read_csv(out / "runs.csv")["status"] == "run").sum() == 2


def test_another_problem_is_refused_without_overwrite(searched, tiny_path, capsys) -> None:
    out = searched / "out"
    before = (out / "evaluations.csv").read_bytes()
    other = SEARCH.format(base=tiny_path.resolve(), evaluations=6, replications=2)
    path = _write(searched, other, "other.yaml")
    assert _optimise(path, out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and "--overwrite" in err, err
    assert "evaluations budget" in err and (out / "evaluations.csv").read_bytes() == before


def test_folders_of_other_commands_are_refused(searched, tmp_path, capsys) -> None:
    out = searched / "out"
    assert main(["run", "tests/data/tiny.yaml", "--out", str(out)]) == 2
    assert "is an optimise folder" in capsys.readouterr().err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert _optimise(searched / "opt.yaml", tmp_path / "other") == 2
    assert "no .ruralsim-optimise.json" in capsys.readouterr().err


def test_dask_gives_the_same_results(searched) -> None:
    import distributed

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        out = searched / "dask"
        assert _optimise(searched / "opt.yaml", out, "--scheduler", cluster.scheduler_address) == 0
    a = (searched / "first.csv").read_text(encoding="utf-8")
    assert a == (out / "evaluations.csv").read_text(encoding="utf-8")


def test_a_failed_run_makes_its_candidate_infeasible(tmp_path, tiny_path, monkeypatch) -> None:
    from sim import _executors

    real = _executors.variant_runs

    def failing(scenario, replications, *, errors=(Exception,)):
        for r, outcome in real(scenario, replications, errors=errors):
            if scenario["schedules"]["visits_per_week"] == 7 and r == 1:
                outcome = RuntimeError("the engine stopped")
            yield r, outcome

    monkeypatch.setattr(_executors, "variant_runs", failing)
    path = _write(tmp_path, GRID.format(base=tiny_path.resolve(), evaluations=6, replications=2))
    out = tmp_path / "out"
    assert _optimise(path, out, "--backend", "serial") == 1  # no feasible candidate, a run failed
    table = pd.read_csv(out / "evaluations.csv")
    sevens = table["schedules.visits_per_week"] == 7
    assert (table.loc[sevens, "failed_runs"] == 1).all() and not table["feasible"].any()
    assert len(list((out / "runs").glob("*.error.txt"))) == 2
    assert not (out / "best.yaml").exists()
    assert "No candidate met every target" in (out / "summary.md").read_text(encoding="utf-8")


def test_shipped_optimise_file_loads() -> None:
    problem = load_optimise(Path(__file__).parent.parent / "scenarios/optimise/linxian_fleet.yaml")
    assert problem.base["name"] == "linxian_mountain" and problem.spec.space_size() == 30
    assert [t.kpi for t in problem.spec.targets()] == ["village_express_coverage", "on_time_rate"]
