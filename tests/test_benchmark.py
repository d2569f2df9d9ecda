"""The benchmark command runs (figures are measured by hand, never asserted as times)."""

from __future__ import annotations

from sim.benchmark import format_benchmark, run_benchmark
from sim.cli import main


def test_benchmark_runs_with_reference_and_all_options(tiny_path, capsys):
    plain = run_benchmark(tiny_path, days=2, rate=3, reference_days=1)
    assert plain.parcels > 0 and plain.reference_parcels > 0
    assert "speed ratio" in format_benchmark(plain)
    full = run_benchmark(tiny_path, days=2, rate=3, options=True)
    assert full.parcels > plain.parcels  # outbound parcels are added
    assert full.reference_days == 0
    argv = ["benchmark", str(tiny_path), "--days", "2", "--rate", "2", "--reference-days", "0"]
    assert main(argv) == 0
    assert "parcels/s" in capsys.readouterr().out


def test_sweep_benchmark_runs(tiny_path):
    from sim.benchmark import run_sweep_benchmark

    text = run_sweep_benchmark(tiny_path, n_runs=4, days=2, rate=2)
    for label in ("direct calls", "serial", "2 processes", "LocalCluster", "executor overhead"):
        assert label in text
