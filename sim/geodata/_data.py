"""Locate and read the geodata files shipped with ruralsim.

The files live in the repository's ``geodata/`` folder; a wheel carries the same folder as
``sim/_geodata``. Reading errors become :class:`~sim.errors.GeodataError` naming the file.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from sim.errors import GeodataError

T = TypeVar("T")

DIVISIONS_FILE = "shanxi_divisions.csv.gz"
COUNTIES_FILE = "shanxi_counties.parquet"
SEATS_FILE = "shanxi_county_seats.csv"

_HERE = Path(__file__).resolve()
# The first is ``Path(sim.__file__).parent / "_geodata"`` (wheel install), the second the
# repository's ``geodata/`` folder (source checkout or editable install).
_CANDIDATES = (_HERE.parents[1] / "_geodata", _HERE.parents[2] / "geodata")


def data_dir() -> Path:
    """Return the folder that holds the shipped geodata files.

    Returns
    -------
    pathlib.Path
        ``sim/_geodata`` inside an installed wheel, else the repository's ``geodata/``.

    Raises
    ------
    GeodataError
        If neither folder exists.
    """
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(str(c) for c in _CANDIDATES)
    raise GeodataError(
        f"shipped geodata folder not found (looked in {tried}); reinstall ruralsim, or in a "
        "source checkout restore the geodata/ folder"
    )


def data_path(name: str) -> Path:
    """Return the path of one shipped geodata file, checking that it exists.

    Parameters
    ----------
    name
        File name, e.g. ``"shanxi_divisions.csv.gz"``.

    Raises
    ------
    GeodataError
        If the file is missing.
    """
    path = data_dir() / name
    if not path.is_file():
        raise GeodataError(
            f"geodata file {path} is missing; reinstall ruralsim, or in a source checkout "
            "re-create it with `python geodata/derive.py RAW_DIR`"
        )
    return path


def read_shipped(name: str, read: Callable[[Path], T], *, columns: Iterable[str] = ()) -> T:
    """Read one shipped file with ``read``, turning any failure into a GeodataError.

    Parameters
    ----------
    name
        File name inside :func:`data_dir`.
    read
        Function that reads the file (e.g. ``pandas.read_csv``) and returns a table.
    columns
        Columns the table must have.

    Returns
    -------
    T
        Whatever ``read`` returns.

    Raises
    ------
    GeodataError
        If the file is missing, unreadable, or lacks a required column.
    """
    path = data_path(name)
    try:
        table = read(path)
    except (OSError, ValueError, EOFError, KeyError, zlib.error) as exc:
        raise GeodataError(
            f"geodata file {path} is corrupt or unreadable ({type(exc).__name__}: {exc}); "
            "reinstall ruralsim or re-derive it with `python geodata/derive.py RAW_DIR`"
        ) from exc
    missing = [c for c in columns if c not in getattr(table, "columns", ())]
    if missing:
        raise GeodataError(
            f"geodata file {path} lacks the column(s) {', '.join(missing)}; "
            "reinstall ruralsim or re-derive it with `python geodata/derive.py RAW_DIR`"
        )
    return table
