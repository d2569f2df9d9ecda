"""The measurement design: warm-up, a window of whole weeks, and a drain after it.

Parcels created in the window (the cohort) are followed to their outcome: the run goes on for
a drain period after the window, with demand continuing so the network stays loaded, and stops
early once every parcel of the cohort has reached its point (or, outbound, its trunk or its
end). Only the cohort enters the parcel KPIs; costs and resource use are those of the window.
"""

from __future__ import annotations

import math

from sim.scenario import Scenario

DAY_MIN = 1440.0


def drain_days(scenario: Scenario) -> int:
    """Longest drain after the window, days (``drain_days``, else ``max_hold_days``)."""
    if scenario.drain_days is not None:
        return scenario.drain_days
    return math.ceil(scenario.pickup.max_hold_days)


def simulated_days(scenario: Scenario) -> int:
    """Days the engine may simulate: warm-up, window and the longest drain."""
    return scenario.horizon_days + drain_days(scenario)


def window(scenario: Scenario) -> tuple[float, float]:
    """The measurement window, (start, end) in minutes since 00:00 of day 0."""
    return scenario.warmup_days * DAY_MIN, scenario.horizon_days * DAY_MIN


def window_days(scenario: Scenario) -> int:
    """Length of the measurement window, days."""
    return scenario.horizon_days - scenario.warmup_days


def design_notes(scenario: Scenario) -> list[str]:
    """What a planner should know about the measurement design (shown by validate and run)."""
    notes = []
    days = window_days(scenario)
    if days % 7:
        counted = (
            f"over its first {days // 7} whole week(s) only"
            if days >= 7
            else f"over {days} days scaled to a week"
        )
        notes.append(
            f"the measurement window (horizon_days - warmup_days = {days} days) is not a whole "
            f"number of weeks, so visits per week are counted {counted}; make it "
            f"{max(7, round(days / 7) * 7)} days for weekly answers"
        )
    return notes
