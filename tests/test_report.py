"""ruralsim report and the sweep figures."""

from __future__ import annotations

import numpy as np

from sim.cli import main
from sim.sweep import run_sweep
from sim.viz import pareto_front


def test_pareto_front_keeps_undominated_variants():
    cost = np.array([1.0, 2.0, 1.5, 3.0, 2.5])
    coverage = np.array([0.2, 0.8, 0.1, 0.9, 0.7])
    assert sorted(pareto_front(cost, coverage)) == [0, 1, 3]


def test_report_for_a_run_and_a_sweep(tiny_path, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", str(tiny_path), "--out", str(run), "--quiet", "--no-figures"]) == 0
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "Headline KPIs" in page and "figures/county_map.png" in page
    assert (run / "figures" / "county_map.png").stat().st_size > 10_000
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        f"base: {tiny_path.resolve()}\ndesign: sobol\nsamples: 2\nreplications: 1\n"
        "overrides: {horizon_days: 2, warmup_days: 1}\nfactors:\n"
        "  - {path: demand.inbound.parcels_per_village_per_day, low: 2, high: 6}\n"
        "  - {path: fleet.county_centre.van, low: 1, high: 3, integer: true}\n",
        encoding="utf-8",
    )
    out = tmp_path / "sweep"
    run_sweep(sweep, out, backend="serial")
    assert main(["report", str(out)]) == 0
    assert (out / "figures" / "pareto.png").exists()
    assert (out / "figures" / "sensitivity_village_express_coverage.png").exists()
    assert "Sensitivity" in (out / "report.html").read_text(encoding="utf-8")
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a run folder" in capsys.readouterr().err
