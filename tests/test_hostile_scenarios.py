"""Hostile scenario files: each is refused at once with one message, exit 2, nothing written.

Every case starts from tests/data/tiny.yaml loaded as a dict, breaks one thing and writes the
result to a temporary YAML file. ``validate`` (and, for some, ``run``) must exit with status 2,
print exactly one error naming the file and the field, print no traceback and write nothing.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim import _yaml
from sim.cli import main

TINY = Path(__file__).parent / "data" / "tiny.yaml"
VILLAGE = "140821100010"  # a village of 临猗县
TOWNSHIP = "140821100"
OTHER_VILLAGE = "140821999999"  # not a village of 临猗县
OTHER_TOWNSHIP = "140821999"

Data = dict[str, Any]


def _at(data: Data, dotted: str, value: Any) -> None:
    """Set ``data[a][b]...`` for a dotted path, creating sections as needed."""
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def _specialty(**extra: Any) -> list[dict[str, Any]]:
    spec = {"name": "apple", "start": "09-01", "end": "10-31"}
    spec["peak_parcels_per_village_per_day"] = 3
    return [{**spec, **extra}]


def _bus(**extra: Any) -> list[dict[str, Any]]:
    line = {"name": "b1", "stops": [VILLAGE], "departures": ["09:00"], "capacity_parcels": 50}
    return [{**line, **extra}]


RATE = "demand.inbound.parcels_per_village_per_day"
VAN = "fleet.vehicle_types.van"
INF, NAN = float("inf"), float("nan")

# id -> (dotted path to set, value, text the message must contain: the field path, or None for
# the dotted path itself)
CASES: dict[str, tuple[str, Any, str | None]] = {
    # item 11: runs that cannot fit in memory or in the calendar
    "rate_1e12": (RATE, 1e12, None),
    "rate_1e300": (RATE, 1e300, None),
    "person_rate": (
        "demand.inbound",
        {"mode": "population", "parcels_per_person_per_day": 1e9},
        "demand.inbound.parcels_per_person_per_day",
    ),
    "outbound_rate": ("demand.outbound.parcels_per_village_per_day", 1e12, None),
    "specialty_peak": (
        "demand.outbound.specialties",
        _specialty(peak_parcels_per_village_per_day=1e13),
        "specialties.0.peak_parcels_per_village_per_day",
    ),
    "weekday_factors_huge": ("demand.calendar.weekday_factors", [1e300] * 7, RATE),
    "start_date_9999": ("start_date", "9999-12-30", None),
    "start_date_max": ("start_date", "9999-12-31", None),
    # item 12: strict types, no non-finite numbers
    "rate_inf": (RATE, INF, None),
    "rate_nan": (RATE, NAN, None),
    "rate_minus_inf": (RATE, -INF, None),
    "rate_text": (RATE, "30", None),
    "rate_bool": (RATE, True, None),
    "visits_bool": ("schedules.visits_per_week", True, None),
    "visits_float": ("schedules.visits_per_week", 3.0, None),
    "capacity_text": (f"{VAN}.capacity_parcels", "300", None),
    "capacity_bool": (f"{VAN}.capacity_parcels", False, None),
    "capacity_empty": (f"{VAN}.capacity_parcels", None, None),
    "speed_inf": (f"{VAN}.max_speed_kmh", INF, None),
    "cost_text": (f"{VAN}.cost_per_km_yuan", "1.2", None),
    "range_nan": (f"{VAN}.range_km", NAN, None),
    "range_text": (f"{VAN}.range_km", "far", None),
    "cold_chain_int": (f"{VAN}.cold_chain", 1, None),
    "strict_text": ("strict", "true", None),
    "seed_bool": ("seed", True, None),
    "seed_text": ("seed", "7", None),
    "horizon_float": ("horizon_days", 3.5, None),
    "replications_text": ("replications", "2", None),
    "share_text": (
        "facilities.county_centre.trunk_arrivals",
        [{"time": "05:30", "share": "1"}],
        "trunk_arrivals.0.share",
    ),
    "sorting_bool": ("facilities.county_centre.sorting_capacity_per_hour", True, None),
    "fleet_count_bool": ("fleet.township_default.etricycle", True, None),
    "fleet_count_huge": ("fleet.township_default.etricycle", 10**9, None),
    "weekday_inf": ("demand.calendar.weekday_factors", [1, 1, 1, 1, 1, 1, INF], "factors.6"),
    "event_factor_text": (
        "demand.calendar.events",
        [{"name": "d11", "start": "11-10", "end": "11-12", "factor": "3"}],
        "events.0.factor",
    ),
    "start_date_number": ("start_date", 20260302, None),
    "max_hold_huge": ("pickup.max_hold_days", 1e9, None),
    "population_bool": ("demand.inbound.village_population", True, None),
    "bus_capacity_text": ("buses", _bus(capacity_parcels="50"), "buses.0.capacity_parcels"),
    "carrier_share_inf": ("carriers", [{"name": "all", "share": INF}], "carriers.0.share"),
    "kpi_nan": ("kpi.max_lead_time_h", NAN, None),
    "snap_inf": ("region.snap_max_m", INF, None),
    # item 12: every code checked against the region
    "kinds_unknown_village": (
        "facilities.village_points.kinds",
        {OTHER_VILLAGE: "locker"},
        f"village_points.kinds.{OTHER_VILLAGE}",
    ),
    "kinds_key_bool": ("facilities.village_points.kinds", {True: "locker"}, None),
    "villages_unknown": (
        "facilities.village_points.villages",
        [VILLAGE, OTHER_VILLAGE],
        "village_points.villages.1",
    ),
    "populations_unknown": (
        "demand.inbound.populations",
        {OTHER_VILLAGE: 500},
        f"populations.{OTHER_VILLAGE}",
    ),
    "visits_unknown": (
        "schedules.village_visits_per_week",
        {OTHER_VILLAGE: 3},
        f"village_visits_per_week.{OTHER_VILLAGE}",
    ),
    "bus_stop_unknown": ("buses", _bus(stops=[VILLAGE, OTHER_VILLAGE]), "buses.0.stops.1"),
    "specialty_village_unknown": (
        "demand.outbound.specialties",
        _specialty(villages=[OTHER_VILLAGE]),
        "specialties.0.villages.0",
    ),
    "co_delivery_unknown": ("co_delivery.townships", [TOWNSHIP, OTHER_TOWNSHIP], "townships.1"),
    "fleet_township_unknown": (
        "fleet.townships",
        {OTHER_TOWNSHIP: {"van": 1}},
        f"fleet.townships.{OTHER_TOWNSHIP}",
    ),
    "terrain_county_unknown": (
        "region.terrain_by_county",
        {"141124": "hills"},
        "terrain_by_county.141124",
    ),
    "county_unknown": ("region.county", "140899", None),
    "population_huge": ("demand.inbound.populations", {VILLAGE: 10**400}, f"populations.{VILLAGE}"),
    # polish: bounds and keys named, no NoneType
    "shelf_life_zero": (
        "demand.outbound.specialties",
        _specialty(shelf_life_h=0),
        "specialties.0.shelf_life_h: too small; got 0; valid: a number greater than 0",
    ),
    "speeds_zero": ("region.speeds_kmh", {"tertiary": 0}, "region.speeds_kmh.tertiary"),
    "speeds_text": ("region.speeds_kmh", {"residential": "fast"}, "speeds_kmh.residential"),
    "region_empty": ("region", None, "region: expected a mapping; got an empty value"),
    "villages_empty": ("facilities.village_points.villages", None, None),
}

RUN_TOO = {"rate_1e12", "start_date_9999", "rate_inf", "visits_bool", "capacity_text"}
RUN_TOO |= {"kinds_unknown_village", "shelf_life_zero", "speeds_zero"}


@pytest.fixture(scope="module")
def tiny_data() -> Data:
    data, _ = _yaml.load_with_lines(TINY)
    return data


def _write(tmp_path: Path, data: Data) -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], path: Path) -> str:
    """Run the CLI; check exit 2, one message naming ``path``, no traceback; return it."""
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert out == ""
    # The message opens with the file (a sweep file is announced as such).
    assert err.startswith((f"ruralsim: error: {path}", f"ruralsim: error: sweep file {path}"))
    assert err.count("ruralsim: error:") == 1
    assert "problems in the scenario" not in err
    assert "Traceback" not in err
    assert "NoneType" not in err
    return err


def _hostile(tmp_path: Path, tiny_data: Data, case: str) -> tuple[Path, str]:
    dotted, value, field = CASES[case]
    data = copy.deepcopy(tiny_data)
    _at(data, dotted, value)
    return _write(tmp_path, data), field or dotted


@pytest.mark.parametrize("case", list(CASES))
def test_validate_refuses(tmp_path, capsys, tiny_data, case):
    path, field = _hostile(tmp_path, tiny_data, case)
    err = _refused(["validate", str(path)], capsys, path)
    assert field in err
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("case", sorted(RUN_TOO))
def test_run_refuses_and_writes_nothing(tmp_path, capsys, tiny_data, case):
    path, field = _hostile(tmp_path, tiny_data, case)
    out = tmp_path / "out"
    err = _refused(["run", str(path), "--out", str(out), "--quiet"], capsys, path)
    assert field in err
    assert not out.exists()


def test_corpus_is_large_enough():
    assert len(CASES) >= 50
    assert RUN_TOO <= set(CASES)


def test_memory_refusal_states_estimate_and_limit(tmp_path, capsys, tiny_data):
    data = copy.deepcopy(tiny_data)
    _at(data, "demand.inbound.parcels_per_village_per_day", 1e12)
    path = _write(tmp_path, data)
    err = _refused(["validate", str(path)], capsys, path)
    assert "parcels per replication" in err and "GB of memory" in err and "limit is" in err


def test_replications_override_refused(tmp_path, capsys, tiny_data, monkeypatch):
    # Fits with the file's 2 replications, not with --replications 1000 on a small machine.
    monkeypatch.setattr("sim.budget.available_memory_bytes", lambda: 100_000_000)
    path = _write(tmp_path, copy.deepcopy(tiny_data))
    out = tmp_path / "out"
    argv = ["run", str(path), "--out", str(out), "--replications", "1000", "--quiet"]
    err = _refused(argv, capsys, path)
    assert "replications" in err
    assert not out.exists()


def test_memory_error_is_one_message(tmp_path, capsys, tiny_path, monkeypatch):
    def no_memory(*args: Any, **kwargs: Any) -> None:
        raise MemoryError("Unable to allocate 8.01 PiB")

    monkeypatch.setattr("sim.stream.run_region", no_memory)
    out = tmp_path / "out"
    status = main(["run", str(tiny_path), "--out", str(out), "--quiet", "--no-figures"])
    _, err = capsys.readouterr()
    assert status == 2
    assert err.count("ruralsim: error:") == 1 and "out of memory" in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- item 13: files


def _big(tmp_path: Path) -> Path:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"x: [" + b"140821100010," * (_yaml.MAX_FILE_BYTES // 13) + b"1]\n")
    return path


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda tmp: Path("/dev/zero"), id="dev_zero"),
        pytest.param(
            _fifo, id="fifo", marks=pytest.mark.skipif(sys.platform == "win32", reason="")
        ),
        pytest.param(_big, id="over_size_limit"),
        pytest.param(lambda tmp: tmp, id="directory"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "sweep"])
def test_unreadable_files_refused_at_once(tmp_path, capsys, make, command):
    path = make(tmp_path)
    argv = [command, str(path)] + (["--out", str(tmp_path / "sweep")] if command == "sweep" else [])
    _refused(argv, capsys, path)
    assert not (tmp_path / "sweep").exists()


def test_many_values_refused_quickly(tmp_path, capsys):
    # Under the size limit, but more values than any scenario holds.
    path = tmp_path / "long.yaml"
    path.write_text("x: [" + "1," * (_yaml.MAX_EXPANDED_NODES + 10) + "1]\n", encoding="utf-8")
    err = _refused(["validate", str(path)], capsys, path)
    assert "values" in err


def test_sweep_file_types_are_strict(tmp_path, capsys, tiny_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"base: {tiny_path}\ndesign: lhs\nsamples: '10'\n"
        "factors:\n  - {path: demand.inbound.parcels_per_village_per_day, low: 1, high: .inf}\n",
        encoding="utf-8",
    )
    err = _refused(["sweep", str(path), "--out", str(tmp_path / "out")], capsys, path)
    assert "samples" in err
    assert not (tmp_path / "out").exists()
