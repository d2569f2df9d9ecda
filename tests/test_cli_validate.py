"""``ruralsim validate``: the fast check against the divisions, and ``--build``."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.cli import main

ROOT = Path(__file__).parent.parent
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


def _validate(capsys, *argv: str) -> list[str]:
    assert main(["validate", *argv]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out.splitlines()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_fast_validate_passes_on_every_shipped_scenario(capsys, path):
    lines = _validate(capsys, str(path))
    assert lines[0].startswith(f"{path}: valid scenario ")
    assert lines[0].endswith(" villages")  # no fleet: it is planned by --build only
    assert "shuttles" not in lines[0]
    assert f"`ruralsim validate --build {path}`" in lines[-1]
    assert all(line.startswith("  warning: ") for line in lines[1:-1])


def test_shipped_scenarios_include_the_province():
    assert {p.name for p in SHIPPED} >= {
        "linyi_baseline.yaml",
        "linxian_mountain.yaml",
        "shanxi_province.yaml",
    }


def test_fast_headline_is_the_build_headline_without_the_fleet(capsys, tiny_path, tiny_world):
    fast = _validate(capsys, str(tiny_path))
    built = _validate(capsys, "--build", str(tiny_path))
    cs = tiny_world.counties
    fleet = (
        f", {sum(len(c.shuttles) for c in cs)} shuttles, "
        f"{sum(len(c.village_vehicles) for c in cs)} village vehicles"
    )
    assert built[0] == fast[0] + fleet
    assert fast[0] == (
        f"{tiny_path}: valid scenario 'tiny' (schema v1): 临猗县 140821, 14 townships, 284 villages"
    )
    # The notes on the scenario as a whole need no roads: both modes print them.
    notes = [f"  warning: {n}" for n in tiny_world.notes]
    assert notes and fast[1:-1] == notes


def test_build_prints_every_build_warning(capsys, tiny_path, tiny_world):
    county_warnings = tiny_world.counties[0].warnings
    assert county_warnings, "the tiny scenario should have a build warning to show"
    built = _validate(capsys, "--build", str(tiny_path))
    assert built[1:] == [f"  warning: {w}" for w in tiny_world.warnings]
    fast = _validate(capsys, str(tiny_path))
    assert not any(w in "\n".join(fast) for w in county_warnings)


def test_fast_validate_counts_a_prefecture(capsys, tmp_path, tiny_path):
    path = tmp_path / "luliang.yaml"
    text = tiny_path.read_text(encoding="utf-8")
    path.write_text(text.replace('  county: "140821"', '  prefecture: "1411"'), encoding="utf-8")
    (headline,) = _validate(capsys, str(path))[:1]
    divisions = sim.geodata.load_divisions()
    counties = sim.geodata.resolve_region("1411")
    towns = divisions[(divisions["level"] == "township") & divisions["parent"].isin(counties)]
    villages = divisions["parent"].isin(set(towns["code"])) & (divisions["level"] == "village")
    assert headline.endswith(
        f": {len(counties)} counties, {len(towns)} townships, {villages.sum()} villages"
    )


@pytest.mark.parametrize("build", [False, True], ids=["fast", "build"])
@pytest.mark.parametrize(
    "old, new, field",
    [
        ('  county: "140821"', '  county: "149999"', "region.county"),
        ('  county: "140821"', '  prefecture: "1499"', "region.prefecture"),
        (
            "  township_default: {etricycle: 2}",
            "  township_default: {etricycle: 2}\n  townships: {141124100: {van: 1}}",
            "fleet.townships",
        ),
    ],
    ids=["county", "prefecture", "township"],
)
def test_unknown_codes_exit_2(capsys, tmp_path, tiny_path, build, old, new, field):
    bad = tmp_path / "bad.yaml"
    text = tiny_path.read_text(encoding="utf-8").replace(old, new)
    bad.write_text(text, encoding="utf-8")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if new.splitlines()[-1] in s)
    assert main(["validate", *(["--build"] if build else []), str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"ruralsim: error: {bad}:{line}: {field}")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("build", [False, True], ids=["fast", "build"])
def test_osm_roads_not_cached_exit_2(capsys, tmp_path, osm_tiny_path, build):
    cache = tmp_path / "empty-cache"
    argv = ["validate", *(["--build"] if build else []), str(osm_tiny_path)]
    assert main([*argv, "--cache-dir", str(cache)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.startswith(
        f"ruralsim: error: {osm_tiny_path}: region.road_network: no OpenStreetMap data cached "
        "for county 140821 临猗县; run `ruralsim geodata fetch 140821`"
    )


def test_fast_validate_finds_cached_osm_roads_without_reading_them(capsys, tmp_path, osm_tiny_path):
    cache = tmp_path / "cache"
    (cache / "osm" / "140821").mkdir(parents=True)
    (cache / "osm" / "140821" / "meta.json").write_text("{}", encoding="utf-8")
    lines = _validate(capsys, str(osm_tiny_path), "--cache-dir", str(cache))
    assert "valid scenario 'tiny'" in lines[0]


def test_help_says_what_each_mode_checks(capsys):
    assert main(["validate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--build" in text
    assert "NBS 2023 divisions" in text and "in memory" in text and "cached" in text
    assert "road network" in text and "build warning" in text
