"""Streaming a region county by county gives the in-memory run's tables, whoever runs it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.parcelfile import SAMPLE_EVERY
from sim.runfolder import RunTables, stream_run, write_run
from sim.stream import run_region

COUNTIES = ["140821", "141124", "140105"]


@pytest.fixture(scope="module")
def three(tiny_scenario) -> sim.Scenario:
    """Three counties of the tiny scenario, with outbound farm parcels, 2 replications."""
    data = tiny_scenario.model_dump(mode="json")
    data["region"] = {"counties": COUNTIES}
    data["demand"]["outbound"] = {"parcels_per_village_per_day": 1}
    data["demand"]["inbound"]["parcels_per_village_per_day"] = 3
    return sim.scenario_from_dict(data)


@pytest.fixture(scope="module")
def in_memory(three, tmp_path_factory):
    results = sim.run(sim.build(three))
    kpis = sim.compute_kpis(results)
    tables = RunTables(kpis=kpis, summary=sim.summarize(kpis), coverage=sim.coverage_table(results))
    out = tmp_path_factory.mktemp("mem") / "run"
    write_run(out, results, tables, wall_time_s=0.0, figures=False)
    return results, tables, out


def _same_folder(a, b) -> None:
    for name in ("kpis.csv", "kpis_summary.csv", "coverage.csv", "facilities.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for name in ("parcels.parquet", "trips.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name))
    ma, mb = (json.loads((f / "manifest.json").read_text()) for f in (a, b))
    for key in ("run_end_min", "parcels", "vehicle_legs", "build_warnings", "counties"):
        assert ma[key] == mb[key], key


def test_streamed_tables_equal_the_in_memory_ones(three, in_memory):
    results, tables, _ = in_memory
    run = run_region(three)
    pd.testing.assert_frame_equal(run.kpis, tables.kpis, check_exact=True)
    pd.testing.assert_frame_equal(run.coverage, tables.coverage, check_exact=True)
    assert run.ends == results.ends
    assert run.parcels == len(results.parcels) and run.vehicle_legs == len(results.trips)
    assert run.world.warnings == sim.build(three).warnings
    assert sum(len(c.graph) for c in run.world.counties) > 0  # small regions keep their roads
    assert all(not c.time_min for c in run.world.counties)  # but not their matrices


@pytest.mark.parametrize("workers", [1, 2])
def test_streamed_folder_equals_the_in_memory_folder(three, in_memory, tmp_path, workers):
    _, _, mem = in_memory
    out = tmp_path / "run"
    stream_run(out, three, parcels="all", workers=workers, figures=False)
    _same_folder(mem, out)
    parcels = pd.read_parquet(out / "parcels.parquet")
    assert parcels["t_created"].dtype == np.float32 and parcels["parcel_id"].dtype == np.int32
    assert {"t_collected", "t_centre", "t_trunk"} <= set(parcels.columns)
    assert not (out / "spool").exists()  # the workers' parcel files are read and removed


def test_spooled_parcels_come_back_in_slices(three, tmp_path, monkeypatch):
    """A worker's parcels written to a spool file are read back a slice at a time, in order,
    and the file is gone afterwards."""
    import sim.stream as stream

    monkeypatch.setattr(stream, "BATCH_ROWS", 1000)
    oc = stream.county_outcome(
        three, COUNTIES[0], 0, parcels="all", keep_graph=False, spool=tmp_path
    )
    block = oc.blocks[0]
    assert isinstance(block.parcels, type(tmp_path)) and block.parcels.exists()
    batches = list(block.parcel_batches())
    assert len(batches) > 1 and all(b.num_rows <= 1000 for b in batches)
    assert sum(b.num_rows for b in batches) == block.n_parcels
    ids = np.concatenate([b.column("parcel_id").to_numpy() for b in batches])
    np.testing.assert_array_equal(ids, np.arange(block.n_parcels))
    assert len(list(tmp_path.iterdir())) == len(oc.blocks) - 1
    for other in oc.blocks[1:]:
        list(other.parcel_batches())
    assert list(tmp_path.iterdir()) == []


def test_inbound_only_runs_leave_the_outbound_columns_out(tiny_scenario, tmp_path):
    stream_run(tmp_path / "run", tiny_scenario, parcels="all", figures=False)
    parcels = pd.read_parquet(tmp_path / "run" / "parcels.parquet")
    assert not {"t_collected", "t_centre", "t_trunk"} & set(parcels.columns)
    # Only a column that happens to be empty in this run (nobody's parcel went back) stays.
    assert set(parcels.columns[parcels.isna().all()]) <= {"t_returned"}


def test_sample_and_none(three, in_memory, tmp_path):
    _, _, mem = in_memory
    full = pd.read_parquet(mem / "parcels.parquet")
    run, _ = stream_run(tmp_path / "s", three, parcels="sample", figures=False)
    got = pd.read_parquet(tmp_path / "s" / "parcels.parquet")
    # Every block's rows 0, 100, 200, ... (blocks: county, then replication, in file order).
    block = (full["county_code"].astype(str) + "/" + full["replication"].astype(str)).to_numpy()
    position = pd.Series(np.arange(len(full))).groupby(block, sort=False).cumcount().to_numpy()
    want = full[position % SAMPLE_EVERY == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_categorical=False)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["parcels_written"].startswith("sample") and manifest["parcels"] == len(full)
    assert run.parcels_written == len(want)
    stream_run(tmp_path / "n", three, parcels="none", figures=False)
    assert not (tmp_path / "n" / "parcels.parquet").exists()
    assert (tmp_path / "n" / "kpis.csv").read_bytes() == (mem / "kpis.csv").read_bytes()


def test_cli_run_with_workers(tmp_path, three, in_memory, capsys):
    _, _, mem = in_memory
    path = tmp_path / "three.yaml"
    import yaml

    path.write_text(yaml.safe_dump(three.model_dump(mode="json")), encoding="utf-8")
    out = tmp_path / "run"
    argv = ["run", str(path), "--out", str(out), "--workers", "2", "--quiet", "--no-figures"]
    assert main(argv) == 0
    _same_folder(mem, out)
    assert main([*argv[:3], str(tmp_path / "x"), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_dask_cluster_gives_the_same_tables(three, in_memory, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, _, mem = in_memory
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        stream_run(tmp_path / "run", three, scheduler=cluster.scheduler_address, figures=False)
    _same_folder(mem, tmp_path / "run")


def test_a_failing_county_leaves_no_folder(three, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise sim.BuildError("no roads")

    monkeypatch.setattr("sim.stream.build_county", broken)
    with pytest.raises(sim.BuildError):
        stream_run(tmp_path / "run", three, figures=False)
    assert not (tmp_path / "run").exists()
    assert not list(tmp_path.iterdir())


def test_report_of_a_run_without_parcels(tiny_scenario, tmp_path):
    stream_run(tmp_path / "run", tiny_scenario, parcels="none")
    assert main(["report", str(tmp_path / "run")]) == 0
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "figures/lead_times.png" in html  # the run's own chart, drawn from every parcel


def test_one_replication_takes_coverage_from_the_kpi_pass(three):
    one = sim.scenario_from_dict({**three.model_dump(mode="json"), "replications": 1})
    results = sim.run(sim.build(one))
    run = run_region(one, workers=1)
    pd.testing.assert_frame_equal(run.coverage, sim.coverage_table(results), check_exact=True)
    pd.testing.assert_frame_equal(run.kpis, sim.compute_kpis(results), check_exact=True)


def test_counties_start_only_while_their_memory_fits():
    """With a budget, the unfinished tasks' estimated memory stays within it (a task larger
    than the budget runs alone), and the outcomes still come in order."""
    import threading
    import time
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from sim.stream import _in_order

    cost = [3.0, 1.0, 1.0, 5.0, 1.0, 2.0, 2.0, 1.0]
    lock, running, seen = threading.Lock(), set(), []

    def task(i):
        with lock:
            running.add(i)
            seen.append(sum(cost[j] for j in running))
        time.sleep(0.02 * (1 + i % 3))
        with lock:
            running.discard(i)
        return i

    with ThreadPoolExecutor(max_workers=4) as ex:
        got = list(
            _in_order(
                lambda i: ex.submit(task, i),
                len(cost),
                8,
                cost=cost,
                budget=4.0,
                wait_any=lambda fs: wait(fs, return_when=FIRST_COMPLETED) and None,
            )
        )
    assert got == list(range(len(cost)))
    assert max(seen) == 5.0  # the large one, alone
    assert all(x <= 4.0 for x in seen if x != 5.0)


def test_cli_max_memory(tmp_path, three, in_memory, capsys):
    _, _, mem = in_memory
    path = tmp_path / "three.yaml"
    import yaml

    path.write_text(yaml.safe_dump(three.model_dump(mode="json")), encoding="utf-8")
    out = tmp_path / "run"
    argv = ["run", str(path), "--out", str(out), "--quiet", "--no-figures", "--workers", "2"]
    assert main([*argv, "--max-memory", "0.001"]) == 0  # every county alone: same tables
    _same_folder(mem, out)
    assert main([*argv[:3], str(tmp_path / "x"), "--max-memory", "0"]) == 2
    assert "--max-memory" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
