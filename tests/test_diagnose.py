"""sim.diagnose: the sentences that say where a run's parcels were held up."""

from __future__ import annotations

import pandas as pd

from sim.diagnose import explain


def _summary(values: dict[str, float], *, code: str = "141023", name: str = "襄汾县"):
    return pd.DataFrame(
        [
            {"scope": "county", "code": code, "name": name, "kpi": k, "mean": v}
            for k, v in values.items()
        ]
    )


def _coverage(rows: list[tuple]) -> pd.DataFrame:
    cols = ["level", "code", "name", "covered", "reason", "stage", "p95_lead_h", "why"]
    return pd.DataFrame(rows, columns=cols)


HEALTHY = {
    "parcels_created": 14_000.0,
    "lead_unresolved_share": 0.0,
    "backlog_county_centre_unsorted": 70.0,
    "backlog_county_centre_sorted": 140.0,
    "sorter_utilisation": 0.6,
    "loops_not_driven": 0.0,
    "locker_overflows": 0.0,
    "overtime_h": 0.0,
}


def test_a_healthy_run_has_nothing_to_explain():
    cov = _coverage([("village", "1", "甲村", True, "covered", "", 30.0, "")])
    assert explain(_summary(HEALTHY), cov, days=14) == []


def test_a_sorting_collapse_names_sorting_and_the_field():
    values = HEALTHY | {
        "backlog_county_centre_unsorted": 19_000.0,
        "sorter_utilisation": 1.0,
        "lead_unresolved_share": 0.4,
    }
    cov = _coverage(
        [
            ("village", "1", "甲村", False, "lead_time_too_long", "sorting", 150.0, ""),
            (
                "county",
                "141023",
                "襄汾县",
                False,
                "sorting_too_slow",
                "sorting",
                150.0,
                "p95 sort wait 132.6 h > 12 h",
            ),
        ]
    )
    lines = explain(_summary(values), cov, days=14)
    text = "\n".join(lines)
    assert lines[0].startswith("40% of the parcels")
    assert "Sorting is short: on average 19,000 parcels waited unsorted" in text
    assert "(1900% of a day's 1,000)" in text
    assert "sorting_capacity_per_hour" in text
    assert "Shuttles are short" not in text
    assert "1 of 1 villages are not covered" in text
    assert "waiting longest for sorting at the county centre" in text
    assert "The county centre is not covered (县县有分拨): p95 sort wait 132.6 h > 12 h." in text


def test_loops_lockers_overtime_and_near_misses_are_counted():
    values = HEALTHY | {
        "backlog_county_centre_sorted": 500.0,
        "loops_not_driven": 18.0,
        "locker_overflows": 45.0,
        "overtime_h": 25.9,
    }
    cov = _coverage(
        [
            ("village", "1", "甲村", False, "lead_time_too_long", "loop", 48.6, ""),
            ("village", "2", "乙村", False, "lead_time_too_long", "loop", 52.0, ""),
            ("village", "3", "丙村", False, "too_few_visits", "", 20.0, ""),
            ("village", "4", "丁村", True, "covered", "", 20.0, ""),
        ]
    )
    text = "\n".join(explain(_summary(values), cov, days=14))
    assert "Shuttles are short: on average 500 sorted parcels" in text
    assert "18 village loop runs were not driven" in text
    assert "turned parcels away 45 times" in text
    assert "Drivers worked 26 h beyond their shifts" in text
    assert "3 of 4 villages are not covered: 2 have a 95th-percentile lead time" in text
    assert "1 are visited on too few days a week" in text
    assert "1 of those villages miss the 48 h lead-time standard by under 1 h." in text
    assert "Sorting is short" not in text


def test_a_region_names_its_worst_counties_lowest_first():
    rows = []
    for code, name, share in (("1", "甲县", 0.9), ("2", "乙县", 0.2), ("3", "丙县", 1.0)):
        rows.append(
            {
                "scope": "county",
                "code": code,
                "name": name,
                "kpi": "village_express_coverage",
                "mean": share,
            }
        )
    rows += [
        {"scope": "province", "code": "14", "name": "山西省", "kpi": k, "mean": v}
        for k, v in HEALTHY.items()
    ]
    cov = _coverage([("village", "1", "甲村", True, "covered", "", 30.0, "")])
    text = "\n".join(explain(pd.DataFrame(rows), cov, days=14))
    assert (
        "2 of 3 counties cover fewer than all their villages; "
        "the lowest: 乙县 2 (20%), 甲县 1 (90%)." in text
    )


def test_run_prints_why_under_the_headline(tmp_path, capsys):
    from pathlib import Path

    from sim.cli import main

    stressed = Path(__file__).parent / "data" / "stressed.yaml"
    out = tmp_path / "run"
    argv = ["run", str(stressed), "--out", str(out), "--no-figures", "--set", "replications=1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    why = [line for line in printed.splitlines() if line.startswith("why: ")]
    assert any("village loop runs were not driven" in line for line in why)
    assert any("villages are not covered" in line for line in why)
    assert printed.index("cost_per_parcel_yuan") < printed.index("why: ")


def test_run_lang_zh_names_each_kpi_in_chinese(tmp_path, capsys):
    from pathlib import Path

    from sim.cli import main

    tiny = Path(__file__).parent / "data" / "tiny.yaml"
    argv = ["run", str(tiny), "--out", str(tmp_path / "r"), "--no-figures", "--lang", "zh"]
    assert main(argv) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    assert rows["village_express_coverage"].endswith("村村通快递")
    assert rows["cost_per_parcel_yuan"].endswith("单件成本")
