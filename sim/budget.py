"""Whether a scenario's run can fit: its calendar within year 9999 and its parcels in memory.

The engine draws every parcel of the simulated days (warm-up, window and drain) up front and
keeps one row per parcel for every replication, so a run's memory grows with the parcels it
holds at once: one county's (all replications) when a run streams county by county, every
county's for the in-memory :func:`sim.run`. Both
checks run before anything is allocated, at load (``validate``) and at build (``run``).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass

from sim.calendar import daily_factors
from sim.errors import ScenarioError
from sim.measure import simulated_days
from sim.scenario import Scenario

#: Peak bytes per parcel of a run, measured with tracemalloc on tests/data/tiny.yaml at 50-200
#: parcels per village and day (0.5-1 million parcels, engine and KPIs): about 400-500 bytes
#: per parcel (16 float columns and the parcel table built from them). Rounded up.
BYTES_PER_PARCEL = 600

#: Share of the machine's available memory a run may plan to use; the rest is headroom for
#: the estimate's error, figures, the run folder and the rest of the machine.
MEMORY_FRACTION = 0.5


@dataclass(frozen=True)
class RunSize:
    """The estimated size of a run.

    Attributes
    ----------
    parcels_per_replication
        Expected inbound and outbound parcels of one replication, over the simulated days.
    replications
        Replications kept in memory together.
    by_field
        Expected parcels of one replication per demand field, to name the largest.
    """

    parcels_per_replication: float
    replications: int
    by_field: dict[tuple[str, ...], float]

    @property
    def parcels(self) -> float:
        """Expected parcels of the whole run."""
        return self.parcels_per_replication * self.replications

    @property
    def memory_bytes(self) -> float:
        """Estimated peak memory of the run, bytes."""
        return self.parcels * BYTES_PER_PARCEL


def available_memory_bytes() -> int | None:
    """Memory available to a new run, bytes (``MemAvailable``, else free pages), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def rss_bytes() -> int:
    """This process's resident memory now, bytes (0 where ``/proc`` is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def estimate_run(scenario: Scenario, villages: list[str]) -> RunSize:
    """Expected parcels of a run (``villages``: the codes of every village of the region).

    Inbound: the villages' daily rate x the calendar factors, summed over the simulated days.
    Outbound: every village's baseline plus each specialty's triangular season (half its peak
    over its season, at most the simulated days). An upper bound of what the engine draws.
    """
    days = simulated_days(scenario)
    dem = scenario.demand.inbound
    if dem.mode == "flat":
        daily = len(villages) * dem.parcels_per_village_per_day
        inbound_field = "parcels_per_village_per_day"
    else:
        people = sum(dem.populations.get(c, dem.village_population) for c in villages)
        daily = float(people) * dem.parcels_per_person_per_day
        inbound_field = "parcels_per_person_per_day"
    factor_days = sum(daily_factors(scenario))  # Python floats: no overflow warning
    by_field: dict[tuple[str, ...], float] = {
        ("demand", "inbound", inbound_field): daily * factor_days
    }
    ob = scenario.demand.outbound
    by_field[("demand", "outbound", "parcels_per_village_per_day")] = (
        len(villages) * ob.parcels_per_village_per_day * days
    )
    for i, spec in enumerate(ob.specialties):
        grows = len(villages) if spec.villages == "all" else len(spec.villages)
        loc = ("demand", "outbound", "specialties", str(i), "peak_parcels_per_village_per_day")
        by_field[loc] = grows * spec.peak_parcels_per_village_per_day * min(days, 366) / 2
    return RunSize(sum(by_field.values()), scenario.replications, by_field)


def check_calendar(scenario: Scenario) -> None:
    """Refuse a start date whose simulated days run past 9999-12-31.

    Raises
    ------
    ScenarioError
        With ``loc`` ``("start_date",)``.
    """
    days = simulated_days(scenario)
    try:
        scenario.start_date + _dt.timedelta(days=days)
    except OverflowError:
        last_ok = _dt.date.max - _dt.timedelta(days=days)
        raise _error(
            ("start_date",),
            f"{scenario.start_date} plus the {days} simulated days (horizon_days + the drain) "
            f"runs past {_dt.date.max}, the last date the calendar knows; valid: a date up to "
            f"{last_ok}",
        ) from None


def check_run_size(
    scenario: Scenario, villages: list[str], *, whole_region: bool = False
) -> RunSize:
    """Refuse a run whose parcels cannot fit in the machine's available memory.

    A run streams county by county (:mod:`sim.stream`): it holds the parcels of one county,
    all its replications, at a time, so by default the largest county must fit. With
    ``whole_region`` every village's parcels must fit together, as for the in-memory
    :func:`sim.run`.

    Raises
    ------
    ScenarioError
        Naming the largest demand field in ``loc`` (or ``replications``), with the estimate
        and the limit.
    """
    check_calendar(scenario)
    held = villages
    if not whole_region and villages:
        by_county: dict[str, list[str]] = {}
        for v in villages:
            by_county.setdefault(v[:6], []).append(v)
        held = max(by_county.values(), key=len)
    size = estimate_run(scenario, held)
    available = available_memory_bytes()
    if available is None:
        return size
    limit = available * MEMORY_FRACTION
    if math.isfinite(size.memory_bytes) and size.memory_bytes <= limit:
        return size
    loc = max(size.by_field, key=lambda k: size.by_field[k])
    if scenario.replications > 1 and size.parcels_per_replication * BYTES_PER_PARCEL <= limit:
        loc = ("replications",)
    what = (
        f"{len(held):,} villages"
        if held is villages
        else f"the largest county, {held[0][:6]}, with {len(held):,} villages"
    )
    raise _error(
        loc,
        f"the run would create about {_count(size.parcels_per_replication)} parcels per "
        f"replication ({what} over {simulated_days(scenario)} simulated "
        f"days) x {scenario.replications} replication(s), needing about "
        f"{_gb(size.memory_bytes)} of memory at ~{BYTES_PER_PARCEL} bytes per parcel; the "
        f"limit is {_gb(limit)} ({MEMORY_FRACTION:.0%} of the {_gb(available)} available). "
        "Lower the demand, horizon_days or replications, or run fewer counties",
    )


def _count(x: float) -> str:
    if not math.isfinite(x):
        return "more than 1e308"
    return f"{x:,.0f}" if x < 1e15 else f"{x:.2g}"


def _gb(n: float) -> str:
    if not math.isfinite(n):
        return "unbounded GB"
    return f"{n / 1e9:,.1f} GB" if n < 1e18 else f"{n / 1e9:.2g} GB"


def _error(loc: tuple[str, ...], message: str) -> ScenarioError:
    err = ScenarioError(f"{'.'.join(loc)}: {message}")
    err.loc = loc  # type: ignore[attr-defined]
    err.detail = message  # type: ignore[attr-defined]
    return err
