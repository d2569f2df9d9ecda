"""Output folders: no command replaces what it does not own, and killed runs leave nothing lost.

Every refusal exits with status 2, one message naming the path, no traceback, and leaves the
files around it exactly as they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main
from sim.outdir import RUN_MARKER, SWEEP_MARKER, run_folder_problem

ROOT = Path(__file__).parent.parent
FAST = ["--quiet", "--no-figures"]
SWEEP = """base: {base}
design: grid
replications: 1
overrides: {{horizon_days: 2, warmup_days: 1}}
factors:
  - {{path: fleet.county_centre.van, values: [1]}}
"""


def _tree(root: Path) -> dict[str, str]:
    """Every entry below ``root`` with its kind and, for files, a hash of the bytes."""
    out = {}
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _refused(capsys, argv: list[str], path: str, area: Path) -> str:
    """Run ``argv``: exit 2, one message naming ``path``, and nothing in ``area`` changed."""
    before = _tree(area)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [s for s in err.splitlines() if not s.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("ruralsim: error:"), err
    assert path in lines[0], err
    assert _tree(area) == before
    return lines[0]


def _run(tiny_path: Path, out: Path | str, *extra: str) -> list[str]:
    return ["run", str(tiny_path), "--out", str(out), *FAST, "--overwrite", *extra]


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def earlier(tmp_path_factory, tiny_path) -> Path:
    """A complete run folder (with figures), made once; tests copy it."""
    out = tmp_path_factory.mktemp("earlier") / "run"
    assert main(["run", str(tiny_path), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture
def area(tmp_path) -> Path:
    (tmp_path / "area").mkdir()
    return tmp_path / "area"


# -- 1. a run replaces only a complete earlier run ------------------------------------------


def test_manifest_alone_is_not_a_run_folder(tiny_path, area, capsys):
    d = area / "d"
    d.mkdir()
    (d / "manifest.json").write_text("{}\n")
    (d / "thesis.txt").write_text("x\n")
    msg = _refused(capsys, _run(tiny_path, d), str(d), area)
    assert RUN_MARKER in msg and "thesis.txt" in msg and "nothing was changed" in msg


def _spoil(folder: Path, how: str) -> None:
    if how == "extra file":
        (folder / "thesis.txt").write_text("mine")
    elif how == "changed table":
        with open(folder / "kpis.csv", "a") as f:
            f.write("edited by hand\n")
    elif how == "missing table":
        (folder / "coverage.csv").unlink()
    elif how == "no marker":
        (folder / RUN_MARKER).unlink()
    elif how == "bad marker":
        (folder / RUN_MARKER).write_text("{not json")
    elif how == "marker of a sweep":
        (folder / RUN_MARKER).write_text('{"kind": "sweep", "files": {}}')
    elif how == "extra folder":
        (folder / "notes").mkdir()
    elif how == "text in figures":
        (folder / "figures" / "notes.txt").write_text("mine")
    elif how == "link inside":
        (folder / "data").symlink_to("/etc")
    elif how == "sweep marker":
        (folder / SWEEP_MARKER).write_text('{"kind": "sweep"}')


@pytest.mark.parametrize(
    "how",
    [
        "extra file",
        "changed table",
        "missing table",
        "no marker",
        "bad marker",
        "marker of a sweep",
        "extra folder",
        "text in figures",
        "link inside",
        "sweep marker",
    ],
)
def test_refuses_folder_that_is_not_provably_a_complete_run(earlier, tiny_path, area, how, capsys):
    out = area / "run"
    shutil.copytree(earlier, out, symlinks=True)
    _spoil(out, how)
    _refused(capsys, _run(tiny_path, out), str(out), area)


def test_replaces_complete_run_with_report_files(earlier, tiny_path, area, capsys):
    out = area / "run"
    shutil.copytree(earlier, out)
    (out / "report.html").write_text("<html></html>")
    (out / "figures" / "pareto.png").write_bytes(b"\x89PNG")
    (out / "figures" / "county_map.png").write_bytes(b"\x89PNG redrawn by report")
    assert run_folder_problem(out) is None
    assert main(_run(tiny_path, out, "--seed", "3")) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 3
    assert not (out / "report.html").exists() and not (out / "figures").exists()
    assert run_folder_problem(out) is None
    assert [p.name for p in area.iterdir()] == ["run"]


def test_marker_is_the_last_file_and_lists_every_other_file(earlier):
    listed = json.loads((earlier / RUN_MARKER).read_text())["files"]
    on_disk = {
        p.relative_to(earlier).as_posix(): p.stat().st_size
        for p in earlier.rglob("*")
        if p.is_file() and p.name != RUN_MARKER
    }
    assert listed == on_disk and "figures/county_map.png" in listed


# -- 2. leftovers of a killed run ------------------------------------------------------------


def _tidied(capsys) -> str:
    err = capsys.readouterr().err
    notes = [s for s in err.splitlines() if "interrupted ruralsim" in s]
    assert len(notes) == 1, err
    return notes[0]


@pytest.mark.parametrize("command", ["run", "sweep", "report", "compare"])
def test_restores_earlier_run_of_a_dead_process(earlier, tiny_path, area, command, capsys):
    out = area / "run"
    old = area / f".run.old-{_dead_pid()}"
    shutil.copytree(earlier, old)
    sweep = area / "sweep.yaml"
    sweep.write_text(SWEEP.format(base=tiny_path.resolve()))
    argv = {
        "run": _run(tiny_path, out),
        "sweep": ["sweep", str(sweep), "--out", str(out), "--quiet", "--backend", "serial"],
        "report": ["report", str(out)],
        "compare": ["compare", str(out), str(earlier)],
    }[command]
    status = main(argv)
    err = capsys.readouterr().err
    assert "restored the earlier run" in err and str(out) in err, err
    assert status == (2 if command == "sweep" else 0), err
    if command == "sweep":
        assert "is a run folder" in err
    assert not old.exists() and run_folder_problem(out) is None
    assert sorted(p.name for p in area.iterdir()) == ["run", "sweep.yaml"]


def test_removes_dead_temporary_folders_and_keeps_live_ones(earlier, tiny_path, area, capsys):
    out = area / "run"
    shutil.copytree(earlier, out)
    dead = _dead_pid()
    shutil.copytree(earlier, area / f".run.tmp-{dead}")
    shutil.copytree(earlier, area / f".run.old-{dead}")  # replaced, not yet removed
    live = area / f".run.tmp-{os.getpid()}"  # this process, alive
    live_old = area / ".run.old-1"  # init, alive
    for p in (live, live_old):
        p.mkdir()
        (p / "x").write_text("x")
    assert main(["compare", str(out), str(earlier)]) == 0
    note = _tidied(capsys)
    assert f".run.tmp-{dead}" in note and f".run.old-{dead}" in note
    assert sorted(p.name for p in area.iterdir()) == [".run.old-1", live.name, "run"]


def test_live_processes_earlier_run_is_not_restored(earlier, tiny_path, area, capsys):
    old = area / ".run.old-1"
    shutil.copytree(earlier, old)
    assert main(_run(tiny_path, area / "run")) == 0
    assert old.exists() and "interrupted" not in capsys.readouterr().err


_KILLABLE = """
import os, pathlib, sys, time
point = sys.argv[1]

def pause():
    print("PAUSED", flush=True)
    time.sleep(60)

import sim.outdir, sim.runfolder
if point == "writing":
    sim.runfolder.write_run_marker = lambda folder: pause()
elif point == "between":
    rename = pathlib.Path.rename
    def paused_rename(self, target):
        result = rename(self, target)
        if ".old-" in str(target):
            pause()
        return result
    pathlib.Path.rename = paused_rename
elif point == "removing":
    sim.outdir.remove_tree = lambda path: pause()
from sim.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize(
    "point, leftovers",
    [("writing", ["tmp"]), ("between", ["old", "tmp"]), ("removing", ["old"])],
)
def test_sigkill_at_any_point_loses_nothing(earlier, tiny_path, area, point, leftovers, capsys):
    out = area / "run"
    shutil.copytree(earlier, out)
    before = _tree(earlier)
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE, point, *_run(tiny_path, out, "--seed", "5")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "PAUSED"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = sorted(p.name for p in area.iterdir() if p.name != "run")
    assert left == [f".run.{kind}-{proc.pid}" for kind in leftovers]
    assert out.exists() == (point != "between")
    # The next command on the folder tidies up and sees a complete run.
    assert main(["compare", str(out), str(earlier)]) == 0
    note = _tidied(capsys)
    assert str(out) in note
    assert [p.name for p in area.iterdir()] == ["run"]
    assert run_folder_problem(out) is None
    seed = json.loads((out / "manifest.json").read_text())["seed"]
    if point == "removing":
        assert seed == 5  # the new run had been moved into place
    else:
        assert _tree(out) == before  # the earlier run, whole


# -- 3. what happened when the earlier run cannot be removed ---------------------------------


def test_symlink_out_is_refused(earlier, tiny_path, area, capsys):
    run = area / "run"
    shutil.copytree(earlier, run)
    for name, target in (("link", run), ("dangling", area / "nowhere")):
        link = area / name
        link.symlink_to(target)
        for given in (str(link), f"{link}/"):
            msg = _refused(capsys, _run(tiny_path, given), given, area)
            assert "symbolic link" in msg


def test_old_run_that_cannot_be_removed_is_reported_where_it_is(
    earlier, tiny_path, area, capsys, monkeypatch
):
    out = area / "run"
    shutil.copytree(earlier, out)

    def read_only(path: Path) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("sim.outdir.remove_tree", read_only)
    assert main(_run(tiny_path, out, "--seed", "4")) == 2
    err = capsys.readouterr().err
    old = area / f".run.old-{os.getpid()}"
    assert "Traceback" not in err and "nothing was changed" not in err
    assert f"the new run is at {out}" in err and str(old) in err and "Permission denied" in err
    assert json.loads((out / "manifest.json").read_text())["seed"] == 4
    assert _tree(old) == _tree(earlier)


def test_new_run_that_cannot_be_moved_in_puts_the_earlier_back(
    earlier, tiny_path, area, capsys, monkeypatch
):
    out = area / "run"
    shutil.copytree(earlier, out)
    rename = pathlib.Path.rename

    def failing(self, target):
        if ".tmp-" in self.name:
            raise OSError(28, "No space left on device")
        return rename(self, target)

    monkeypatch.setattr(pathlib.Path, "rename", failing)
    assert main(_run(tiny_path, out, "--seed", "4")) == 2
    err = capsys.readouterr().err
    assert "back where it was" in err and str(out) in err and "Traceback" not in err
    assert _tree(out) == _tree(earlier)
    assert [p.name for p in area.iterdir()] == ["run"]


# -- 4. sweep --out follows the same rule -----------------------------------------------------


@pytest.fixture
def sweep_file(area, tiny_path) -> Path:
    path = area / "sweep.yaml"
    path.write_text(SWEEP.format(base=tiny_path.resolve()))
    return path


def _sweep(sweep_file: Path, out: Path | str) -> list[str]:
    return ["sweep", str(sweep_file), "--out", str(out), "--quiet", "--backend", "serial"]


def test_sweep_refuses_user_folder_and_run_folder(earlier, sweep_file, area, capsys):
    mine = area / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("x")
    assert SWEEP_MARKER in _refused(capsys, _sweep(sweep_file, mine), str(mine), area)
    run = area / "run"
    shutil.copytree(earlier, run)
    assert "is a run folder" in _refused(capsys, _sweep(sweep_file, run), str(run), area)


def test_sweep_starts_in_empty_folder_and_resumes_its_own(sweep_file, area, tiny_path, capsys):
    out = area / "sweep"
    out.mkdir()
    assert main(_sweep(sweep_file, out)) == 0
    assert (out / SWEEP_MARKER).is_file() and (out / "results.parquet").is_file()
    assert main(_sweep(sweep_file, out)) == 0
    assert "1 runs reused from an earlier sweep" in capsys.readouterr().out
    msg = _refused(capsys, _run(tiny_path, out), str(out), area)
    assert "sweep folder" in msg


def test_sweep_removes_half_written_files_of_a_killed_sweep(sweep_file, area, capsys):
    out = area / "sweep"
    assert main(_sweep(sweep_file, out)) == 0
    dead = out / "runs" / f"abc.parquet.tmp-{_dead_pid()}"
    live = out / "summary.csv.tmp-1"  # init, alive
    dead.write_bytes(b"half")
    live.write_bytes(b"being written")
    capsys.readouterr()
    assert main(_sweep(sweep_file, out)) == 0
    assert f"removed runs/{dead.name}" in _tidied(capsys)
    assert not dead.exists() and live.exists()


def test_sweep_with_bad_file_creates_nothing(tiny_path, area, capsys):
    bad = area / "bad.yaml"
    bad.write_text(SWEEP.format(base=tiny_path.resolve()).replace("grid", "gird"))
    _refused(capsys, _sweep(bad, area / "new" / "sweep"), str(bad), area)


# -- 5. the path is checked before anything is built -----------------------------------------


def test_invalid_scenario_creates_no_parent_folders(tiny_path, area, capsys):
    bad = area / "bad.yaml"
    bad.write_text(tiny_path.read_text().replace("horizon_days: 3", "horizon_days: -3"))
    _refused(capsys, _run(bad, area / "a" / "b" / "run"), str(bad), area)


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda a: "", "path is empty"),
        (lambda a: str(a / ("n" * 256)), "bytes"),
        (lambda a: str(a / ("n" * 250)), "temporary folder"),
        (lambda a: str(a / "file.txt" / "run"), "is a file"),
        (lambda a: str(a / "file.txt"), "not a folder"),
    ],
)
def test_bad_out_path_is_refused_before_building(area, make, needle, capsys):
    (area / "file.txt").write_text("keep")
    out = make(area)
    # The scenario does not exist: a message about --out proves the path is checked first.
    msg = _refused(capsys, ["run", "no/such.yaml", "--out", out, *FAST], "--out", area)
    assert needle in msg


def test_parent_that_is_not_writable_is_refused(area, capsys, monkeypatch):
    monkeypatch.setattr("sim.outdir._writable", lambda folder: False)
    out = area / "x" / "run"
    msg = _refused(capsys, ["run", "no/such.yaml", "--out", str(out), *FAST], str(out), area)
    assert f"{area} is not writable" in msg
