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

from collections.abc import Mapping
from types import MappingProxyType

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
