"""Administrative divisions of Shanxi: look up units, their parents and children.

The table is the National Bureau of Statistics 2023 statistical division code list (统计用区划
代码), five levels, shipped as ``geodata/shanxi_divisions.csv.gz``:

========== ====== ================= ===========================================
level      digits example           kind
========== ====== ================= ===========================================
province   2      ``14`` 山西省
prefecture 4      ``1411`` 吕梁市
county     6      ``141124`` 临县   district, city, county, zone
township   9      ``141124100``     town, township, subdistrict, other
village    12     ``141124100201``  village, community, other
========== ====== ================= ===========================================

Codes are strings. The padded forms used elsewhere (``140000``, ``141100``,
``141124100000``) are accepted and mapped to the natural-length code.

The file is read once with the standard library (about 40 ms): :func:`unit`,
:func:`child_codes`, :func:`county_of` and :func:`resolve_region` need no pandas, so checking a
scenario's codes (``ruralsim validate``) stays fast. :func:`load_divisions` and
:func:`children` return DataFrames and import pandas on first use.
"""

from __future__ import annotations

import csv
import gzip
import operator
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sim.errors import GeodataError
from sim.geodata._data import DIVISIONS_FILE, read_shipped

if TYPE_CHECKING:
    import pandas as pd

LEVELS = ("province", "prefecture", "county", "township", "village")
"""Division levels, from the top down."""

_LEVEL_OF_LENGTH = {2: "province", 4: "prefecture", 6: "county", 9: "township", 12: "village"}
_PADDING = {12: "000", 9: "000", 6: "00", 4: "00"}
_COLUMNS = ("code", "name", "level", "parent", "kind")
_VALID = "a 2-, 4-, 6-, 9- or 12-digit Shanxi statistical code starting with 14"
_EXAMPLE = "e.g. 14 is 山西省, 1411 is 吕梁市, 141124 is 临县"


@dataclass(frozen=True)
class Unit:
    """One administrative unit.

    Attributes
    ----------
    code
        Natural-length statistical code (2, 4, 6, 9 or 12 digits).
    name
        Chinese name, as published.
    level
        One of :data:`LEVELS`.
    parent
        Code of the parent unit; empty for the province.
    kind
        County: district, city, county or zone; township: town, township, subdistrict or
        other; village: village, community or other; empty for province and prefectures.
    """

    code: str
    name: str
    level: str
    parent: str
    kind: str


_Row = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class _Rows:
    """The rows of the division file as read, with its header as ``columns``."""

    columns: tuple[str, ...]
    rows: list[list[str]]


@dataclass(frozen=True)
class _Table:
    """The division table in plain Python, read with the standard library (no pandas).

    ``rows`` maps each code to its row (the fields of :class:`Unit`), in code order;
    ``children`` maps a code to the codes of its direct children, in code order.
    """

    rows: dict[str, _Row]
    children: dict[str, tuple[str, ...]]


def _read(path: Path) -> _Rows:
    try:
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
        reader = csv.reader(text.splitlines())
        header = tuple(next(reader, ()))
        rows = list(reader)
    except csv.Error as exc:
        raise ValueError(str(exc)) from None
    width = len(header)
    for line, row in enumerate(rows, 2):
        if len(row) != width:
            raise ValueError(f"line {line} has {len(row)} fields, the header {width}")
    return _Rows(header, rows)


@lru_cache(maxsize=1)
def _table() -> _Table:
    """Return the shared, read-only division table (about 20 ms to read, once)."""
    read = read_shipped(DIVISIONS_FILE, _read, columns=_COLUMNS)
    pick = operator.itemgetter(*(read.columns.index(c) for c in _COLUMNS))
    rows: list[_Row] = sorted(map(pick, read.rows), key=operator.itemgetter(0))
    bad = {row[2] for row in rows} - set(LEVELS)
    if bad:
        raise GeodataError(
            f"geodata file {DIVISIONS_FILE} is corrupt: unknown level {min(bad)!r} "
            f"(valid: {', '.join(LEVELS)})"
        )
    kids: dict[str, list[str]] = {}
    for code, _, _, parent, _ in rows:
        kids.setdefault(parent, []).append(code)
    return _Table({row[0]: row for row in rows}, {p: tuple(c) for p, c in kids.items()})


@lru_cache(maxsize=1)
def _frame() -> pd.DataFrame:
    """Return the shared, read-only division table as a DataFrame (never hand it out uncopied)."""
    import pandas as pd

    columns = list(zip(*_table().rows.values(), strict=True))
    return pd.DataFrame(
        dict(zip(_COLUMNS, columns, strict=True)), columns=list(_COLUMNS), dtype=str
    )


def load_divisions() -> pd.DataFrame:
    """Return every administrative unit of Shanxi.

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``name``, ``level``, ``parent``, ``kind`` (all strings, empty
        strings where not applicable), one row per unit, in code order. A fresh copy on
        every call.
    """
    return _frame().copy()


def child_codes(code: str) -> tuple[str, ...]:
    """Return the codes of the direct children of a unit, in code order, without pandas.

    Parameters
    ----------
    code
        Statistical code of any level.

    Returns
    -------
    tuple of str
        Empty for a village.

    Raises
    ------
    GeodataError
        If the code is malformed or unknown.
    """
    table = _table()
    if code not in table.rows:  # a padded or malformed code: normalize it, or raise
        code = unit(code).code
    return table.children.get(code, ())


def _normalize(code: str) -> str:
    """Return the natural-length form of ``code`` or raise GeodataError if malformed."""
    text = str(code).strip()
    if not re.fullmatch(r"[0-9]+", text):
        raise GeodataError(f"division code {text!r} is not {_VALID} ({_EXAMPLE})")
    while len(text) in _PADDING and text.endswith(_PADDING[len(text)]):
        text = text[: len(text) - len(_PADDING[len(text)])]
    if len(text) not in _LEVEL_OF_LENGTH or not text.startswith("14"):
        raise GeodataError(f"division code {code!r} is not {_VALID} ({_EXAMPLE})")
    return text


def _suggest(code: str) -> str:
    """Return a hint listing known codes close to an unknown, well-formed one."""
    rows = _table().rows
    level = _LEVEL_OF_LENGTH[len(code)]
    ancestor = next((code[:n] for n in (9, 6, 4, 2) if n < len(code) and code[:n] in rows), "14")
    same = [c for c, _, lv, _, _ in rows.values() if lv == level and c.startswith(ancestor)]
    close = sorted(sorted(same, key=lambda c: abs(int(c) - int(code)))[:3])
    hint = ""
    if close:
        hint = "; close matches: " + ", ".join(f"{c} {rows[c][1]}" for c in close)
    return f"{hint}; `ruralsim geodata show {ancestor}` lists the units of {rows[ancestor][1]}"


def unit(code: str) -> Unit:
    """Return the administrative unit with the given code.

    Parameters
    ----------
    code
        Statistical code of any level, e.g. ``"141124"`` (临县).

    Returns
    -------
    Unit

    Raises
    ------
    GeodataError
        If the code is malformed or not a Shanxi unit in the NBS 2023 table.
    """
    natural = _normalize(code)
    found = _table().rows.get(natural)
    if found is None:
        level = _LEVEL_OF_LENGTH[len(natural)]
        raise GeodataError(
            f"unknown {level} code {natural}: not in the NBS 2023 division table of Shanxi "
            f"(valid: {_VALID}, {_EXAMPLE}){_suggest(natural)}"
        )
    return Unit(*found)


def children(code: str) -> pd.DataFrame:
    """Return the direct children of a unit.

    Parameters
    ----------
    code
        Statistical code of any level.

    Returns
    -------
    pandas.DataFrame
        Same columns as :func:`load_divisions`, in code order; empty for a village.
    """
    parent = unit(code).code
    df = _frame()
    return df[df["parent"] == parent].reset_index(drop=True)


def county_of(code: str) -> str:
    """Return the code of the county-level unit that contains a county, township or village.

    Parameters
    ----------
    code
        County, township or village code.

    Returns
    -------
    str
        Six-digit county code (possibly one of the four zones).

    Raises
    ------
    GeodataError
        If the code is unknown or names a province or prefecture.
    """
    u = unit(code)
    if u.level in ("province", "prefecture"):
        raise GeodataError(
            f"{u.code} is the {u.level} {u.name}, which spans several counties; "
            "county_of needs a county, township or village code"
        )
    return u.code[:6]


def resolve_region(code: str) -> list[str]:
    """Return the county codes that a region code covers.

    Parameters
    ----------
    code
        Province (``"14"``), prefecture (e.g. ``"1411"``) or county (e.g. ``"141124"``) code.

    Returns
    -------
    list of str
        County codes in code order. For a province or prefecture the four development and
        scenic zones (kind ``"zone"``, no boundary polygon) are left out; a zone named on its
        own is returned as given.

    Raises
    ------
    GeodataError
        If the code is unknown or names a township or village.
    """
    u = unit(code)
    if u.level == "county":
        return [u.code]
    if u.level in ("township", "village"):
        raise GeodataError(
            f"region {u.code} is the {u.level} {u.name}; a region must be a province (14), "
            f"prefecture (4 digits) or county (6 digits) code, e.g. its county {u.code[:6]}"
        )
    return [
        c
        for c, _, level, _, kind in _table().rows.values()
        if level == "county" and kind != "zone" and c.startswith(u.code)
    ]
