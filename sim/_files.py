"""Safe file plumbing: atomic writes that never leave a partial or temporary file behind, and
reads of a run's or sweep's tables that fail with one message naming the file."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import UsageError


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through ``write(tmp)`` and a rename, so a reader never sees half a file.

    Raises
    ------
    UsageError
        If the file cannot be written (a full disk, no permission); the temporary file is
        removed first, so nothing is left behind.
    """
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(_write_problem(path, exc)) from None
    finally:
        if tmp.exists():
            tmp.unlink(missing_ok=True)


def _write_problem(path: Path, exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{path}: cannot write it: the disk is full; free some space and run again"
    return f"{path}: cannot write it ({exc.strerror or type(exc).__name__})"


def read_json_object(path: Path) -> dict[str, Any]:
    """Read a JSON file that must hold an object (e.g. ``manifest.json``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise UsageError(f"{path}: not valid JSON{where}; rewrite the folder") from None
    if not isinstance(data, dict):
        raise UsageError(
            f"{path}: must hold a JSON object of keys, not a {type(data).__name__}; "
            "rewrite the folder"
        )
    return data


def read_table(
    path: Path, *, columns: tuple[str, ...] = (), only: Sequence[str] | None = None, **kwargs: Any
) -> pd.DataFrame:
    """Read a CSV or Parquet table of a run or sweep folder, with the columns it must have.

    ``only`` reads just those of a Parquet file's columns that it holds (others are skipped).

    Raises
    ------
    UsageError
        If the file is missing, empty, truncated or lacks a column; the message names it.
    """
    import pyarrow as pa

    try:
        if path.suffix == ".parquet":
            if only is not None:
                import pyarrow.parquet as pq

                names = set(pq.read_schema(path).names)
                kwargs["columns"] = [c for c in only if c in names]
            table = pd.read_parquet(path, **kwargs)
        else:
            table = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: the file is empty; rewrite the folder") from None
    except FileNotFoundError:
        raise UsageError(f"{path}: missing; rewrite the folder") from None
    except (OSError, ValueError, pa.ArrowException):
        raise UsageError(
            f"{path}: unreadable (truncated or not a {path.suffix[1:]} file); rewrite the folder"
        ) from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise UsageError(f"{path}: no column {missing[0]!r}; rewrite the folder")
    return table


def parquet_ok(path: Path) -> bool:
    """Whether ``path`` is a complete Parquet file (its footer and metadata read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except (OSError, ValueError, pa.ArrowException):
        return False
    return True
