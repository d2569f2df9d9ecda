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
    # Notes and capacity warnings, or the capacity summary line.
    assert all(
        line.startswith(("  warning: ", "  capacity: ok: ", "  capacity: note: "))
        for line in lines[1:-1]
    )
    assert sum("capacity: " in line for line in lines) >= 1


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
    assert notes and fast[1 : 1 + len(notes)] == notes
    assert all("capacity: " in line for line in fast[1 + len(notes) : -1])


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


def _variant(tmp_path: Path, name: str, *changes: tuple[str, str]) -> Path:
    """linxian_mountain.yaml with text replaced, written to ``tmp_path / name``."""
    text = (ROOT / "scenarios" / "linxian_mountain.yaml").read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _capacity(lines: list[str]) -> list[str]:
    return [line for line in lines if "capacity: " in line]


def test_capacity_ok_for_a_roomy_fleet(capsys, tmp_path):
    roomy = _variant(
        tmp_path,
        "roomy.yaml",
        ("county_centre: {light_truck: 8}", "county_centre: {light_truck: 12}"),
        ("township_default: {van: 3}", "township_default: {van: 8}"),
    )
    (line,) = _capacity(_validate(capsys, str(roomy)))
    assert line.startswith("  capacity: ok: sorting, shuttles and village loops have room")
    assert "30 parcels per village and day" in line


def test_capacity_names_the_short_tier_place_and_shortfall(capsys, tmp_path):
    small = _variant(
        tmp_path,
        "small.yaml",
        ("sorting_capacity_per_hour: 2500", "sorting_capacity_per_hour: 1000"),
        ("county_centre: {light_truck: 8}", "county_centre: {light_truck: 4}"),
        ("township_default: {van: 3}", "township_default: {van: 8}"),
    )
    text = small.read_text(encoding="utf-8").replace(
        "  township_default: {van: 8}",
        '  township_default: {van: 8}\n  townships: {"141124100": {van: 1}}',
    )
    small.write_text(text, encoding="utf-8")
    lines = _capacity(_validate(capsys, str(small)))  # warnings: exit 0
    daily = 504 * 30
    sorting, shuttles, loops = lines
    # Sorting: 1,000 an hour over 14 shift hours, against 504 villages x 30 parcels.
    assert sorting.startswith("  warning: capacity: sorting, county 141124 (临县): ")
    assert f"= 14,000 a day < {daily:,} parcels arriving (short by {daily - 14000:,})" in sorting
    assert "shuttles, county 141124 (临县): 4 truck(s) x 1,200 parcels = 4,800 per departure <" in (
        shuttles
    )
    assert "short by" in shuttles and "add " in shuttles
    assert loops.startswith(
        "  warning: capacity: village loops, township 141124100 (临泉镇): 1 van(s) x 270 (the "
        "planner fills 90% of 300) = 270 per departure < "
    )
    assert "visit more often" in loops


def test_capacity_counts_the_peak_day_of_the_window(capsys, tmp_path):
    """An event in the window raises the parcels expected; one outside it does not."""
    event = "  calendar:\n    events: [{name: peak, start: {start}, end: {end}, factor: 3}]\n"
    base = [("township_default: {van: 3}", "township_default: {van: 8}")]
    base.append(("county_centre: {light_truck: 8}", "county_centre: {light_truck: 12}"))
    quiet = _variant(tmp_path, "quiet.yaml", *base)
    ok = _capacity(_validate(capsys, str(quiet)))
    assert ok[0].startswith("  capacity: ok")
    for name, (start, end), short in [
        ("in.yaml", ("2026-03-05", "2026-03-06"), True),
        ("out.yaml", ("2026-09-05", "2026-09-06"), False),
    ]:
        text = quiet.read_text(encoding="utf-8").replace(
            "pickup:", event.replace("{start}", start).replace("{end}", end) + "pickup:"
        )
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        lines = _capacity(_validate(capsys, str(path)))
        assert any("warning: capacity: " in line for line in lines) is short
        if short:
            assert "x3 on the busiest day of the window" in lines[0]


def test_capacity_agrees_with_the_build_on_the_tight_shuttles(capsys):
    """linxian_mountain's shuttles leave parcels behind at some departures (the build says so);
    the estimate calls them tight at the 15:00 departure."""
    path = ROOT / "scenarios" / "linxian_mountain.yaml"
    lines = _capacity(_validate(capsys, str(path)))
    (tight,) = [line for line in lines if "shuttles" in line]
    assert "tight: 8 truck(s) x 1,200 parcels = 9,600 per departure" in tight
    assert "at the 15:00 departure" in tight


def test_capacity_ok_for_a_new_scenario(capsys, tmp_path):
    out = tmp_path / "x.yaml"
    assert main(["new", "141023", "--out", str(out)]) == 0
    capsys.readouterr()
    (line,) = _capacity(_validate(capsys, str(out)))
    assert line.startswith("  capacity: ok: ")


def test_every_bad_code_is_listed(capsys, tmp_path):
    bad = _variant(
        tmp_path,
        "codes.yaml",
        (
            "  visits_per_week: 3\n",
            "  visits_per_week: 3\n  village_visits_per_week:\n"
            '    "141124000001": 2\n    "141124100201": 1\n    "141124000002": 3\n',
        ),
        (
            "township_default: {van: 3}",
            'township_default: {van: 3}\n  townships: {"141124999": {van: 1}}',
        ),
    )
    text = bad.read_text(encoding="utf-8").splitlines()
    assert main(["validate", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == f"ruralsim: error: {bad}: 3 problems in the scenario:"
    for number, code in enumerate(["141124999", "141124000001", "141124000002"], 1):
        line = next(i for i, s in enumerate(text, 1) if f'"{code}"' in s)
        hit = [s for s in lines[1:] if f": {code} is not a " in s]
        assert len(hit) == 1 and hit[0].startswith(f"  {number}. {bad}:{line}: "), hit
    assert "141124100201" not in err  # a real village of 临县


def test_capacity_says_population_mode_uses_an_average(capsys, tmp_path):
    path = _variant(
        tmp_path,
        "pop.yaml",
        ("    mode: flat\n", "    mode: population\n    parcels_per_person_per_day: 0.01\n"),
    )
    (line, *_) = _capacity(_validate(capsys, str(path)))
    assert "0.01 parcels per resident and day, 620 residents in every village" in line
    assert "an average: the divisions give no populations" in line


def test_every_schema_error_is_printed_numbered_exit_2(capsys, tmp_path):
    bad = _variant(
        tmp_path,
        "schema.yaml",
        ("sorting_capacity_per_hour: 2500", "sorting_capacity_per_hour: -5"),
        ("visits_per_week: 3", "visits_per_week: 9"),
        ("max_speed_kmh: 50", "max_sped_kmh: 50"),
    )
    assert main(["validate", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    head, *items = err.splitlines()
    assert head == f"ruralsim: error: {bad}: 4 problems in the scenario:"
    assert [item[:5] for item in items] == ["  1. ", "  2. ", "  3. ", "  4. "]
    text = "\n".join(items)
    assert "sorting_capacity_per_hour: too small; got -5" in text
    assert "schedules.visits_per_week: too large; got 9" in text
    assert "max_sped_kmh: unknown key (did you mean 'max_speed_kmh'?)" in text
    assert "van.max_speed_kmh: required field missing" in text


def test_two_loops_a_departure_is_a_note_not_a_warning(capsys):
    """临猗's baseline works (its build plans every loop within the shifts): a township whose
    two vans must each drive two loops is a note for the build to check, not a warning; with
    one van each, five loops a departure is short."""
    path = str(Path(__file__).parents[1] / "scenarios" / "linyi_baseline.yaml")
    ok, note = _capacity(_validate(capsys, path))
    assert ok.startswith("  capacity: ok: ")
    assert note.startswith("  capacity: note: village loops: in 9 townships each van must drive")
    assert "`validate --build`" in note
    lines = _capacity(_validate(capsys, path, "--set", "fleet.township_default={van: 1}"))
    assert lines[0].startswith("  warning: capacity: village loops: short in ")
