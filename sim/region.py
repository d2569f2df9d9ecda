"""The scenario's region resolved against the shipped divisions, and every code it names checked.

A scenario's schema (:mod:`sim.scenario`) checks shape and ranges only: a village code there is
twelve digits, nothing more. These checks, run by the world builder (:func:`sim.build.build`)
and, for a file, by :func:`sim.load.load_scenario` (which can then name the line), look the
codes up in the NBS divisions: the region's counties exist and have boundaries, and each
township or village named lies in the region. They read the divisions with the standard
library (:func:`sim.geodata.divisions.child_codes`): no pandas, no geopandas.
:func:`check_cached_roads` looks in the OpenStreetMap cache for the counties of a scenario that
asks for real roads, without reading them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sim.errors import ScenarioError
from sim.geodata._cachedir import is_cached, not_cached_message
from sim.geodata.divisions import child_codes, resolve_region, unit

if TYPE_CHECKING:
    from sim.scenario import Scenario


def region_counties(scenario: Scenario) -> list[str]:
    """County codes of the scenario's region, in code order.

    Raises
    ------
    ScenarioError
        If a code is unknown, not a county, or a development zone; ``loc`` names the field.
    """
    r = scenario.region
    if r.county or r.counties:
        field = "county" if r.county else "counties"
        codes = [r.county] if r.county else list(r.counties or [])
        for i, code in enumerate(codes):
            loc = ("region", "county") if r.county else ("region", "counties", i)
            _check_county(code, loc)
        if len(set(codes)) != len(codes):
            raise reference_error(("region", field), "a county is listed twice")
        return sorted(codes)
    loc = ("region", "prefecture" if r.prefecture else "province")
    code = str(r.prefecture or r.province)
    try:
        return resolve_region(code)
    except ValueError as exc:
        raise reference_error(loc, str(exc)) from None


def _check_county(code: str, loc: tuple) -> None:
    try:
        county = unit(code)
    except ValueError as exc:
        raise reference_error(loc, str(exc)) from None
    if county.level != "county":
        raise reference_error(loc, f"{code} is a {county.level}, not a county")
    if county.kind == "zone":
        raise reference_error(
            loc,
            f"{code} {county.name} is a development/scenic zone without a boundary of its "
            "own; choose one of the 117 counties",
        )


_Check = tuple[tuple[str, ...], list[str], set[str], str]


def check_references(scenario: Scenario) -> list[str]:
    """Check that the codes a scenario names exist in its region; return its county codes.

    Raises
    ------
    ScenarioError
        Naming the field; its ``loc`` attribute holds the field path (for line lookup). When
        several codes are wrong, every one is named: its ``problems`` attribute holds
        ``(loc, message)`` for each, and its ``loc`` and ``detail`` those of the first.
    """
    counties = region_counties(scenario)
    t_codes = set(region_townships(counties))
    v_codes = set(region_villages(counties))
    where = counties[0] if len(counties) == 1 else "the region"
    for i, line in enumerate(scenario.buses):
        if len({c[:6] for c in line.stops}) > 1:
            raise reference_error(
                ("buses", str(i), "stops"),
                f"line {line.name!r} calls at villages of several counties; a line runs "
                "from one county's bus station",
            )
    problems: list[tuple[tuple, str]] = []
    for loc, codes, valid, level in _code_checks(scenario, counties, t_codes, v_codes):
        for i, c in enumerate(codes):
            if c not in valid:
                list_fields = ("villages", "stops", "townships")
                at = (*loc, str(i)) if loc[-1] in list_fields and loc[0] != "fleet" else (*loc, c)
                hint = counties[0] if len(counties) == 1 else c[:6]
                what = (
                    f"not one of the region's counties ({', '.join(counties[:5])}"
                    f"{', ...' if len(counties) > 5 else ''})"
                    if level == "county"
                    else f"not a {level} of {_name(where)}"
                )
                see = f"see `ruralsim geodata show {hint}` for the valid codes"
                problems.append((at, f"{c} is {what}; {see}"))
    if problems:
        err = reference_error(*problems[0])
        if len(problems) > 1:
            lines = [f"{'.'.join(map(str, loc))}: {message}" for loc, message in problems[:20]]
            more = [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
            text = "\n  ".join([f"{len(problems)} codes not in the region:", *lines, *more])
            err.args = (text,)
        err.problems = problems  # type: ignore[attr-defined]
        raise err
    return counties


def _code_checks(
    scenario: Scenario, counties: list[str], t_codes: set[str], v_codes: set[str]
) -> list[_Check]:
    """Every list or mapping of codes in the scenario: (field path, codes, valid codes, level)."""
    points = scenario.facilities.village_points
    checks: list[_Check] = [
        (("fleet", "townships"), list(scenario.fleet.townships), t_codes, "township"),
        (
            ("schedules", "village_visits_per_week"),
            list(scenario.schedules.village_visits_per_week),
            v_codes,
            "village",
        ),
        (
            ("demand", "inbound", "populations"),
            list(scenario.demand.inbound.populations),
            v_codes,
            "village",
        ),
        (
            ("region", "terrain_by_county"),
            list(scenario.region.terrain_by_county),
            set(counties),
            "county",
        ),
        (("facilities", "village_points", "kinds"), list(points.kinds), v_codes, "village"),
    ]
    if points.villages != "all":
        checks.append(
            (
                ("facilities", "village_points", "villages"),
                list(points.villages),
                v_codes,
                "village",
            )
        )
    co = scenario.co_delivery.townships
    if co not in ("all", "none"):
        checks.append((("co_delivery", "townships"), list(co), t_codes, "township"))
    for i, line in enumerate(scenario.buses):
        checks.append((("buses", str(i), "stops"), list(line.stops), v_codes, "village"))
    for i, spec in enumerate(scenario.demand.outbound.specialties):
        if spec.villages != "all":
            loc: tuple[str, ...] = ("demand", "outbound", "specialties", str(i), "villages")
            checks.append((loc, list(spec.villages), v_codes, "village"))
    return checks


def check_cached_roads(
    scenario: Scenario, counties: list[str], *, cache_dir: Path | None = None
) -> None:
    """Refuse ``road_network: osm`` when a county's OpenStreetMap roads are not cached.

    Only the cache folder is looked at (the roads are read, and checked, by the build).

    Raises
    ------
    ScenarioError
        With ``loc`` ``("region", "road_network")``, the same message as the build's.
    """
    if scenario.region.road_network != "osm":
        return
    for code in counties:
        if not is_cached(code, cache_dir):
            raise reference_error(
                ("region", "road_network"), not_cached_message(code, unit(code).name)
            )


def region_townships(counties: list[str]) -> list[str]:
    """Codes of every township of the given counties, county by county in code order."""
    return [t for c in counties for t in child_codes(c)]


def region_villages(counties: list[str]) -> list[str]:
    """Codes of every village of the given counties, township by township in code order."""
    return [v for t in region_townships(counties) for v in child_codes(t)]


def region_label(counties: list[str]) -> str:
    """A short name of a region's county codes, e.g. ``"临猗县 140821"`` or ``"3 counties"``.

    The same text as :attr:`sim.world.World.label` of the built world, without building it.
    """
    if len(counties) == 1:
        return f"{unit(counties[0]).name} {counties[0]}"
    return f"{len(counties)} counties"


def _name(code: str) -> str:
    return f"county {code} {unit(code).name}" if code.isdigit() else code


def reference_error(loc: tuple, message: str) -> ScenarioError:
    """Return a ScenarioError for the field at ``loc``, keeping ``loc`` and the bare message.

    :func:`sim.load.load_scenario` reads ``loc`` to find the line in the file and ``detail``
    to word the message again with it.
    """
    err = ScenarioError(f"{'.'.join(str(x) for x in loc)}: {message}")
    err.loc = loc  # type: ignore[attr-defined]
    err.detail = message  # type: ignore[attr-defined]
    return err
