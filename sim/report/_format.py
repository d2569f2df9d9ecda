"""Human formatting of the report's numbers: units, thousands separators, shares as percent."""

from __future__ import annotations

import math

from sim.kpi import COUNT_KPIS
from sim.labels import Labels

#: KPI name endings (or names) that are shares of 0..1.
_SHARE_MARKS = ("coverage", "_share", "_rate", "utilisation", "coverage_pop", "_covered")


def kpi_kind(kpi: str) -> str:
    """How a KPI is shown: share, count, hours, yuan, yuan_day, km, kg or number."""
    if kpi.endswith(_SHARE_MARKS):
        return "share"
    if kpi in COUNT_KPIS or kpi.startswith("parcels_") or kpi.startswith("backlog_"):
        return "count"
    if kpi.endswith("_yuan_per_day"):
        return "yuan_day"
    if kpi.endswith("_yuan"):
        return "yuan"
    if kpi.endswith(("_h", "_hours")):
        return "hours"
    if kpi.endswith("_km"):
        return "km"
    if kpi.endswith("_kg"):
        return "kg"
    return "number"


def unit(kind: str, words: Labels) -> str:
    """The unit shown after a value of ``kind`` (empty for shares and plain numbers)."""
    key = {
        "hours": "u_h",
        "yuan": "u_yuan",
        "yuan_day": "u_per_day",
        "km": "u_km",
        "kg": "u_kg",
        "count": "u_parcels",
    }.get(kind)
    return words(key) if key else ""


def number(x: float, kind: str = "number") -> str:
    """``x`` as text for its kind: ``82.9 %``, ``2,792``, ``47.3``, ``8.65``; ``–`` if NaN."""
    if x is None or not math.isfinite(x):
        return "–"
    if kind == "share":
        return f"{x * 100:.1f} %"
    if kind == "count":
        return f"{x:,.0f}" if float(x).is_integer() or abs(x) >= 1000 else f"{x:,.1f}"
    if kind == "yuan":
        return f"{x:,.2f}" if abs(x) < 1000 else f"{x:,.0f}"
    if kind in ("km", "yuan_day", "kg"):
        return f"{x:,.1f}" if abs(x) < 100 else f"{x:,.0f}"
    if kind == "hours":
        return f"{x:,.1f}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def clip_ci(low: float, high: float, kind: str) -> tuple[float, float]:
    """A confidence interval clipped to what the KPI can be: 0..1 for shares, >= 0 otherwise.

    Every KPI of the run is a share, a count, a time, a distance or a cost, none negative; a
    Student-t interval over few replications can still reach past those bounds.
    """
    low, high = max(low, 0.0), max(high, 0.0)
    if kind == "share":
        low, high = min(low, 1.0), min(high, 1.0)
    return low, high


def interval(low: float, high: float, kind: str) -> str:
    """A clipped 95% interval as text, ``13.6 – 100.0 %``; ``–`` when undefined."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    low, high = clip_ci(low, high, kind)
    if kind == "share":
        return f"{low * 100:.1f} – {high * 100:.1f} %"
    return f"{number(low, kind)} – {number(high, kind)}"
