"""The World: everything the engine needs, built once from a scenario.

A world holds one :class:`County` per county of the scenario's region; counties do not
interact (inbound parcels flow from each county centre to its own villages), so the engine
runs them one after another and the KPIs aggregate them to the province.

Within a county, facilities are numbered in one index space shared by the travel matrices:
index 0 is the county centre, indices ``1 .. T`` are the township points (township ``t`` has
facility ``t + 1``) and ``T + 1 .. T + V`` are the villages (village ``v`` has facility
``T + 1 + v``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

    from sim.scenario import Scenario


#: Kinds of village points, in the order of :attr:`County.village_kind` codes.
POINT_KINDS = ("service_point", "partner_outlet", "locker", "door")


def count_of(n: int, noun: str) -> str:
    """``n`` with thousands separators and ``noun``, plural unless ``n`` is 1 (``"1 county"``)."""
    if n == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n:,} {plural}"


@dataclass(frozen=True)
class Vehicle:
    """One vehicle and the routes it drives on each departure.

    Attributes
    ----------
    id
        Unique vehicle name, e.g. ``"141124-centre-van-1"`` or ``"141124100-etricycle-2"``.
    vtype
        Name of its vehicle type in the scenario's fleet.
    base
        Facility index it starts from and returns to.
    routes
        Stop sequences (facility indices, base excluded) driven one after another at each
        departure. Shuttles have one route of township facilities; village vehicles have one
        or more loops of village facilities.
    lane
        Whose parcels a village vehicle carries: the index of its carrier, or the number of
        carriers for a shared (co-delivery) vehicle.
    route_days
        Per route, the weekdays it runs on (7 bools, 0 = Monday), for routes planned per
        weekday (``planning.routes: daily``); None: every route runs every weekday (on a day
        it still calls only at the villages due then).
    """

    id: str
    vtype: str
    base: int
    routes: tuple[np.ndarray, ...]
    lane: int = 0
    route_days: tuple[np.ndarray, ...] | None = None

    def days_of(self, i: int) -> np.ndarray:
        """The weekdays route ``i`` runs on (7 bools, 0 = Monday)."""
        if self.route_days is None:
            return np.ones(7, dtype=bool)
        return self.route_days[i]


@dataclass(frozen=True)
class County:
    """A runnable model of one county, immutable once built.

    Attributes
    ----------
    scenario
        The validated scenario it was built from.
    terrain
        Terrain class used for its road speeds.
    county_code, county_name
        The county simulated.
    sources
        Layer name -> provenance (``"real: ..."``, ``"synthetic: ..."`` or ``"mixed: ..."``).
    quality
        Data-quality summary: place match rates, snap distances, connectors, components.
    graph
        The road network (osmnx-style MultiDiGraph).
    points
        Facility points: code, level, parent, lon, lat, node, synthetic.
    codes, names, levels
        Per facility index: statistical code ("seat" for the centre), name and level.
    township_codes, township_names
        Per township index.
    village_codes, village_names, village_township
        Per village index; ``village_township`` is the township index.
    village_has_point
        Village has its own point.
    village_kind
        Index into :data:`POINT_KINDS` of each village's point (meaningless without a point).
    village_township_km
        Road km from each village to its township point (for pickups held there).
    village_visit_days
        Shape (C + 1, V, 7) for C carriers: village ``v`` is visited on weekday ``d``
        (0 = Monday) by a village vehicle of lane ``l`` (:attr:`Vehicle.lane`: carrier ``l``'s
        own vehicles, or for ``l = C`` the shared co-delivery vehicles). All False for a
        village no vehicle of the lane has on its loops: a parcel whose lane never visits its
        village waits at the township point (``held_at_township``).
    village_served
        Village is on a loop of some vehicle of any lane (it has a point, visits and a
        vehicle), or on a bus line.
    village_rate
        Mean inbound parcels per day.
    village_population
        Residents (listed or the scenario default).
    time_min, km
        Per vehicle type, (F, F) matrices of fastest-path minutes and the km driven on them.
    shuttles, village_vehicles
        Vehicles of the county centre and of the township points.
    buses
        Rural bus lines carrying parcels; vehicle type ``"bus:<line>"`` (matrices under that
        key), routes: the line's village facilities.
    village_bus
        Per village, the index of the bus line serving it, or -1.
    township_shared
        Per township, whether its last mile is shared by all carriers (共同配送).
    warnings
        Things the build noticed that a planner should know (e.g. loops longer than allowed).
    engine_cache
        What the engine derives from the county alone (e.g. the village vehicles' routes by
        weekday), kept on first use for later replications and runs; not compared, not
        carried over by ``dataclasses.replace``.
    """

    scenario: Scenario
    terrain: str
    county_code: str
    county_name: str
    sources: dict[str, str]
    quality: dict[str, Any]
    graph: nx.MultiDiGraph
    points: pd.DataFrame
    codes: np.ndarray
    names: np.ndarray
    levels: np.ndarray
    township_codes: np.ndarray
    township_names: np.ndarray
    village_codes: np.ndarray
    village_names: np.ndarray
    village_township: np.ndarray
    village_has_point: np.ndarray
    village_kind: np.ndarray
    village_township_km: np.ndarray
    village_visit_days: np.ndarray
    village_served: np.ndarray
    village_rate: np.ndarray
    village_population: np.ndarray
    time_min: dict[str, np.ndarray]
    km: dict[str, np.ndarray]
    shuttles: tuple[Vehicle, ...]
    village_vehicles: tuple[Vehicle, ...]
    buses: tuple[Vehicle, ...] = ()
    village_bus: np.ndarray | None = None
    township_shared: np.ndarray | None = None
    warnings: tuple[str, ...] = field(default=())
    engine_cache: dict[Any, Any] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __repr__(self) -> str:
        """A one-line summary, e.g. ``County(临县 141124, mountain: 23 townships, ...)``."""
        return (
            f"County({self.county_name} {self.county_code}, {self.terrain}: "
            f"{count_of(self.n_townships, 'township')}, {count_of(self.n_villages, 'village')}, "
            f"{count_of(len(self.vehicles), 'vehicle')}, {count_of(len(self.buses), 'bus line')}, "
            f"roads {self.sources.get('roads', 'unknown').split(':', 1)[0]})"
        )

    @property
    def vehicles(self) -> tuple[Vehicle, ...]:
        """All vehicles, in the order of vehicle indices: shuttles, village vehicles, buses."""
        return self.shuttles + self.village_vehicles + self.buses

    @property
    def n_townships(self) -> int:
        """Number of townships."""
        return len(self.township_codes)

    @property
    def n_villages(self) -> int:
        """Number of villages."""
        return len(self.village_codes)

    def township_facility(self, t: np.ndarray | int) -> np.ndarray | int:
        """Facility index of township index ``t``."""
        return t + 1

    def village_facility(self, v: np.ndarray | int) -> np.ndarray | int:
        """Facility index of village index ``v``."""
        return v + 1 + self.n_townships


@dataclass(frozen=True)
class World:
    """The runnable model of a scenario's region: one :class:`County` per county.

    Attributes
    ----------
    scenario
        The validated scenario it was built from.
    counties
        The counties, in code order.
    notes
        What a planner should know about the scenario as a whole (e.g. a measurement window
        that is not whole weeks).
    """

    scenario: Scenario
    counties: tuple[County, ...]
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        """A one-line summary, e.g. ``World(临县 141124: 23 townships, 504 villages, ...)``.

        The full tables (graphs, matrices, points) stay out of it: a province's would run to
        megabytes.
        """
        townships = sum(c.n_townships for c in self.counties)
        villages = sum(c.n_villages for c in self.counties)
        vehicles = sum(len(c.vehicles) for c in self.counties)
        roads = self.source_summary().get("roads", {})
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(roads.items()))
        if len(self.counties) == 1:
            kinds = next(iter(roads), "unknown")
        return (
            f"World({self.label}: {count_of(townships, 'township')}, "
            f"{count_of(villages, 'village')}, {count_of(vehicles, 'vehicle')}, "
            f"roads {kinds or 'unknown'}, "
            f"scenario {self.scenario.name!r})"
        )

    @property
    def warnings(self) -> tuple[str, ...]:
        """Notes on the scenario, then build warnings of every county prefixed with its code."""
        counties = tuple(
            f"{c.county_code} {c.county_name}: {m}" for c in self.counties for m in c.warnings
        )
        return self.notes + counties

    @property
    def label(self) -> str:
        """A short name of the region, e.g. ``"临猗县 140821"`` or ``"3 counties"``."""
        if len(self.counties) == 1:
            c = self.counties[0]
            return f"{c.county_name} {c.county_code}"
        return f"{len(self.counties)} counties"

    def source_summary(self) -> dict[str, dict[str, int]]:
        """Per data layer, how many counties have it real, synthetic, mixed or derived."""
        out: dict[str, dict[str, int]] = {}
        for c in self.counties:
            for layer, text in c.sources.items():
                kind = text.split(":", 1)[0]
                out.setdefault(layer, {}).setdefault(kind, 0)
                out[layer][kind] += 1
        return out

    def synthetic_layers(self) -> list[str]:
        """Layers that are synthetic (or partly so) in at least one county."""
        return sorted(
            layer
            for layer, kinds in self.source_summary().items()
            if "synthetic" in kinds or "mixed" in kinds
        )

    def county(self, code: str) -> County:
        """The county with statistical code ``code``."""
        for c in self.counties:
            if c.county_code == code:
                return c
        raise KeyError(code)
