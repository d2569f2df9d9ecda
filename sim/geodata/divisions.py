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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sim.errors import GeodataError
from sim.geodata._data import DIVISIONS_FILE, read_shipped

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


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    """Return the shared, read-only division table (never hand it out uncopied)."""
    df = read_shipped(DIVISIONS_FILE, _read, columns=_COLUMNS)
    bad = ~df["level"].isin(LEVELS)
    if bad.any():
        raise GeodataError(
            f"geodata file {DIVISIONS_FILE} is corrupt: unknown level "
            f"{df.loc[bad, 'level'].iloc[0]!r} (valid: {', '.join(LEVELS)})"
        )
    return df[list(_COLUMNS)].sort_values("code", ignore_index=True)


@lru_cache(maxsize=1)
def _positions() -> dict[str, int]:
    return {code: i for i, code in enumerate(_table()["code"])}


def load_divisions() -> pd.DataFrame:
    """Return every administrative unit of Shanxi.

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``name``, ``level``, ``parent``, ``kind`` (all strings, empty
        strings where not applicable), one row per unit, in code order. A fresh copy on
        every call.
    """
    return _table().copy()


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
    df = _table()
    positions = _positions()
    level = _LEVEL_OF_LENGTH[len(code)]
    ancestor = next(
        (code[:n] for n in (9, 6, 4, 2) if n < len(code) and code[:n] in positions), "14"
    )
    same = df.loc[(df["level"] == level) & df["code"].str.startswith(ancestor), "code"]
    close = sorted(sorted(same, key=lambda c: abs(int(c) - int(code)))[:3])
    hint = ""
    if close:
        names = df["name"].to_numpy()
        hint = "; close matches: " + ", ".join(f"{c} {names[positions[c]]}" for c in close)
    anc_name = df["name"].iat[positions[ancestor]]
    return f"{hint}; `ruralsim geodata show {ancestor}` lists the units of {anc_name}"


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
    pos = _positions().get(natural)
    if pos is None:
        level = _LEVEL_OF_LENGTH[len(natural)]
        raise GeodataError(
            f"unknown {level} code {natural}: not in the NBS 2023 division table of Shanxi "
            f"(valid: {_VALID}, {_EXAMPLE}){_suggest(natural)}"
        )
    row = _table().iloc[pos]
    return Unit(**{field: str(row[field]) for field in _COLUMNS})


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
    df = _table()
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
    df = _table()
    mask = (df["level"] == "county") & (df["kind"] != "zone") & df["code"].str.startswith(u.code)
    return df.loc[mask, "code"].tolist()
