"""Sweeps and reports under bad input, a full disk, changed code and killed processes.

Every user error ends in exit status 2 with one message naming the file (or the redo), no
traceback, and nothing half-written left behind.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from sim.cli import main
from sim.sweep import run_key, run_sweep

ROOT = Path(__file__).parent.parent

SWEEP = """base: {base}
design: grid
replications: 1
overrides:
  horizon_days: 2
  warmup_days: 1
factors:
  - path: fleet.county_centre.van
    values: [1, 2]
"""


def _sweep_file(folder: Path, tiny_path: Path, text: str = SWEEP) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(text.format(base=tiny_path.resolve()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def done(tmp_path_factory, tiny_path) -> dict[str, Path]:
    """A finished run folder and a finished sweep folder (copied by each test)."""
    root = tmp_path_factory.mktemp("done")
    run = root / "run"
    assert main(["run", str(tiny_path), "--out", str(run), "--quiet", "--no-figures"]) == 0
    sweep = _sweep_file(root, tiny_path)
    run_sweep(sweep, root / "sweep", backend="serial")
    return {"run": run, "sweep": root / "sweep", "sweep_file": sweep}


def _copy(done: dict[str, Path], kind: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(done[kind], tmp_path / kind))


def _leftovers(folder: Path) -> list[Path]:
    """Temporary files and empty error files under ``folder``."""
    tmp = [p for p in folder.rglob("*") if ".tmp-" in p.name]
    empty = [p for p in folder.rglob("*.error.txt") if p.stat().st_size == 0]
    return tmp + empty


def _one_error(capsys, *names: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("ruralsim: error:") == 1, err
    for name in names:
        assert name in err, err
    return err


# ------------------------------------------------------------------------- 8: unreadable files


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


CORRUPT_RUN = {
    "truncated parcels": ("parcels.parquet", _truncate),
    "invalid manifest": ("manifest.json", lambda p: p.write_text("{not json", encoding="utf-8")),
    "list manifest": ("manifest.json", lambda p: p.write_text("[1, 2]", encoding="utf-8")),
    "empty kpis_summary": ("kpis_summary.csv", lambda p: p.write_text("", encoding="utf-8")),
    "replications text": (
        "manifest.json",
        lambda p: p.write_text(
            json.dumps({**json.loads(p.read_text()), "replications": "two"}), encoding="utf-8"
        ),
    ),
}


@pytest.mark.parametrize("case", list(CORRUPT_RUN))
def test_report_on_a_broken_run_folder(case, done, tmp_path, capsys):
    name, corrupt = CORRUPT_RUN[case]
    run = _copy(done, "run", tmp_path)
    corrupt(run / name)
    assert main(["report", str(run)]) == 2
    _one_error(capsys, name)
    assert not (run / "report.html").exists()
    assert not _leftovers(run)


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("summary.csv", "", "empty"),
        ("design.csv", "", "empty"),
        ("summary.csv", "kpi,mean\nx,1\n", "no column"),
        ("sensitivity.csv", "kpi,factor,S1\nx,y,0.5\n", "ST_conf"),
    ],
)
def test_report_on_a_broken_sweep_table(name, text, says, done, tmp_path, capsys):
    sweep = _copy(done, "sweep", tmp_path)
    (sweep / name).write_text(text, encoding="utf-8")
    assert main(["report", str(sweep)]) == 2
    _one_error(capsys, name, says)
    assert not (sweep / "report.html").exists()


def test_compare_with_a_list_shaped_manifest(done, tmp_path, capsys):
    run = _copy(done, "run", tmp_path)
    (run / "manifest.json").write_text("[]", encoding="utf-8")
    assert main(["compare", str(done["run"]), str(run)]) == 2
    _one_error(capsys, str(run / "manifest.json"), "JSON object")


def test_resume_redoes_a_truncated_run(done, tmp_path, capsys):
    sweep = _copy(done, "sweep", tmp_path)
    victim = sorted((sweep / "runs").glob("*.parquet"))[0]
    _truncate(victim)
    args = ["sweep", str(done["sweep_file"]), "--out", str(sweep), "--backend", "serial"]
    assert main([*args, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert f"{victim}: truncated or unreadable; redoing that run" in captured.err
    assert "1 reused" not in captured.out and "1 run now" in captured.out
    runs = pd.read_csv(sweep / "runs.csv")
    assert sorted(runs["status"]) == ["redone", "reused"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(sweep / "results.parquet"),
        pd.read_parquet(done["sweep"] / "results.parquet"),
    )


# --------------------------------------------------------------------------- 9: a full disk


def _full_disk(monkeypatch, cls, method: str) -> None:
    def fail(self, path, *args, **kwargs):
        Path(path).write_bytes(b"half")  # a partial file, as a real full disk leaves
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cls, method, fail)


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_sweep_on_a_full_disk(backend, done, tmp_path, monkeypatch, capsys):
    _full_disk(monkeypatch, pd.DataFrame, "to_parquet")  # results are written by the parent
    out = tmp_path / "out"
    args = ["sweep", str(done["sweep_file"]), "--out", str(out), "--backend", backend]
    assert main([*args, "--workers", "2", "--quiet"]) == 2
    _one_error(capsys, "disk is full", str(out / "runs"))
    assert not _leftovers(out)
    assert not list((out / "runs").glob("*.parquet"))


def test_report_on_a_full_disk(done, tmp_path, monkeypatch, capsys):
    def fail(self, *args, **kwargs):
        Path.write_bytes(self, b"half")  # a partial file, as a real full disk leaves
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    for kind in ("sweep", "run"):
        folder = _copy(done, kind, tmp_path)
        with monkeypatch.context() as m:
            m.setattr(Path, "write_text", fail)
            assert main(["report", str(folder)]) == 2
        _one_error(capsys, "disk is full", "report.html")
        assert not _leftovers(folder)
        assert not (folder / "report.html").exists()


# ------------------------------------------------------------------------- 10: bad arguments


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["geodata", "check", "140821", "--seed", "-1"], "--seed"),
        (["sweep", "{sweep}", "--out", "{out}", "--scheduler", "not a url"], "--scheduler"),
        (["sweep", "{sweep}", "--out", "{out}", "--scheduler", "tcp://host"], "--scheduler"),
        (["sweep", "{sweep}", "--out", "{out}", "--backend", "dask"], "--scheduler"),
        (["benchmark", "--sweep", "0"], "--sweep"),
    ],
)
def test_bad_arguments_are_refused_at_once(args, flag, done, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [a.format(sweep=done["sweep_file"], out=out) for a in args]
    assert main(argv) == 2
    _one_error(capsys, flag)
    assert not out.exists()  # refused before anything ran


# ------------------------------------------------------------------- 14: large sweeps, dry run

SOBOL = """base: {base}
design: sobol
samples: 10000
replications: 1
factors:
  - {{path: demand.inbound.parcels_per_village_per_day, low: 2, high: 6}}
"""


def test_a_large_sweep_needs_yes(tmp_path, tiny_path, capsys):
    sweep = _sweep_file(tmp_path, tiny_path, SOBOL)
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out)]) == 2
    err = _one_error(capsys, "30,000 runs", "--yes", "--dry-run")
    assert "30,000 variants" in err
    assert not out.exists()


def test_dry_run_prints_runs_and_time(tmp_path, tiny_path, capsys):
    sweep = _sweep_file(tmp_path, tiny_path, SOBOL)
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out), "--dry-run", "--workers", "2"]) == 0
    text = capsys.readouterr().out
    assert "30,000 variants, 30,000 runs" in text
    assert "s per run" in text and "on 2 processes" in text and "per village-day" in text
    assert not out.exists()


# ----------------------------------------------------------------------- 15: escaped report


def test_report_escapes_every_manifest_value(done, tmp_path):
    run = _copy(done, "run", tmp_path)
    meta = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    evil = "<script>alert(1)</script>"
    meta.update(seed=evil, region=evil, scenario=evil, synthetic_layers=[evil])
    (run / "manifest.json").write_text(json.dumps(meta), encoding="utf-8")
    summary = pd.read_csv(run / "kpis_summary.csv")
    summary.loc[summary.index[0], "kpi"] = evil
    summary.to_csv(run / "kpis_summary.csv", index=False)
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page  # BokehJS is inline: <script> tags of its own
    assert page.count("&lt;script&gt;") >= 4
    sweep = _copy(done, "sweep", tmp_path)
    design = pd.read_csv(sweep / "design.csv").assign(note=evil)
    design.to_csv(sweep / "design.csv", index=False)
    (sweep / "sensitivity.csv").write_text(
        f"kpi,factor,S1,S1_conf,ST,ST_conf\n{evil},x,0.5,0.1,0.6,0.1\n", encoding="utf-8"
    )
    assert main(["report", str(sweep)]) == 0
    page = (sweep / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "note=&lt;script&gt;" in page  # the design column labels the Pareto points (JSON)
    assert not (sweep / "figures").exists()  # the page is the only file written


# ------------------------------------------------------------------- 16: what a base may be


SECRET = "hunter2-do-not-print"


@pytest.mark.parametrize("base", ["/etc/shadow", "/proc/self/environ", "secret.txt", "link.yaml"])
def test_sweep_base_must_be_a_scenario_file(base, tmp_path, capsys):
    (tmp_path / "secret.txt").write_text(f"password: {SECRET}\n", encoding="utf-8")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "secret.txt")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP.replace("{base}", base), encoding="utf-8")
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out")]) == 2
    err = _one_error(capsys, "base", ".yaml")
    assert SECRET not in err
    assert not (tmp_path / "out").exists()


def test_sweep_file_must_be_a_regular_file(tmp_path, capsys):
    assert main(["sweep", "/dev/zero", "--out", str(tmp_path / "out")]) == 2
    _one_error(capsys, "/dev/zero", "regular file")


# ------------------------------------------------------------------------ 6: stale results


def test_run_key_changes_with_code_geodata_and_scenario(
    done, tmp_path, tiny_scenario, monkeypatch, capsys
):
    import sim._fingerprint as fp

    sc = tiny_scenario.model_dump(mode="json")
    key = run_key(sc, 0)
    assert run_key(sc, 0) == key
    assert run_key({**sc, "seed": sc["seed"] + 1}, 0) != key
    assert run_key(sc, 1) != key
    # A cached OpenStreetMap county: its files' names, sizes and times are hashed.
    county = tmp_path / "cache" / "osm" / "140821"
    county.mkdir(parents=True)
    (county / "meta.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("RURALSIM_CACHE", str(tmp_path / "cache"))
    with_osm = run_key(sc, 0)
    assert with_osm != key
    (county / "edges.parquet").write_bytes(b"x")
    assert run_key(sc, 0) != with_osm
    synthetic = {**sc, "region": {**sc["region"], "road_network": "synthetic"}}
    assert fp.geodata_hash(synthetic) == "synthetic"
    monkeypatch.delenv("RURALSIM_CACHE")
    # Changed code: the same sweep reruns every run and says so.
    monkeypatch.setattr(fp, "code_hash", lambda: "changed")
    assert run_key(sc, 0) != key
    sweep = _copy(done, "sweep", tmp_path)
    args = ["sweep", str(done["sweep_file"]), "--out", str(sweep), "--backend", "serial"]
    assert main([*args, "--quiet"]) == 0
    assert "0 runs reused" in capsys.readouterr().out
    assert set(pd.read_csv(sweep / "runs.csv")["status"]) == {"run"}


def test_code_hash_covers_every_source_file():
    import sim._fingerprint as fp

    assert fp.code_hash() is fp.code_hash()  # read once per process
    assert len(fp.code_hash()) == 16


# --------------------------------------------------------------- 7: workers die with the parent

SLOW = """base: {base}
design: grid
replications: 1
factors:
  - path: demand.inbound.parcels_per_village_per_day
    values: [{values}]
"""


def _running(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_the_sweep(sig, tmp_path, tiny_path):
    text = SLOW.format(base=tiny_path.resolve(), values=", ".join(str(v) for v in range(5, 65)))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(text, encoding="utf-8")
    cmd = [sys.executable, "-m", "sim.cli", "sweep", str(sweep), "--out", str(tmp_path / "o")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*cmd, "--workers", "2", "--quiet"], env=env, stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    try:
        deadline = time.monotonic() + 30
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [
                c for c in parent.children() if "resource_tracker" not in " ".join(c.cmdline())
            ]
            time.sleep(0.1)
        assert len(workers) >= 2, "the sweep started no workers"
        assert not (tmp_path / "o" / "results.parquet").exists()
        proc.send_signal(sig)
        proc.wait(timeout=10)
        _, alive = psutil.wait_procs(workers, timeout=5)
        alive = [p for p in alive if _running(p)]
        assert not alive, f"workers still running after {sig!r}: {alive}"
    finally:
        for p in parent.children(recursive=True) if parent.is_running() else []:
            p.kill()
        proc.kill()
        proc.wait()
