"""Road speeds for rural China by OpenStreetMap highway class.

OpenStreetMap rarely tags ``maxspeed`` on rural Chinese roads, so every edge without one gets
the default of its highway class here, times the terrain factor; scenarios may override any
class. Sources: JTG B01-2014 design speeds (二级 80/60, 三级 40/30, 四级 30/20 km/h, the lower
value in hills and mountains) as summarised in the project's domain notes; the class mapping
follows the usual Chinese OSM tagging (县道 ~ tertiary, 乡道 ~ unclassified, 村道 ~ residential
or track). Expressway and national-road values are the legal limits (120 km/h expressways,
80 km/h first-class roads), lowered for trucks and rural traffic.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeGuard

import networkx as nx

from sim.errors import GeodataError

#: km/h per OSM highway class on plains (mountain and hill factors below scale these).
DEFAULT_HIGHWAY_SPEEDS_KMH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 90.0,
        "motorway_link": 50.0,
        "trunk": 70.0,
        "trunk_link": 40.0,
        "primary": 60.0,
        "primary_link": 40.0,
        "secondary": 50.0,
        "secondary_link": 30.0,
        "tertiary": 40.0,  # 县道, JTG B01 三级 40 km/h
        "tertiary_link": 30.0,
        "unclassified": 30.0,  # 乡道, 三/四级 30 km/h
        "residential": 20.0,  # 村道, 四级 20 km/h
        "living_street": 10.0,
        "service": 15.0,
        "track": 15.0,
        "road": 20.0,
    }
)

#: Speed used when an edge's class is not in the table and it has no maxspeed.
FALLBACK_SPEED_KMH = 20.0

#: Factor applied to class speeds by terrain (mountain roads are slower: domain notes, 0.7).
TERRAIN_SPEED_FACTOR: Mapping[str, float] = MappingProxyType(
    {"plains": 1.0, "hills": 0.85, "mountain": 0.7}
)


def highway_speeds(
    terrain: str = "plains", overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Speeds (km/h) per highway class for a terrain, with per-scenario overrides.

    Overrides are taken as given (not scaled by the terrain factor).

    Raises
    ------
    GeodataError
        For an unknown terrain or a speed that is not positive.
    """
    if terrain not in TERRAIN_SPEED_FACTOR:
        raise GeodataError(
            f"terrain {terrain!r} is unknown; valid: {', '.join(TERRAIN_SPEED_FACTOR)}"
        )
    factor = TERRAIN_SPEED_FACTOR[terrain]
    speeds = {k: v * factor for k, v in DEFAULT_HIGHWAY_SPEEDS_KMH.items()}
    for cls, kmh in (overrides or {}).items():
        if not kmh > 0:
            raise GeodataError(f"speed of highway class {cls!r} must be > 0 km/h, got {kmh}")
        speeds[cls] = float(kmh)
    return speeds


_MAXSPEED = re.compile(r"^([0-9][.,0-9]*?)(?: ?(km/h|kmh|kph|mph|knots))?$")
_UNIT_TO_KMH = {"mph": 1.609344, "knots": 1.852}


def parse_maxspeed(value: Any) -> float | None:
    """Read an OSM ``maxspeed`` value in km/h, or None if it holds no usable number.

    Follows osmnx's rules: a number with an optional unit (km/h when none is given, mph and
    knots converted), per-lane values separated by ``|`` averaged. Lists (an osmnx-simplified
    edge that merged several ways) and ``;``-separated values (how the cache stores such lists)
    are averaged over their parsable parts. Symbolic values (``CN:urban``, ``none``, ``walk``)
    and speeds that are not positive give None.

    Parameters
    ----------
    value
        The tag value: a string, a number, a list of those, or None/NaN.

    Returns
    -------
    float or None
        Speed in km/h.
    """
    if isinstance(value, (list, tuple)):
        parts: list[Any] = list(value)
    elif isinstance(value, str):
        parts = value.split(";")
    else:
        parts = [value]
    speeds = [kmh for kmh in map(_parse_one_maxspeed, parts) if kmh is not None]
    return sum(speeds) / len(speeds) if speeds else None


def _parse_one_maxspeed(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, numbers.Real):
        kmh = float(value)
        return kmh if math.isfinite(kmh) and kmh > 0 else None
    lanes = []
    for lane in str(value).strip().split("|"):
        match = _MAXSPEED.match(lane.strip())
        if match is None:
            return None
        try:
            number = float(match.group(1).replace(",", "."))
        except ValueError:
            return None
        lanes.append(number * _UNIT_TO_KMH.get(match.group(2) or "", 1.0))
    kmh = sum(lanes) / len(lanes)
    return kmh if kmh > 0 else None


def main_highway_class(value: Any) -> str | None:
    """The highway class that stands for an edge: the most important of a list.

    An osmnx-simplified edge may merge ways of several classes. Importance is the order of
    :data:`DEFAULT_HIGHWAY_SPEEDS_KMH` (motorway first, road last), classes outside it rank
    after all of those, and ties keep the list order. This is also the class the cache stores,
    so a graph gets the same speeds before and after a round trip through the cache.

    Parameters
    ----------
    value
        The ``highway`` attribute: a string, a list of strings, or None.

    Returns
    -------
    str or None
        None when the edge has no class.
    """
    values = value if isinstance(value, (list, tuple)) else [value]
    names = [str(v) for v in values if v is not None and v == v]
    if not names:
        return None
    rank = {name: i for i, name in enumerate(DEFAULT_HIGHWAY_SPEEDS_KMH)}
    return min(names, key=lambda name: rank.get(name, len(rank)))


def add_speeds(
    graph: nx.MultiDiGraph,
    speeds_kmh: Mapping[str, float],
    *,
    fallback_kmh: float = FALLBACK_SPEED_KMH,
) -> nx.MultiDiGraph:
    """Set ``speed_kph`` and ``travel_time`` on every edge of a road graph, in place.

    An edge whose ``maxspeed`` tag is parsable (see :func:`parse_maxspeed`) drives at that
    speed. Any other edge drives at the speed of its highway class (see
    :func:`main_highway_class`) in ``speeds_kmh``, and an edge of a class missing from
    ``speeds_kmh``, or without a class, at ``fallback_kmh``. Unlike
    ``osmnx.routing.add_edge_speeds``, a class absent from ``speeds_kmh`` does not get the mean
    of the maxspeeds observed on the graph's edges of that class: every edge's speed depends on
    its own tags only, so a county gets the same speeds whether it is cut alone or from a
    larger extract. Travel time is ``length`` (metres) over the speed, in seconds.

    Parameters
    ----------
    graph
        osmnx-style MultiDiGraph with ``length`` (metres) on every edge; modified in place.
    speeds_kmh
        Speed (km/h) per OSM highway class, e.g. from :func:`highway_speeds`.
    fallback_kmh
        Speed (km/h) of edges whose class is not in ``speeds_kmh``.

    Returns
    -------
    networkx.MultiDiGraph
        ``graph`` itself (pass ``graph.copy()`` to keep the original unchanged).

    Raises
    ------
    GeodataError
        If a speed is not positive or an edge has no valid length.
    """
    for name, kmh in [*speeds_kmh.items(), ("fallback", fallback_kmh)]:
        if not (_is_number(kmh) and float(kmh) > 0):
            raise GeodataError(f"speed of highway class {name!r} must be > 0 km/h, got {kmh!r}")
    for u, v, key, data in graph.edges(keys=True, data=True):
        tagged = parse_maxspeed(data.get("maxspeed"))
        cls = main_highway_class(data.get("highway"))
        kmh = tagged if tagged is not None else float(speeds_kmh.get(cls or "", fallback_kmh))
        length = data.get("length")
        if not (_is_number(length) and float(length) >= 0):
            raise GeodataError(
                f"road edge ({u}, {v}, {key}) has length {length!r}; every edge needs a length "
                "in metres >= 0"
            )
        data["speed_kph"] = kmh
        data["travel_time"] = float(length) / (kmh / 3.6)
    return graph


def _is_number(value: Any) -> TypeGuard[numbers.Real]:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
