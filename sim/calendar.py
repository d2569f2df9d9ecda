"""The simulated calendar: which date each simulated day is, and its demand factor.

Day ``d`` of a run is ``start_date + d``. Its inbound demand is the villages' mean rate times
the weekday factor times the factor of every event (Double-11, Spring Festival, ...) covering
that date; overlapping events multiply.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

from sim.measure import simulated_days
from sim.scenario import DemandEvent, Scenario

if TYPE_CHECKING:
    import numpy as np


def dates(scenario: Scenario) -> list[_dt.date]:
    """The calendar date of each simulated day."""
    return [scenario.start_date + _dt.timedelta(days=d) for d in range(simulated_days(scenario))]


def _covers(event: DemandEvent, day: _dt.date) -> bool:
    if isinstance(event.start, _dt.date) and isinstance(event.end, _dt.date):
        return event.start <= day <= event.end
    md = day.strftime("%m-%d")
    start, end = str(event.start), str(event.end)
    return start <= md <= end if start <= end else md >= start or md <= end


def daily_factors(scenario: Scenario) -> list[float]:
    """Multiplier of the inbound demand on each simulated day, as Python floats.

    The same values as :func:`demand_factors`, without numpy (``validate`` needs only their
    sum, for the run size).
    """
    cal = scenario.demand.calendar
    out = []
    for day in dates(scenario):
        f = cal.weekday_factors[day.weekday()]
        for event in cal.events:
            if _covers(event, day):
                f *= event.factor
        out.append(float(f))
    return out


def demand_factors(scenario: Scenario) -> np.ndarray:
    """Multiplier of the inbound demand on each simulated day, shape (simulated days,)."""
    import numpy as np

    return np.array(daily_factors(scenario), dtype=np.float64)
