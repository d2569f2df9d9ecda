"""``ruralsim site`` (spopt siting) and ``--overlay``, on 大宁县 (5 townships, 64 villages).

Each question returns an overlay that validates; ``cover`` puts every village within the radius
on the matrix; ``pmedian`` places exactly P; an impossible radius, a bad overlay field: exit 2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim import _overlay, _yaml
from sim.cli import main
from sim.site import overlay, reach, site_county, village_matrix

SMALL = "141030"  # 大宁县: 64 villages, so every model solves in well under a second


@pytest.fixture(scope="module")
def small_path(tmp_path_factory, tiny_path) -> Path:
    """The tiny scenario moved to 大宁县, with the village kinds given per village."""
    path = tmp_path_factory.mktemp("site") / "small.yaml"
    text = tiny_path.read_text(encoding="utf-8").replace('county: "140821"', f'county: "{SMALL}"')
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_world(small_path) -> sim.World:
    return sim.build(sim.load_scenario(small_path))


def _site(path: Path, out: Path, *args: str) -> int:
    return main(["site", str(path), *args, "--out", str(out)])


@pytest.mark.parametrize(
    "args",
    [
        ["--question", "cover", "--radius-km", "4"],
        ["--question", "pmedian", "--count", "6"],
        ["--question", "mclp", "--count", "5", "--radius-km", "4", "--kind", "locker"],
    ],
)
def test_each_question_writes_an_overlay_that_validates(small_path, tmp_path, capsys, args):
    out = tmp_path / "overlay.yaml"
    assert _site(small_path, out, *args) == 0
    printed = capsys.readouterr().out
    assert "within" in printed and "->" in printed and f"overlay: {out}" in printed
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Scenario overlay") and "solver status optimal" in text
    codes = yaml.safe_load(text)["facilities"]["village_points"]["villages"]
    scenario = sim.load_scenario(small_path, overlays=[out])
    assert scenario.facilities.village_points.villages == codes
    assert all(c.startswith(SMALL) for c in codes) and codes == sorted(set(codes))
    if "--kind" in args:
        assert set(scenario.facilities.village_points.kinds) == set(codes)
        assert set(scenario.facilities.village_points.kinds.values()) == {"locker"}
    assert main(["validate", str(small_path), "--overlay", str(out)]) == 0


def test_cover_puts_every_village_within_the_radius(small_world):
    county = small_world.counties[0]
    s = site_county(county, question="cover", radius_km=4.0)
    km, _ = village_matrix(county)
    chosen = np.isin(county.village_codes, s.village_codes)
    assert (km[:, chosen].min(axis=1) <= 4.0).all()
    assert s.after[:2] == (1.0, 1.0) and s.objective == chosen.sum() < county.n_villages
    # A larger radius never needs more points.
    assert len(site_county(county, question="cover", radius_km=8.0).village_codes) <= chosen.sum()


def test_pmedian_places_exactly_p_and_beats_any_single_swap(small_world):
    county = small_world.counties[0]
    s = site_county(county, question="pmedian", radius_km=5.0, count=6)
    assert len(s.village_codes) == 6
    km, weight = village_matrix(county)
    chosen = np.isin(county.village_codes, s.village_codes)
    cost = float(weight @ km[:, chosen].min(axis=1))
    assert cost == pytest.approx(s.objective, rel=1e-6)
    assert reach(km, weight, chosen, 5.0)[2] == pytest.approx(s.mean_km_after)
    rng = np.random.default_rng(0)
    for _ in range(20):  # an exact optimum: no swap of one point for another is better
        swap = chosen.copy()
        swap[rng.choice(np.flatnonzero(chosen))] = False
        swap[rng.choice(np.flatnonzero(~chosen))] = True
        assert float(weight @ km[:, swap].min(axis=1)) >= cost - 1e-6


def test_mclp_covers_the_parcels_it_says(small_world):
    county = small_world.counties[0]
    s = site_county(county, question="mclp", radius_km=4.0, count=3)
    km, weight = village_matrix(county)
    chosen = np.isin(county.village_codes, s.village_codes)
    assert chosen.sum() == 3
    assert float(weight[km[:, chosen].min(axis=1) <= 4.0].sum()) == pytest.approx(s.objective)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--question", "cover", "--radius-km", "1", "--count", "3"], "impossible"),
        (["--question", "cover", "--radius-km", "0"], "--radius-km: got 0"),
        (["--question", "pmedian"], "needs --count"),
        (["--question", "mclp", "--count", "999"], "--count: got 999"),
        (["--question", "cover", "--county", "140821"], "'140821' is not in the scenario"),
    ],
)
def test_impossible_questions_exit_2_with_a_clear_message(
    small_path, tmp_path, capsys, args, words
):
    out = tmp_path / "overlay.yaml"
    assert _site(small_path, out, *args) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not out.exists()


def test_overlay_merges_lists_replace_and_keys_match_as_text(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(
        "a:\n  b: [1, 2, 3]\n  kinds:\n    140821100200: locker\n  keep: 1\n", encoding="utf-8"
    )
    over = tmp_path / "over.yaml"
    over.write_text('a:\n  b: [9]\n  kinds:\n    "140821100200": door\n', encoding="utf-8")
    data, lines = _yaml.load_with_lines(base)
    layers = [(over, *_yaml.load_with_lines(over))]
    merged, where = _overlay.merge(data, lines, layers)
    assert merged == {"a": {"b": [9], "kinds": {"140821100200": "door"}, "keep": 1}}
    assert data["a"]["b"] == [1, 2, 3]  # the input is not changed
    assert where.file_of(("a", "b", 0)) == str(over) and where.find(("a", "b", 0)) == (2, 7)
    assert where.file_of(("a", "keep")) is None and where.find(("a", "keep")) == (5, 3)
    assert where.find(("a", "b", 2)) == (2, 3)  # the base's third item is gone: the list


def test_bad_overlay_field_exits_2_naming_the_overlay(small_path, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("facilities:\n  village_points:\n    villagez: []\n", encoding="utf-8")
    assert main(["validate", str(small_path), "--overlay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ruralsim: error: {bad}:3: facilities.village_points.villagez")
    assert "did you mean 'villages'" in err and "Traceback" not in err
    code = tmp_path / "code.yaml"  # a village of another county: checked against the region
    code.write_text('facilities:\n  village_points:\n    villages: ["140821100200"]\n')
    assert main(["run", str(small_path), "--overlay", str(code), "--out", str(tmp_path / "r")]) == 2
    assert f"{code}:3: facilities.village_points.villages.0" in capsys.readouterr().err


def test_the_sited_overlay_runs_and_the_simulation_says_what_it_achieves(small_path, tmp_path):
    out = tmp_path / "overlay.yaml"
    assert _site(small_path, out, "--question", "pmedian", "--count", "8") == 0
    common = ["--no-figures", "--quiet", "--parcels", "none", "--replications", "1"]
    assert main(["run", str(small_path), "--out", str(tmp_path / "base"), *common]) == 0
    argv = ["run", str(small_path), "--overlay", str(out), "--out", str(tmp_path / "sited")]
    assert main([*argv, *common]) == 0

    def coverage(run: str) -> float:
        s = pd.read_csv(tmp_path / run / "kpis_summary.csv")
        row = s[(s["scope"] == "county") & (s["kpi"] == "village_express_coverage")]
        return float(row["mean"].iloc[0])

    resolved = yaml.safe_load((tmp_path / "sited" / "scenario.resolved.yaml").read_text())
    assert len(resolved["facilities"]["village_points"]["villages"]) == 8
    # A village is covered only with a point of its own: 8 of 64 at most.
    assert coverage("sited") <= 8 / 64 + 1e-9 < coverage("base")


def test_overlay_keeps_the_points_of_counties_not_sited(small_world):
    county = small_world.counties[0]
    s = site_county(county, question="mclp", radius_km=4.0, count=2)
    assert overlay(small_world, [])["facilities"] == {
        "village_points": {"villages": sorted(str(c) for c in county.village_codes)}
    }
    assert overlay(small_world, [s], kind="partner_outlet")["facilities"]["village_points"] == {
        "villages": list(s.village_codes),
        "kinds": dict.fromkeys(s.village_codes, "partner_outlet"),
    }
