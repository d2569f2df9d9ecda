"""The command line: run folder contract, determinism, and clean errors with exit status 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.cli import main
from sim.kpi import SUMMARY_KPIS
from sim.runfolder import RUN_FILES

TABLES = [
    "kpis.csv",
    "kpis_summary.csv",
    "coverage.csv",
    "parcels.parquet",
    "trips.parquet",
    "scenario.resolved.yaml",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["run", str(tiny_path), "--out", str(out), "--quiet"]) == 0
    return out


def test_run_folder_contract(tiny_run, tiny_scenario):
    names = {p.name for p in tiny_run.iterdir()}
    assert names == {*RUN_FILES, "figures"}
    assert {p.name for p in (tiny_run / "figures").iterdir()} == {
        "county_map.png",
        "lead_times.png",
    }
    manifest = json.loads((tiny_run / "manifest.json").read_text(encoding="utf-8"))
    for key in (
        "seed",
        "replications",
        "ruralsim_version",
        "git_describe",
        "scenario_hash",
        "geodata_sources",
        "wall_time_s",
    ):
        assert key in manifest
    assert manifest["seed"] == tiny_scenario.seed
    assert manifest["replications"] == tiny_scenario.replications
    assert set(manifest["synthetic_layers"]) == {"roads", "township_points", "village_points"}
    assert manifest["geodata_sources"]["divisions"] == {"real": 1}
    assert manifest["geodata_sources"]["roads"] == {"synthetic": 1}
    (county,) = manifest["counties"]
    assert county["code"] == "140821"
    assert county["sources"]["roads"].startswith("synthetic")
    assert county["data_quality"]["connectors"] == {"far": 0, "disconnected": 0}

    kpis = pd.read_csv(tiny_run / "kpis.csv", dtype={"code": str})
    assert list(kpis.columns) == ["replication", "scope", "code", "name", "kpi", "value"]
    assert set(kpis["scope"]) == {"province", "carrier", "county", "township", "village"}
    for scope in ("province", "county"):
        assert set(SUMMARY_KPIS) <= set(kpis.loc[kpis["scope"] == scope, "kpi"])
    summary = pd.read_csv(tiny_run / "kpis_summary.csv", dtype={"code": str})
    assert {"mean", "ci95_low", "ci95_high"} <= set(summary.columns)
    county = summary[(summary["scope"] == "county")].set_index("kpi")
    assert np.isnan(county.loc["locker_utilisation", "mean"])  # no lockers: not applicable
    county = county.dropna(subset=["mean"])
    assert (county["ci95_low"] <= county["mean"] + 1e-9).all()
    assert (county["mean"] <= county["ci95_high"] + 1e-9).all()

    parcels = pd.read_parquet(tiny_run / "parcels.parquet")
    for col in (
        "parcel_id",
        "carrier",
        "direction",
        "village_code",
        "township_code",
        "county_code",
        "t_created",
        "t_point",
        "final_state",
        "reason",
    ):
        assert col in parcels.columns
    created = county.loc["parcels_created", "mean"] * tiny_scenario.replications
    t = parcels["t_created"]
    in_window = (t >= tiny_scenario.warmup_days * 1440) & (t < tiny_scenario.horizon_days * 1440)
    assert in_window.sum() == pytest.approx(created)
    trips = pd.read_parquet(tiny_run / "trips.parquet")
    for col in ("vehicle", "type", "from_code", "to_code", "depart", "arrive", "km", "load"):
        assert col in trips.columns
    coverage = pd.read_csv(tiny_run / "coverage.csv", dtype={"code": str})
    assert list(coverage.columns) == [
        "level",
        "code",
        "name",
        "covered",
        "reason",
        "stage",
        "visits_per_week",
        "p95_lead_h",
        "why",
    ]
    assert (coverage["level"] == "village").sum() == 284
    assert (coverage["level"] == "township").sum() == 14
    fac = pd.read_csv(tiny_run / "facilities.csv", dtype={"code": str, "county_code": str})
    assert len(fac) == 1 + 14 + 284
    assert set(fac.loc[fac["level"] != "county", "source"]) == {"synthetic"}
    assert fac.loc[0, "code"] == "140821" and fac.loc[0, "source"] == "real"
    resolved = sim.load_scenario(tiny_run / "scenario.resolved.yaml")
    assert resolved == tiny_scenario


def test_same_seed_byte_identical_tables(tiny_run, tiny_path, tmp_path):
    again = tmp_path / "again"
    assert main(["run", str(tiny_path), "--out", str(again), "--quiet", "--no-figures"]) == 0
    for name in TABLES:
        assert (again / name).read_bytes() == (tiny_run / name).read_bytes(), name
    other = tmp_path / "other"
    assert (
        main(["run", str(tiny_path), "--out", str(other), "--quiet", "--no-figures", "--seed", "8"])
        == 0
    )
    for name in ("kpis.csv", "parcels.parquet", "trips.parquet"):
        assert (other / name).read_bytes() != (tiny_run / name).read_bytes(), name


def test_rerun_replaces_earlier_run_only_with_overwrite(tiny_run, tiny_path, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    argv = ["run", str(tiny_path), "--out", str(out), "--quiet", "--no-figures"]
    assert main([*argv, "--replications", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and "--overwrite" in err, err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert main([*argv, "--replications", "1", "--overwrite"]) == 0
    assert json.loads((out / "manifest.json").read_text())["replications"] == 1
    assert f"it replaced the earlier run in {out}" in capsys.readouterr().out  # never silently
    assert not (out / "figures").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folders left


def test_failed_run_keeps_earlier_run_whole(tiny_run, tiny_path, tmp_path, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("sim.viz.save_run_figures", boom)
    with pytest.raises(RuntimeError):
        main(["run", str(tiny_path), "--out", str(out), "--quiet", "--seed", "99", "--overwrite"])
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def _fails_cleanly(capsys, argv: list[str], *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("ruralsim: error:")
    for needle in needles:
        assert needle in err, err
    return err


def test_refuses_to_overwrite_unrelated_folder(tiny_path, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    _fails_cleanly(capsys, ["run", str(tiny_path), "--out", str(out), "--quiet"], "--out")
    assert (out / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_bad_scenario_exit_2_names_file_line_field(tmp_path, tiny_path, capsys):
    bad = tmp_path / "bad.yaml"
    text = tiny_path.read_text(encoding="utf-8").replace(
        "sorting_capacity_per_hour: 2000", "sorting_capacity_per_hour: -5"
    )
    bad.write_text(text, encoding="utf-8")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "-5" in s)
    out = tmp_path / "out"
    _fails_cleanly(
        capsys,
        ["run", str(bad), "--out", str(out)],
        f"bad.yaml:{line}",
        "facilities.county_centre.sorting_capacity_per_hour",
    )
    assert not out.exists()
    _fails_cleanly(capsys, ["validate", str(bad)], f"bad.yaml:{line}")


def test_unknown_village_code_names_file_line_field(tmp_path, tiny_path, capsys):
    bad = tmp_path / "bad.yaml"
    text = tiny_path.read_text(encoding="utf-8").replace(
        "  village_departures:",
        "  village_visits_per_week: {141124100201: 3}\n  village_departures:",
    )
    bad.write_text(text, encoding="utf-8")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "141124100201" in s)
    _fails_cleanly(
        capsys,
        ["validate", str(bad)],
        f"bad.yaml:{line}",
        "schedules.village_visits_per_week",
        "not a village of county 140821",
    )


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["run", "tests/data/tiny.yaml"], "--out"),
        (["run", "tests/data/tiny.yaml", "--out", "x", "--replications", "0"], "--replications"),
        (["run", "no/such/file.yaml", "--out", "x"], "no/such/file.yaml"),
        (["frobnicate"], "frobnicate"),
        (["geodata", "show", "999"], "999"),
        (["benchmark", "--days", "0"], "--days"),
    ],
)
def test_bad_arguments_exit_2(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).parent.parent)
    _fails_cleanly(capsys, argv, needle)


def test_validate_schema_and_show(capsys, tiny_path):
    assert main(["validate", str(tiny_path)]) == 0
    assert "valid scenario 'tiny'" in capsys.readouterr().out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert "horizon_days" in schema["properties"]
    assert main(["geodata", "show", "140821"]) == 0
    out = capsys.readouterr().out
    assert "猗氏镇" in out and "284" in out


def test_shipped_scenarios_validate(capsys):
    root = Path(__file__).parent.parent / "scenarios"
    for path in sorted(root.glob("*.yaml")):
        assert main(["validate", str(path)]) == 0, path
    assert {p.name for p in root.glob("*.yaml")} >= {
        "linyi_baseline.yaml",
        "linxian_mountain.yaml",
    }


def test_version_and_did_you_mean_for_commands(capsys):
    import sim

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ruralsim {sim.__version__}"
    assert main(["rnu", "x.yaml"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'run'?" in err and len(err.strip().splitlines()) == 1
    assert main(["geodata", "shwo", "140821"]) == 2
    assert "did you mean 'show'?" in capsys.readouterr().err
    assert main(["zzzz"]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_set_changes_a_field_validated_as_the_file_is(tmp_path, tiny_path, capsys):
    out = tmp_path / "run"
    argv = ["run", str(tiny_path), "--out", str(out), "--quiet", "--no-figures"]
    assert main([*argv, "--set", "schedules.visits_per_week=5", "--set", "replications=1"]) == 0
    resolved = yaml.safe_load((out / "scenario.resolved.yaml").read_text(encoding="utf-8"))
    assert resolved["schedules"]["visits_per_week"] == 5 and resolved["replications"] == 1
    capsys.readouterr()
    bad = {
        "schedules.visits_per_week=9": "--set schedules.visits_per_week=9: schedules.visits_",
        "schedules.vists_per_week=5": "did you mean 'visits_per_week'?",
        "warmup_days=500": "--set warmup_days=500: (top level): warmup_days (500)",
        "visits": "--set visits: give a dotted field path and a value",
    }
    for change, message in bad.items():
        assert main(["validate", str(tiny_path), "--set", change]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err


def test_with_changes_and_model_copy_always_validate(tiny_scenario):
    import sim

    changed = tiny_scenario.with_changes({"schedules.visits_per_week": 5, "seed": 3})
    assert (changed.schedules.visits_per_week, changed.seed) == (5, 3)
    assert tiny_scenario.schedules.visits_per_week != 5 or tiny_scenario.seed != 3
    with pytest.raises(sim.ScenarioError, match="warmup_days"):
        tiny_scenario.model_copy(update={"warmup_days": 10, "horizon_days": 5})
    with pytest.raises(sim.ScenarioError, match="no field 'vists_per_week'"):
        tiny_scenario.with_changes({"schedules.vists_per_week": 5})
    assert tiny_scenario.model_copy(update={"seed": 9}).seed == 9


# -- issue 12: overwrite, shipped scenarios, option suggestions ------------------------------


def test_new_and_export_refuse_an_existing_output_without_overwrite(tiny_run, tmp_path, capsys):
    existing = tmp_path / "mine.yaml"
    existing.write_text("keep me")
    _fails_cleanly(capsys, ["new", "140821", "--out", str(existing)], str(existing), "--overwrite")
    assert existing.read_text() == "keep me"
    book = tmp_path / "book.xlsx"
    book.write_bytes(b"old")
    argv = ["export", str(tiny_run), "--xlsx", "--out", str(book)]
    _fails_cleanly(capsys, argv, str(book), "--overwrite")
    assert book.read_bytes() == b"old"
    assert main([*argv, "--overwrite"]) == 0
    assert book.read_bytes()[:2] == b"PK"  # a zip: the workbook


def test_shipped_scenario_by_name_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "linyi_baseline"]) == 0
    assert "linyi_baseline" in capsys.readouterr().out
    err = _fails_cleanly(capsys, ["run", "linyi_basline", "--out", "x"], "did you mean")
    assert "'linyi_baseline'" in err and "linxian_mountain" in err and err.count("\n") == 1
    err = _fails_cleanly(capsys, ["validate", "linyi_baseline.yaml"], "name alone: linyi_baseline")
    assert not (tmp_path / "x").exists()
    from sim._shipped import resolve_file

    assert resolve_file("linxian_network", kind="sweep").name == "linxian_network.yaml"
    assert resolve_file("linxian_fleet", kind="optimise").parent.name == "optimise"
    (tmp_path / "linyi_baseline").write_text("mine")  # a file of that name comes first
    assert resolve_file("linyi_baseline") == Path("linyi_baseline")


def test_scenarios_lists_every_shipped_file(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    root = Path(__file__).parent.parent / "scenarios"
    for path in [*root.glob("*.yaml"), *root.glob("*/*.yaml")]:
        assert f"  {path.stem} " in out, path
    assert "ruralsim sweep NAME" in out and "临县" in out


def test_wheel_ships_scenarios_and_benchmarks():
    import tomllib

    config = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"]["scenarios"] == "sim/_scenarios"
    assert set(wheel["packages"]) == {"sim", "benchmarks"}
    from sim import _shipped

    assert _shipped._CANDIDATES[0] == Path(_shipped.__file__).resolve().parent / "_scenarios"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "x.yaml", "--replication", "3", "--out", "o"], "did you mean --replications?"),
        (["run", "x.yaml", "--rep", "3", "--out", "o"], "did you mean --replications?"),
        (["sweep", "s.yaml", "--ot", "o"], "did you mean --out?"),
        (["run", "x.yaml", "--out=o", "--no-figure"], "did you mean --no-figures?"),
        (["geodata", "show", "14", "--cache-dri", "c"], "did you mean --cache-dir?"),
    ],
)
def test_mistyped_option_gets_a_suggestion(argv, needle, capsys):
    err = _fails_cleanly(capsys, argv, "unrecognized option", needle)
    assert err.count("\n") == 1


def test_negative_numbers_are_values_not_options(tiny_path, capsys):
    _fails_cleanly(capsys, ["run", str(tiny_path), "--out", "o", "--seed", "-1"], "--seed")
    assert "unrecognized" not in capsys.readouterr().err
