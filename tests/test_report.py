"""ruralsim report: one self-contained, escaped, bilingual report.html; the sweep figures."""

from __future__ import annotations

import base64
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.labels import labels
from sim.report._format import clip_ci, interval, number
from sim.report._run import (
    RunFolderData,
    county_ranking,
    margin,
    stage_hours,
    township_ranking,
    uncovered_rows,
)
from sim.scenario import Kpi
from sim.sweep import run_sweep
from sim.viz import pareto_front

EVIL = "<script>alert(1)</script>"


class _Links(HTMLParser):
    """Every src/href of a page, and the tags seen (script contents are not parsed)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data):
        if self.tags and self.tags[-1] not in ("script", "style"):
            self.text.append(data)


def _parse(page: str) -> _Links:
    p = _Links()
    p.feed(page)
    return p


@pytest.fixture(scope="module")
def folders(tmp_path_factory, tiny_path) -> dict[str, Path]:
    """A run folder (no figures) and a Sobol sweep folder of the tiny scenario."""
    root = tmp_path_factory.mktemp("report")
    run = root / "run"
    assert main(["run", str(tiny_path), "--out", str(run), "--quiet", "--no-figures"]) == 0
    sweep = root / "sweep.yaml"
    sweep.write_text(
        f"base: {tiny_path.resolve()}\ndesign: sobol\nsamples: 2\nreplications: 2\n"
        "overrides: {horizon_days: 2, warmup_days: 1}\nfactors:\n"
        "  - {path: demand.inbound.parcels_per_village_per_day, low: 2, high: 6}\n"
        "  - {path: fleet.county_centre.van, low: 1, high: 3, integer: true}\n",
        encoding="utf-8",
    )
    run_sweep(sweep, root / "sweep", backend="serial")
    return {"run": run, "sweep": root / "sweep"}


def _copy(folders: dict[str, Path], kind: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folders[kind], tmp_path / kind))


def _report(folder: Path, *args: str) -> str:
    assert main(["report", str(folder), *args]) == 0
    return (folder / "report.html").read_text(encoding="utf-8")


def test_pareto_front_keeps_undominated_variants():
    cost = np.array([1.0, 2.0, 1.5, 3.0, 2.5])
    coverage = np.array([0.2, 0.8, 0.1, 0.9, 0.7])
    assert sorted(pareto_front(cost, coverage)) == [0, 1, 3]


def test_run_report_is_one_self_contained_page(folders, tmp_path):
    run = _copy(folders, "run", tmp_path)
    page = _report(run)
    parsed = _parse(page)
    assert "script" in parsed.tags and "table" in parsed.tags
    assert all(v.startswith(("data:", "#")) for v in parsed.links), parsed.links
    assert "link" not in parsed.tags and "iframe" not in parsed.tags
    assert "figures/" not in " ".join(parsed.links)
    outside_scripts = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    assert not re.search(r"https?://", outside_scripts)
    text = " ".join(parsed.text)
    for heading in ("Headline KPIs", "Coverage map", "Ranking: worst first", "Where parcels wait"):
        assert heading in text
    # The tiny run leaves villages uncovered: the page says why, as `run` prints it.
    assert "Why it falls short" in text
    assert re.search(r"\d+ of \d+ villages are not covered: ", text)
    assert "Bokeh" in page and page.count('data-root-id="') >= 3  # map, stages, lead times
    doc = page[page.rindex("const docs_json") :]  # the charts' JSON
    assert "SYNTHETIC roads, township points, village points" in doc  # a label on the map
    assert not (run / "figures").exists()  # nothing but the page is written
    # Human numbers: a thousands separator, shares in %, no exponent, intervals within 0-100 %.
    assert "e+0" not in text and "%" in text
    assert not re.search(r"(?<![\w.])-[0-9]", text)  # no negative bound of an interval


def test_no_synthetic_mark_when_every_layer_is_real(folders, tmp_path):
    run = _copy(folders, "run", tmp_path)
    meta = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    (run / "manifest.json").write_text(json.dumps({**meta, "synthetic_layers": []}))
    page = _report(run)
    assert "SYNTHETIC" not in page and "synthetic layers: none" in page


def test_shares_are_clipped_and_numbers_readable():
    assert clip_ci(-0.48, 1.34, "share") == (0.0, 1.0)
    assert clip_ci(-64.0, 190.0, "count") == (0.0, 190.0)
    assert interval(-0.479, 1.336, "share") == "0.0 – 100.0 %"
    assert interval(float("nan"), 1.0, "share") == "–"
    assert number(119200.0, "count") == "119,200"
    assert number(0.829, "share") == "82.9 %"
    assert number(47.2988, "hours") == "47.3"
    assert number(8.6487, "yuan") == "8.65"


def test_every_value_is_escaped_in_the_page_and_the_charts(folders, tmp_path):
    run = _copy(folders, "run", tmp_path)
    meta = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    meta.update(scenario=EVIL, region=EVIL)
    (run / "manifest.json").write_text(json.dumps(meta), encoding="utf-8")
    cov = pd.read_csv(run / "coverage.csv", dtype={"code": str})
    bad = cov.index[(cov["level"] == "village") & ~cov["covered"]][0]
    cov.loc[bad, "name"] = EVIL  # an uncovered village: in the table and on the map
    cov.to_csv(run / "coverage.csv", index=False)
    page = _report(run)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # title, facts and the table
    doc = page[page.rindex("const docs_json") :]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc  # the map's hover data, escaped


def test_lang_zh_shows_chinese_headings(folders, tmp_path):
    run = _copy(folders, "run", tmp_path)
    page = _report(run, "--lang", "zh")
    text = " ".join(_parse(page).text)
    for heading in ("主要指标", "覆盖地图", "排名：最差在前", "未覆盖的村", "包裹在哪里等待"):
        assert heading in text
    assert "村村通快递" in text and "Headline KPIs" not in text
    assert '<html lang="zh">' in page
    assert "合成数据" in page  # the synthetic mark of the map
    assert main(["report", str(run), "--lang", "fr"]) == 2


def _constructed() -> RunFolderData:
    """Two counties, three townships, five villages with known coverage and lead times."""
    summary = pd.DataFrame(
        [
            ("county", "140821", "甲县", "village_express_coverage", 0.9),
            ("county", "140821", "甲县", "township_point_coverage", 1.0),
            ("county", "140821", "甲县", "lead_time_p95_h", 30.0),
            ("county", "140822", "乙县", "village_express_coverage", 0.5),
            ("county", "140822", "乙县", "township_point_coverage", 0.5),
            ("county", "140822", "乙县", "lead_time_p95_h", 20.0),
            ("county", "140823", "丙县", "village_express_coverage", 0.5),
            ("county", "140823", "丙县", "township_point_coverage", 1.0),
            ("county", "140823", "丙县", "lead_time_p95_h", 40.0),
        ],
        columns=["scope", "code", "name", "kpi", "mean"],
    ).assign(ci95_low=np.nan, ci95_high=np.nan)
    rows = [
        ("township", "140821100", "好镇", True, "covered", "", 7.0, 10.0, "covered"),
        ("township", "140821101", "慢镇", False, "lead_time_too_long", "shuttle", 7.0, 30.0, ""),
        ("township", "140821102", "差镇", True, "covered", "", 7.0, 12.0, "covered"),
        ("village", "140821100001", "好村", True, "covered", "", 7.0, 20.0, "covered"),
        ("village", "140821101001", "慢村", False, "lead_time_too_long", "shuttle", 7, 48.6, ""),
        ("village", "140821101002", "快村", True, "covered", "", 7.0, 40.0, "covered"),
        ("village", "140821102001", "少村", False, "too_few_visits", "", 3.5, 30.0, ""),
        (
            "village",
            "140821102002",
            "远村",
            False,
            "no_point",
            "",
            np.nan,
            np.nan,
            "no service point; township point 3.2 km away (reachable)",
        ),
        ("county", "140821", "甲县", False, "townships_not_covered", "shuttle", np.nan, 30, ""),
    ]
    cols = ["level", "code", "name", "covered", "reason", "stage", "visits_per_week"]
    coverage = pd.DataFrame(rows, columns=[*cols, "p95_lead_h", "why"])
    return RunFolderData(
        folder=Path("."),
        meta={"counties": [{}, {}, {}]},
        summary=summary,
        coverage=coverage,
        facilities=pd.DataFrame(),
        trips=pd.DataFrame(),
        limits=Kpi(),
        window_min=(0.0, 1440.0),
        worst_week=pd.Series({"140821102001": 3.0}),
    )


def test_ranking_is_worst_first():
    data, words = _constructed(), labels("en")
    counties = [r["name"] for r in county_ranking(data, words)]
    assert counties == ["丙县", "乙县", "甲县"]  # 50 % (p95 40 h), 50 % (20 h), 90 %
    towns, total = township_ranking(data, words)
    assert total == 3
    assert [r["name"] for r in towns] == ["差镇", "慢镇", "好镇"]  # 0 %, 50 %, 100 % villages
    assert towns[0]["villages"] == "0 / 2 (0.0 %)" and towns[1]["point"] == "lead time too long"


def test_margins_on_a_constructed_case():
    data = _constructed()
    rows, total = uncovered_rows(data, labels("en"))
    assert total == 3
    by_name = {r["name"]: r for r in rows}
    assert by_name["慢村"]["margin"] == "misses 48 h by 0.6 h; waits longest at shuttle"
    assert by_name["少村"]["margin"] == "3 visits a week < 5"  # the worst week, not the mean
    assert by_name["远村"]["margin"] == "township point 3.2 km away (reachable)"
    assert by_name["远村"]["reason"] == "no service point"
    zh = {r["name"]: r for r in uncovered_rows(data, labels("zh"))[0]}
    assert zh["慢村"]["margin"] == "超出 48 小时标准 0.6 小时；在干线班车等待最久"
    assert zh["少村"]["margin"] == "每周 3 次 < 5"
    row = {"reason": "lead_time_too_long", "stage": "loop", "p95_lead_h": np.nan}
    assert "unknown" in margin(row, Kpi(), np.nan, labels("en"))


def test_stage_hours_of_constructed_parcels():
    h = 60.0
    parcels = pd.DataFrame(
        {
            "direction": ["inbound", "inbound", "inbound", "outbound"],
            "t_created": [0.0, 0.0, 2000.0, 0.0],  # the third is created after the window
            "t_sorted": [1 * h, 2 * h, 2000.0, 0.0],
            "t_township": [5 * h, np.nan, 2000.0, 0.0],  # the second went by bus
            "t_loop_depart": [6 * h, np.nan, 2000.0, 0.0],
            "t_point": [8 * h, 10 * h, 2100.0, 1.0],
            "t_picked_up": [9 * h, np.nan, np.nan, np.nan],
        }
    )
    s = stage_hours(parcels, (0.0, 1440.0)).set_index("stage")
    assert list(s.index) == ["sorting", "shuttle", "township_point", "loop", "pickup"]
    assert s.loc["sorting", "mean"] == pytest.approx(1.5)
    assert s.loc["shuttle", "mean"] == pytest.approx((4 + 8) / 2)  # the bus ride counts as one
    assert s.loc["township_point", "mean"] == pytest.approx(0.5)
    assert s.loc["loop", "mean"] == pytest.approx(1.0)
    assert s.loc["pickup", "n"] == 1 and s.loc["pickup", "mean"] == pytest.approx(1.0)


def test_sweep_report_has_the_labelled_pareto_front(folders, tmp_path, capsys):
    sweep = _copy(folders, "sweep", tmp_path)
    page = _report(sweep)
    parsed = _parse(page)
    assert all(v.startswith(("data:", "#")) for v in parsed.links)
    text = " ".join(parsed.text)
    assert "Cost and coverage" in text and "Sensitivity: Villages covered" in text
    design = pd.read_csv(sweep / "design.csv")
    first = design.iloc[0]
    label = (
        f"parcels_per_village_per_day={first['demand.inbound.parcels_per_village_per_day']:.4g}, "
        f"van={int(first['fleet.county_centre.van'])}"
    )
    assert label in page  # the variant's factor values label its point (Bokeh's JSON)
    assert '"Whisker"' in page  # 95% intervals on both axes
    assert not (sweep / "figures").exists()
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a run folder" in capsys.readouterr().err


def test_a_run_without_parcels_inlines_its_own_chart(tiny_path, tmp_path):
    run = tmp_path / "run"
    assert main(["run", str(tiny_path), "--out", str(run), "--quiet", "--parcels", "none"]) == 0
    page = _report(run)
    images = [v for v in _parse(page).links if v.startswith("data:image/png;base64,")]
    assert len(images) == 1  # the run's lead-time chart, inline
    png = (run / "figures" / "lead_times.png").read_bytes()
    assert base64.b64decode(images[0].split(",", 1)[1]) == png
    assert "parcels: none" in page  # the stages say why they are missing
