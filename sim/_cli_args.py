"""Checks of command-line arguments shared by the ``ruralsim`` commands."""

from __future__ import annotations

import math

from sim.errors import UsageError


def positive(flag: str, value: float | None, *, allow_zero: bool = False) -> None:
    """Refuse a numeric CLI argument that is negative, not finite, or zero unless allowed."""
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        valid = "a number >= 0" if allow_zero else "a whole number >= 1"
        raise UsageError(f"{flag}: got {value}; valid: {valid}")
