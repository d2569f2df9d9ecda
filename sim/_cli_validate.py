"""``ruralsim validate``: check a scenario file, fast by default, or by building its world.

The default checks what needs no roads: the YAML and the schema, the codes the scenario names
against the shipped NBS divisions (region, townships, villages), and whether the run fits in
the calendar and in memory (all in :func:`sim.load.load_scenario`), and, for
``road_network: osm``, that every county is in the OpenStreetMap cache. It then counts the
region's townships and villages from the divisions, prints the notes on the scenario as a
whole, and estimates whether each tier (sorting, shuttles, village loops) has room for the
expected parcels (:mod:`sim._capacity`: warnings, never errors, even with ``strict: true``,
as the estimate sees no roads). It imports no pandas, scipy, networkx, geopandas, shapely or
matplotlib, so it answers in a fraction of a second. ``--build`` builds the world as ``run``
does (road network, travel-time matrices, planned routes) and prints the planned fleet and
every build warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.scenario import Scenario

DESCRIPTION = (
    "Check a scenario file without running it. By default (fast, no road network): the YAML "
    "and the schema, the region, township and village codes it names against the shipped "
    "NBS 2023 divisions, whether the run fits in the calendar and in memory, and, for "
    "road_network: osm, that every county's roads are cached; then the "
    "region's townships and villages, the notes on the scenario as a whole, and a capacity "
    "estimate of sorting, shuttles and village loops against the expected parcels of the "
    "busiest day (warnings naming the tier, the place and the shortfall, or 'capacity: ok'). "
    "Every schema or code error of the file is listed (up to 20). With --build: "
    "also build the world as `ruralsim run` does (road network, travel times, planned "
    "shuttles and village loops, vehicle ranges) and print the planned fleet and every build "
    "warning."
)

BUILD_HELP = (
    "also build the world (road network, travel times, route planning) and print the planned "
    "fleet and every build warning (slower: seconds per county)"
)


def headline(
    path: Path,
    scenario: Scenario,
    label: str,
    n_townships: int,
    n_villages: int,
    overlays: Sequence[Path] = (),
) -> str:
    """The first line ``validate`` prints: the file (and overlays), the scenario and its
    region's size."""
    with_ = "".join(f" with {o}" for o in overlays)
    return (
        f"{path}{with_}: valid scenario {scenario.name!r} (schema v{scenario.schema_version}): "
        f"{label}, {n_townships} townships, {n_villages} villages"
    )


def validate_fast(
    path: Path,
    *,
    cache_dir: Path | None = None,
    overlays: Sequence[Path] = (),
    sets: Sequence[str] = (),
) -> list[str]:
    """Check a scenario file without building its world; return the lines to print.

    Parameters
    ----------
    path
        The scenario YAML file.
    cache_dir
        OpenStreetMap cache, where a scenario with ``road_network: osm`` needs its counties.
    overlays, sets
        Partial scenarios and ``PATH=VALUE`` changes laid over the file
        (:func:`sim.load.load_scenario`).

    Returns
    -------
    list of str
        The headline (file, scenario, region, townships, villages), the notes on the scenario
        as a whole as ``warning:`` lines, the capacity estimate (``warning: capacity:`` lines
        for each tier short or tight, else ``capacity: ok``; :mod:`sim._capacity`), and a
        pointer to ``validate --build``.

    Raises
    ------
    ScenarioError
        As :func:`sim.load.load_scenario`: naming the file, line, field, value and what is
        valid; or naming the file when ``road_network: osm`` finds a county not cached.
    """
    from sim._capacity import capacity_lines
    from sim.errors import ScenarioError
    from sim.load import load_scenario
    from sim.notes import region_notes
    from sim.region import (
        check_cached_roads,
        region_counties,
        region_label,
        region_townships,
        region_villages,
    )

    scenario = load_scenario(path, overlays=overlays, sets=sets)
    counties = region_counties(scenario)
    try:
        check_cached_roads(scenario, counties, cache_dir=cache_dir)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    n_town, n_vil = len(region_townships(counties)), len(region_villages(counties))
    lines = [headline(path, scenario, region_label(counties), n_town, n_vil, overlays)]
    lines += [f"  warning: {note}" for note in region_notes(scenario)]
    lines += capacity_lines(scenario, counties)
    lines.append(
        "  road network and routes not built: run `ruralsim validate --build "
        f"{path}` for the planned fleet and build warnings"
    )
    return lines
