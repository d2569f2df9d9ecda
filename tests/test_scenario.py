"""Tests of the scenario schema, the YAML loader and the error messages users see."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim._yaml import Lines, load_with_lines
from sim._yaml_errors import MAX_SHOWN_ERRORS
from sim.errors import ScenarioError
from sim.load import load_scenario
from sim.scenario import Scenario, scenario_from_dict, scenario_json_schema

TINY = Path(__file__).parent / "data" / "tiny.yaml"
TINY_TEXT = TINY.read_text(encoding="utf-8")


def _edit(old: str, new: str) -> str:
    """Return the fixture text with ``old`` (which must occur exactly once) replaced."""
    assert TINY_TEXT.count(old) == 1, old
    return TINY_TEXT.replace(old, new)


def _line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


def _write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "errors.pydantic.dev" not in message
    assert "Traceback" not in message
    return message


# --------------------------------------------------------------------------- the fixture


def test_fixture_loads() -> None:
    scenario = load_scenario(TINY)
    assert scenario.region.county == "140821"
    assert (scenario.horizon_days, scenario.warmup_days, scenario.seed) == (3, 1, 7)
    assert scenario.replications == 2
    centre = scenario.facilities.county_centre
    assert centre.sorting_capacity_per_hour == 2000
    assert [(s.start, s.end) for s in centre.shifts] == [("04:00", "20:00")]
    assert [(t.time, t.share) for t in centre.trunk_arrivals] == [("05:30", 0.7), ("13:30", 0.3)]
    assert set(scenario.fleet.vehicle_types) == {"van", "etricycle"}
    assert scenario.fleet.county_centre == {"van": 2}
    assert scenario.fleet.township_default == {"etricycle": 2}
    assert scenario.schedules.shuttle_departures == ["08:00", "14:30"]
    assert scenario.schedules.village_departures == ["10:30"]
    assert scenario.demand.inbound.mode == "flat"
    assert scenario.demand.inbound.parcels_per_village_per_day == 5


@pytest.mark.parametrize("mode", ["python", "json"])
def test_fixture_round_trips(mode: str) -> None:
    scenario = load_scenario(TINY)
    assert Scenario.model_validate(scenario.model_dump(mode=mode)) == scenario


def test_scenario_is_frozen() -> None:
    scenario = load_scenario(TINY)
    with pytest.raises(ValueError):
        scenario.seed = 8  # type: ignore[misc]


# --------------------------------------------------------------------------- YAML reading


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("13:30", "13:30"),
        ("1:30", "1:30"),
        ("190:20:30.15", "190:20:30.15"),
        ("yes", "yes"),
        ("No", "No"),
        ("on", "on"),
        ("OFF", "OFF"),
        ("0700", "0700"),
        ("true", True),
        ("False", False),
        ("42", 42),
        ("-3", -3),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("null", None),
        ("2026-03-02", dt.date(2026, 3, 2)),
        ("'13:30'", "13:30"),
    ],
)
def test_scalars_are_read_as_written(tmp_path: Path, written: str, expected: Any) -> None:
    data, _ = load_with_lines(_write(tmp_path, f"value: {written}\n"))
    assert data == {"value": expected}
    assert type(data["value"]) is type(expected)


def test_global_safe_loader_is_untouched(tmp_path: Path) -> None:
    load_with_lines(_write(tmp_path, "value: 13:30\n"))
    assert yaml.safe_load("value: 13:30") == {"value": 810}
    assert yaml.safe_load("value: yes") == {"value": True}


def test_unquoted_clock_in_scenario() -> None:
    assert "time: 13:30\n" in TINY_TEXT
    assert load_scenario(TINY).facilities.county_centre.trunk_arrivals[1].time == "13:30"


def test_lines_index_keys_and_items() -> None:
    data, lines = load_with_lines(TINY)
    assert isinstance(data, dict)
    assert lines.find(("seed",)) == (_line_of(TINY_TEXT, "seed: 7"), 1)
    trunk = ("facilities", "county_centre", "trunk_arrivals", 1, "time")
    assert lines.find(trunk)[0] == _line_of(TINY_TEXT, "time: 13:30")
    # Unknown tails fall back to the deepest known ancestor.
    assert lines.find(("region", "nope", 3)) == lines.find(("region",))


def test_lines_accept_int_and_str_keys(tmp_path: Path) -> None:
    _, lines = load_with_lines(_write(tmp_path, "codes:\n  140821100010: 3\n  '7': 1\n"))
    assert lines.find(("codes", 140821100010)) == (2, 3)
    assert lines.find(("codes", "140821100010")) == (2, 3)
    assert lines.find(("codes", 7)) == (3, 3)
    assert isinstance(lines, Lines)


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    text = "base: &b {a: 1, b: 2}\nother:\n  <<: *b\n  b: 3\n"
    data, _ = load_with_lines(_write(tmp_path, text))
    assert data["other"] == {"a": 1, "b": 3}


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    rows = ["a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        rows.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    message = _error(_write(tmp_path, "\n".join(rows) + "\n"))
    assert "aliases" in message


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    assert "aliases" in _error(_write(tmp_path, "a: &a [*a]\n"))


# --------------------------------------------------------------------------- schema errors


def test_unknown_key_names_file_line_path_and_valid_keys(tmp_path: Path) -> None:
    text = _edit(
        "    sorting_capacity_per_hour: 2000\n",
        "    sorting_capacity_per_hour: 2000\n    sorting_capcity: 3\n",
    )
    path = _write(tmp_path, text, "typo.yaml")
    message = _error(path)
    line = _line_of(text, "sorting_capcity: 3")
    assert "typo.yaml" in message
    assert f"{path}:{line}: facilities.county_centre.sorting_capcity: unknown key" in message
    for key in ("sorting_capacity_per_hour", "shifts", "trunk_arrivals"):
        assert key in message.split("valid:")[1]
    assert "did you mean 'sorting_capacity_per_hour'" in message


CASES = [
    # id, old text, new text, text on the reported line, fragments of the message
    ("wrong type", "seed: 7", "seed: seven", "seed: seven", ["seed: expected a whole number"]),
    (
        "negative capacity",
        "capacity_parcels: 300",
        "capacity_parcels: -300",
        "capacity_parcels: -300",
        ["fleet.vehicle_types.van.capacity_parcels", "got -300", "greater than 0"],
    ),
    (
        "bad clock",
        '["10:30"]',
        '["10:30", "25:00"]',
        '"25:00"',
        ["schedules.village_departures.1", "'25:00'", "HH:MM on a 24-hour clock"],
    ),
    (
        "bad unquoted clock",
        "end: 20:00",
        "end: 25:00",
        "end: 25:00",
        ["facilities.county_centre.shifts.0.end", "'25:00'", "HH:MM"],
    ),
    (
        "shares",
        "share: 0.3",
        "share: 0.2",
        "trunk_arrivals:",
        ["facilities.county_centre", "sum to 0.9", "must sum to 1"],
    ),
    (
        "overlapping shifts",
        "        end: 20:00\n",
        "        end: 20:00\n      - {start: 12:00, end: 22:00}\n",
        "shifts:",
        ["facilities.county_centre", "shifts overlap"],
    ),
    (
        "shift backwards",
        "end: 20:00",
        "end: 03:00",
        "end: 03:00",
        ["facilities.county_centre.shifts.0", "must be later than its start"],
    ),
    (
        "warmup",
        "warmup_days: 1",
        "warmup_days: 3",
        "warmup_days: 3",
        ["warmup_days (3) must be less than horizon_days (3)"],
    ),
    (
        "unknown vehicle type",
        "{van: 2}",
        "{lorry: 2}",
        "  county_centre: {lorry: 2}",
        ["fleet", "'lorry'", "'etricycle', 'van'"],
    ),
    (
        "not a number",
        "share: 0.7",
        "share: .nan",
        "share: .nan",
        ["facilities.county_centre.trunk_arrivals.0.share: not a number (NaN)"],
    ),
    (
        "bad literal",
        "mode: flat",
        "mode: yes",
        "mode: yes",
        ["demand.inbound.mode", "got 'yes'", "'flat' or 'population'"],
    ),
    (
        "missing field",
        "horizon_days: 3\n",
        "",
        "schema_version: 1",
        ["horizon_days: required field missing"],
    ),
    (
        "no region",
        '  county: "140821"\n',
        "  terrain: hills\n",
        "region:",
        ["region: give exactly one of region.county, region.counties"],
    ),
    (
        "bad key",
        "{van: 2}",
        "{van: 2, big van: 1}",
        "{van: 2, big van: 1}",
        ["fleet.county_centre.big van: bad key", "got 'big van'"],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "on_line", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_schema_errors(
    tmp_path: Path, old: str, new: str, on_line: str, fragments: list[str]
) -> None:
    text = _edit(old, new)
    path = _write(tmp_path, text)
    message = _error(path)
    assert f"{path}:{_line_of(text, on_line)}: " in message
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message  # one problem, one line


def test_union_reports_one_problem(tmp_path: Path) -> None:
    text = _edit("fleet:\n", "  village_points: {villages: some}\nfleet:\n")
    message = _error(_write(tmp_path, text))
    assert "\n" not in message
    assert "facilities.village_points.villages: not a valid choice; got 'some'" in message
    assert "'all' or a list" in message
    assert "literal[" not in message and "list[" not in message


def test_union_reports_the_branch_that_got_furthest(tmp_path: Path) -> None:
    text = _edit("fleet:\n", "  village_points:\n    villages: [bad, 140821100010]\nfleet:\n")
    path = _write(tmp_path, text)
    message = _error(path)
    assert "\n" not in message
    assert f"{path}:{_line_of(text, 'villages: [bad')}: " in message
    assert "facilities.village_points.villages.0: wrong format; got 'bad'" in message
    assert "12-digit statistical code of a village" in message


def test_every_error_is_listed_numbered(tmp_path: Path) -> None:
    text = TINY_TEXT.replace("seed: 7", "seed: -1\nfoo: 1\nbar: 2")
    text = text.replace("replications: 2", "replications: 0").replace("mode: flat", "mode: x")
    text = text.replace("share: 0.7", "share: x").replace("start: 04:00", "start: 4")
    path = _write(tmp_path, text)
    message = _error(path)
    lines = message.splitlines()
    assert lines[0].endswith("7 problems in the scenario:")
    assert [line.split(".")[0].strip() for line in lines[1:]] == [str(i) for i in range(1, 8)]
    assert all(f". {path}:" in line for line in lines[1:])
    assert "foo: unknown key" in message and "bar: unknown key" in message
    assert "seed: too small; got -1" in message and "replications: too small" in message


def test_many_errors_are_capped(tmp_path: Path) -> None:
    extra = "".join(f"extra_{i}: 1\n" for i in range(MAX_SHOWN_ERRORS + 4))
    message = _error(_write(tmp_path, TINY_TEXT.replace("seed: 7\n", f"seed: 7\n{extra}")))
    lines = message.splitlines()
    assert lines[0].endswith(f"{MAX_SHOWN_ERRORS + 4} problems in the scenario:")
    assert lines[-1].strip() == "... and 4 more"
    assert len(lines) == 1 + MAX_SHOWN_ERRORS + 1


def test_integer_village_keys_load_as_strings(tmp_path: Path) -> None:
    text = _edit(
        "  village_departures:",
        "  village_visits_per_week:\n    140821100010: 3\n  village_departures:",
    )
    scenario = load_scenario(_write(tmp_path, text))
    assert scenario.schedules.village_visits_per_week == {"140821100010": 3}


def test_integer_village_key_error_points_at_its_line(tmp_path: Path) -> None:
    text = _edit(
        "  village_departures:",
        "  village_visits_per_week:\n    140821100010: 3\n    140821100011: 9\n"
        "  village_departures:",
    )
    path = _write(tmp_path, text)
    message = _error(path)
    line = _line_of(text, "140821100011: 9")
    assert f"{path}:{line}: schedules.village_visits_per_week.140821100011: too large" in message
    assert "from 0 to 7" in message


def test_errors_without_a_file_name_the_source() -> None:
    data, _ = load_with_lines(TINY)
    data["seed"] = -1
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data)
    assert str(info.value).startswith("<dict>: seed: too small; got -1")
    with pytest.raises(ScenarioError, match=r"^notebook: seed"):
        scenario_from_dict(data, source="notebook")


# --------------------------------------------------------------------------- file errors


def test_duplicate_key(tmp_path: Path) -> None:
    text = _edit("seed: 7\n", "seed: 7\nseed: 8\n")
    path = _write(tmp_path, text)
    message = _error(path)
    assert f"{path}:{_line_of(text, 'seed: 8')}:" in message
    assert "duplicate key 'seed'" in message
    assert f"line {_line_of(text, 'seed: 7')}" in message


def test_duplicate_key_in_flow_mapping(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, _edit("{van: 2}", "{van: 2, van: 3}")))
    assert "duplicate key 'van'" in message


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = _edit('  county: "140821"\n', '  county: "140821"\n bad\n')
    path = _write(tmp_path, text)
    message = _error(path)
    assert message.startswith(f"{path}:{_line_of(text, ' bad')}:2: invalid YAML: ")
    assert "\n" not in message
    assert "<unicode string>" not in message


def test_tab_indentation(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, _edit("  county:", "\tcounty:")))
    assert "tabs" in message


def test_impossible_date(tmp_path: Path) -> None:
    text = _edit("seed: 7\n", "seed: 7\nstart_date: 2026-02-30\n")
    path = _write(tmp_path, text)
    message = _error(path)
    assert f"{path}:{_line_of(text, 'start_date')}:" in message
    assert "'2026-02-30' is not a valid date" in message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text, "empty.yaml")
    message = _error(path)
    assert str(path) in message
    assert "is empty" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    message = _error(path)
    assert str(path) in message
    assert "does not exist" in message


def test_directory(tmp_path: Path) -> None:
    message = _error(tmp_path)
    assert str(tmp_path) in message
    assert "directory" in message


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "a list"), ("hello\n", "single")])
def test_top_level_not_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = _write(tmp_path, text)
    message = _error(path)
    assert message.startswith(f"{path}:1: ")
    assert "mapping" in message
    assert kind in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: tiny\ndescription: Fähre\n".encode("latin-1"))
    message = _error(path)
    assert message.startswith(f"{path}:2: ")
    assert "UTF-8" in message


def test_control_character(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "name: tiny\ndescription: a\x07b\n"))
    assert ":2: " in message
    assert "U+0007" in message


def test_python_tags_are_refused(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "name: !!python/object/apply:os.system [echo hi]\n"))
    assert ":1:7: invalid YAML" in message


def test_two_documents(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "a: 1\n---\nb: 2\n"))
    assert "single document" in message


# --------------------------------------------------------------------------- JSON Schema


def test_json_schema_forbids_unknown_keys() -> None:
    schema = json.loads(json.dumps(scenario_json_schema()))
    assert schema["title"] == "ruralsim scenario v1"
    assert schema["additionalProperties"] is False
    models = [s for s in schema["$defs"].values() if s.get("type") == "object"]
    assert len(models) >= 10
    for model in models:
        assert model["additionalProperties"] is False, model.get("title")


# --------------------------------------------------------------------------- properties


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in _leaves(value, (*path, key))]
    if isinstance(data, list):
        return [p for i, value in enumerate(data) for p in _leaves(value, (*path, i))]
    return [path]


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


FIXTURE_DATA, _ = load_with_lines(TINY)
WRONG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.dates(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(_leaves(FIXTURE_DATA)), value=WRONG_VALUES)
def test_mutated_leaf_is_valid_or_a_scenario_error(
    tmp_path_factory: pytest.TempPathFactory, path: tuple[Any, ...], value: Any
) -> None:
    data = _set(FIXTURE_DATA, path, value)
    try:
        assert isinstance(scenario_from_dict(data), Scenario)
    except ScenarioError as exc:
        assert "errors.pydantic.dev" not in str(exc)
    file = tmp_path_factory.mktemp("mutated") / "scenario.yaml"
    file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        assert isinstance(load_scenario(file), Scenario)
    except ScenarioError as exc:
        assert str(file) in str(exc)
        assert "errors.pydantic.dev" not in str(exc)


@settings(max_examples=60, deadline=None)
@given(
    where=st.sampled_from([p[:-1] for p in _leaves(FIXTURE_DATA) if isinstance(p[-1], str)]),
    key=st.from_regex(r"zz[a-z_]{0,10}", fullmatch=True),
)
def test_unknown_key_anywhere_is_reported(where: tuple[Any, ...], key: str) -> None:
    node = FIXTURE_DATA
    for part in where:
        node = node[part]
    if key in node:
        return
    data = _set(FIXTURE_DATA, (*where, key), 1)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data)
    assert key in str(info.value)


def test_chinese_names_for_the_scenario_and_its_carriers(tiny_scenario, tmp_path):
    """Names people read may be any printable text (襄汾基线, 中通); the run folder and its
    tables carry them; control characters and spaces at either end are refused."""
    import pandas as pd

    from sim.runfolder import stream_run

    data = tiny_scenario.model_dump(mode="json")
    data["name"] = "襄汾基线"
    data["carriers"] = [{"name": "中通", "share": 0.6}, {"name": "邮政 EMS", "share": 0.4}]
    sc = scenario_from_dict(data)
    assert (sc.name, [c.name for c in sc.carriers]) == ("襄汾基线", ["中通", "邮政 EMS"])
    stream_run(tmp_path / "run", sc, figures=False)
    kpis = pd.read_csv(tmp_path / "run" / "kpis.csv", dtype={"code": str})
    assert {"中通", "邮政 EMS"} <= set(kpis.loc[kpis["scope"] == "carrier", "code"])
    for bad in (" 中通", "中通\t", "a\x07b", ""):
        data["carriers"][0]["name"] = bad
        with pytest.raises(ScenarioError, match=r"carriers\.0\.name"):
            scenario_from_dict(data)


def test_json_schema_accepts_what_the_loader_accepts() -> None:
    """Every shipped scenario, the README's example and codes written without quotes (YAML
    reads them as numbers) pass the JSON Schema editors use; a wrong code does not."""
    import jsonschema

    schema = json.loads(json.dumps(scenario_json_schema()))
    root = Path(__file__).parent.parent
    files = [*sorted((root / "scenarios").glob("*.yaml")), root / "tests" / "data" / "tiny.yaml"]

    def read(path: Path) -> Any:  # as YAML 1.2 editors see it: 13:30 and dates are text
        from sim._yaml import _ScenarioLoader

        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_ScenarioLoader)
        return json.loads(json.dumps(data, default=str))

    for path in files:
        jsonschema.validate(read(path), schema)
    data = read(root / "tests" / "data" / "tiny.yaml")
    data["region"] = {"county": 140821}  # unquoted in YAML: an integer
    jsonschema.validate(data, schema)
    scenario_from_dict(data)
    data["region"] = {"county": 1408210}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_a_bad_township_code_key_is_told_what_a_township_code_is(tmp_path) -> None:
    data = yaml.safe_load((Path(__file__).parent / "data" / "tiny.yaml").read_text("utf-8"))
    data["fleet"]["townships"] = {1408211: {"van": 3}}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert "fleet.townships.1408211: bad key" in str(err.value)
    assert "wrong length: 7 digits, a code here has 9" in str(err.value)
    assert "9-digit statistical code of a township" in str(err.value)
    assert "A-Za-z" not in str(err.value)
    data["fleet"]["townships"] = {"14082110": {"van": 3}}  # one digit short, quoted
    with pytest.raises(ScenarioError, match="wrong length: 8 digits, a code here has 9"):
        scenario_from_dict(data)
    data["fleet"]["townships"] = {"14082110x": {"van": 3}}  # not digits: the format
    with pytest.raises(ScenarioError, match="bad key: wrong format; got '14082110x'"):
        scenario_from_dict(data)
