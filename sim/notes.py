"""What a planner should know about a scenario as a whole, from the scenario alone.

These notes need neither geodata nor roads: ``validate`` prints them without building the
world, the builder keeps them in :attr:`sim.world.World.notes`, and ``run`` writes them to the
manifest with the build warnings.
"""

from __future__ import annotations

from sim.measure import design_notes
from sim.scenario import Scenario, clock_minutes


def region_notes(scenario: Scenario) -> list[str]:
    """What a planner should know about a scenario as a whole (measurement, schedules).

    These need no geodata: ``validate`` prints them without building the world.
    """
    return design_notes(scenario) + schedule_notes(scenario)


def schedule_notes(scenario: Scenario) -> list[str]:
    """Departures scheduled before the shift of the vehicles that drive them (they wait)."""
    fleet = scenario.fleet
    village_types = set(fleet.township_default)
    for counts in fleet.townships.values():
        village_types |= set(counts)
    groups = [
        (
            "schedules.shuttle_departures",
            scenario.schedules.shuttle_departures,
            fleet.county_centre,
        ),
        ("schedules.village_departures", scenario.schedules.village_departures, village_types),
    ]
    notes = []
    for field, times, types in groups:
        for name in sorted(types):
            shift = fleet.vehicle_types[name].shift
            early = [t for t in times if clock_minutes(t) < clock_minutes(shift.start)]
            if early:
                notes.append(
                    f"{field}: {', '.join(early)} is before the {shift.start} shift start of "
                    f"vehicle type {name!r} (fleet.vehicle_types.{name}.shift); it leaves at "
                    f"{shift.start}"
                )
    return notes
