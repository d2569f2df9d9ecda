"""Field types shared by the scenario models: codes, clock times, dates, names, the base model.

Part of the scenario schema; :mod:`sim.scenario` re-exports the public names.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _code_to_str(value: Any) -> Any:
    # YAML reads unquoted codes as integers; codes are strings everywhere else.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def codes_keys_to_str(value: Any) -> Any:
    """Turn the integer keys of a mapping of codes into strings (as YAML reads them)."""
    if isinstance(value, dict):
        return {_code_to_str(k): v for k, v in value.items()}
    return value


def _code(digits: int, pattern: str, description: str) -> Any:
    """A statistical code: text of ``digits`` digits, or (as YAML reads it unquoted) the same
    number; the JSON Schema accepts both, as the loader does."""
    low, high = int("14".ljust(digits, "0")), int("14".ljust(digits, "9"))
    return Annotated[
        str,
        BeforeValidator(_code_to_str),
        Field(pattern=pattern, description=description),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "pattern": pattern},
                    {"type": "integer", "minimum": low, "maximum": high},
                ],
                "description": description,
            }
        ),
    ]


PrefectureCode = _code(4, r"^14\d{2}$", "4-digit statistical code of a prefecture")
ProvinceCode = _code(2, r"^14$", "'14', the province of Shanxi")
CountyCode = _code(6, r"^14\d{4}$", "6-digit statistical code of a Shanxi county")
TownshipCode = _code(9, r"^14\d{7}$", "9-digit statistical code of a township")
VillageCode = _code(12, r"^14\d{10}$", "12-digit statistical code of a village")
ClockTime = Annotated[
    str,
    Field(pattern=_CLOCK.pattern, description="time of day, HH:MM on a 24-hour clock"),
]
PointKind = Literal["service_point", "partner_outlet", "locker", "door"]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", max_length=40)]
#: A name people read (a scenario, carrier or bus line): any printable text, Chinese included,
#: without control characters or surrounding spaces, e.g. ``襄汾基线`` or ``中通``.
Label = Annotated[
    str,
    Field(
        pattern=r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$",
        max_length=60,
        description="name of printable characters (Chinese included), without control "
        "characters or spaces at either end",
    ),
]


def clock_minutes(value: str) -> int:
    """Convert an ``HH:MM`` clock time to minutes after midnight."""
    match = _CLOCK.match(value)
    if match is None:
        raise ValueError(f"not an HH:MM time: {value!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def _iso_date(value: Any) -> Any:
    # An unquoted YAML date is a date already; a quoted one (and a JSON round trip, as in sweeps
    # and scenario.resolved.yaml) is YYYY-MM-DD text. Nothing else becomes a date: strict
    # validation refuses numbers (which lax pydantic reads as Unix timestamps).
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


Date = Annotated[_dt.date, BeforeValidator(_iso_date)]


class StrictModel(BaseModel):
    """Base of the scenario models: frozen, unknown keys refused, strict types."""

    # Strict types: no true for 1, no "300" for 300, no 1.0 for a whole number (a whole number
    # is still a valid float); no inf or NaN. Codes, clock times and dates, which YAML may give
    # in another form, are converted by their own before-validators.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


Terrain = Literal["plains", "hills", "mountain"]
