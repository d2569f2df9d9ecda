"""``ruralsim export RUN_DIR --xlsx``: one workbook of a run folder's tables."""

from __future__ import annotations

import pandas as pd

from sim.cli import main


def test_export_writes_one_workbook_with_names(tmp_path, tiny_path, capsys):
    run = tmp_path / "run"
    assert main(["run", str(tiny_path), "--out", str(run), "--quiet", "--no-figures"]) == 0
    assert main(["export", str(run), "--xlsx"]) == 0
    assert f"wrote {run / 'results.xlsx'}" in capsys.readouterr().out
    book = pd.read_excel(run / "results.xlsx", sheet_name=None, dtype={"code": str})
    assert list(book) == ["summary", "kpis", "coverage", "facilities", "vehicles"]
    coverage = pd.read_csv(run / "coverage.csv", dtype={"code": str})
    assert len(book["coverage"]) == len(coverage)
    assert book["coverage"]["name"].tolist() == coverage["name"].tolist()  # Chinese names
    assert "village" not in set(book["kpis"]["scope"])
    assert set(book["summary"]["scope"]) <= {"province", "county"}
    trips = pd.read_parquet(run / "trips.parquet")
    assert (
        book["vehicles"]["km"].sum() == trips["km"].sum()
        or abs(book["vehicles"]["km"].sum() - trips["km"].sum()) < 1e-6 * trips["km"].sum()
    )
    assert book["vehicles"]["legs"].sum() == len(trips)
    labels = dict(zip(book["summary"]["kpi"], book["summary"]["label"], strict=False))
    assert labels["village_express_coverage"] == "Villages covered"
    other = tmp_path / "book.xlsx"
    argv = ["export", str(run), "--xlsx", "--out", str(other), "--lang", "zh"]
    assert main(argv) == 0 and other.is_file()
    zh = pd.read_excel(other, sheet_name=None, dtype={"code": str})
    labels = dict(zip(zh["summary"]["kpi"], zh["summary"]["label"], strict=False))
    assert labels["village_express_coverage"] == "村村通快递"
    assert list(zh["summary"].columns[:5]) == ["scope", "code", "name", "kpi", "label"]
    reasons = dict(zip(zh["coverage"]["reason"], zh["coverage"]["reason_label"], strict=False))
    assert reasons.get("lead_time_too_long", "时效过长") == "时效过长"


def test_export_refuses_what_is_not_a_run_folder(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--xlsx"]) == 2
    err = capsys.readouterr().err
    assert "not a ruralsim run folder" in err and len(err.strip().splitlines()) == 1
    assert main(["export", str(tmp_path), "--xlsx", "--out", str(tmp_path / "x.csv")]) == 2
    assert not list(tmp_path.iterdir())
