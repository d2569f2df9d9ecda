"""Sweep and optimise folders: start one, resume it, or replace that of another file.

A sweep folder's first file is ``.ruralsim-sweep.json`` (an optimise folder's
``.ruralsim-optimise.json``), naming the sweep file that started it. ``ruralsim sweep FILE --out
DIR`` starts in a new or empty folder or resumes the folder of the same FILE; the folder of
another file is refused unless ``--overwrite`` is given, and then replaced, provided it holds only
what the commands and ``ruralsim report`` write. See :mod:`sim.outdir` for run folders and the
leftovers of killed commands.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from sim.errors import UsageError
from sim.outdir import (
    RESUMED,
    RUN_MARKER,
    absolute,
    article,
    check_out_path,
    listing,
    overwrite_refused,
    pid_alive,
    recover_leftovers,
    remove_tree,
    sample_names,
    tell,
)


def prepare_sweep_out(
    out: str | os.PathLike[str],
    *,
    kind: str = "sweep",
    source: Path | None = None,
    overwrite: bool = False,
    key: str | None = None,
) -> Path:
    """Check that a sweep (or optimise, ``kind``) may start in or resume ``out``; return it
    absolute.

    A folder of that kind is resumed when its marker names ``source`` or the same ``key`` (an
    optimise file that differs only in its budget), or when no ``source`` is given; the folder
    of another file is refused unless ``overwrite``, and then :func:`start_sweep_folder`
    replaces it.

    Raises
    ------
    UsageError
        If ``out`` is neither new, empty, nor a folder of that kind with its marker, or is the
        folder of another file and ``overwrite`` is False.
    """
    shown = os.fspath(out)
    path = check_out_path(out)
    tell(recover_leftovers(path, shown=shown))
    if not path.exists() or not any(path.iterdir()):
        return path
    if _is_sweep_folder(path, kind):
        other = _other_file(path, kind, source, key)
        if other is not None and not overwrite:
            own = f"only its own file{_OR_BUDGET.get(kind, '')}"
            raise overwrite_refused(
                shown, f"holds the {kind} of {other} ({article(kind)} folder resumes {own})"
            )
        if other is not None:
            _check_only_outputs(path, shown, kind)
        tell(_tidy_sweep_files(path, shown))
        return path
    marker = RESUMED[kind]
    resumable = any((path / m).exists() for m in RESUMED.values())
    if (path / RUN_MARKER).exists() or ((path / "manifest.json").exists() and not resumable):
        why = f"is a run folder; {article(kind)} never writes into it"
    else:
        held = sample_names(listing(path))
        why = f"holds {held} and no {marker}, so it is not {article(kind)} folder"
    raise UsageError(
        f"--out {shown}: {why}; give a new or empty folder, or the folder of an earlier {kind} "
        "to resume it; nothing was changed"
    )


def _marker(path: Path, kind: str, field: str) -> str | None:
    """A text field (``FILE``, ``key``) of the marker of a sweep (optimise) folder, or None."""
    try:
        data = json.loads((path / RESUMED[kind]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get(field) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _other_file(path: Path, kind: str, source: Path | None, key: str | None = None) -> str | None:
    """The other file whose folder ``path`` is, or None if it is that of ``source`` (or of a
    file with the same ``key``)."""
    named = _marker(path, kind, f"{kind}_file")
    if source is None or named is None:
        return None
    if key is not None and _marker(path, kind, "key") == key:
        return None
    return None if absolute(named) == absolute(source) else named


#: What else an optimise folder resumes.
_OR_BUDGET = {"optimise": ", or one that differs only in its evaluations budget"}
#: What a sweep or optimise folder may hold for ``--overwrite`` to replace it: the files the
#: commands and ``ruralsim report`` write (runs/ and figures/ are checked entry by entry).
_SWEEP_OUTPUTS = frozenset(
    {
        *RESUMED.values(),
        "results.parquet",
        "summary.csv",
        "design.csv",
        "runs.csv",
        "sensitivity.csv",
        "evaluations.csv",
        "pareto.csv",
        "summary.md",
        "best.yaml",
        "manifest.json",
        "report.html",
    }
)


def _sweep_output(rel: str) -> bool:
    head, _, name = rel.partition("/")
    if not name:
        return rel in _SWEEP_OUTPUTS or rel in ("runs", "figures")
    if head == "runs":
        return name.endswith((".parquet", ".error.txt", ".json")) and "/" not in name
    return head == "figures" and "/" not in name and name.endswith(".png")


def _check_only_outputs(path: Path, shown: str, kind: str) -> None:
    """Refuse to replace a sweep (optimise) folder holding anything its commands did not write."""
    found = listing(path)
    foreign = [r for r, size in found.items() if not _sweep_output(r.rstrip("/")) or size < 0]
    if foreign:
        raise UsageError(
            f"--out {shown}: holds {sample_names(foreign)}, which {article(kind)} did not write, "
            "so --overwrite does not replace it; move those files away or give another --out "
            "(nothing was written)"
        )


def _tidy_sweep_files(path: Path, shown: str) -> str | None:
    """Remove the half-written ``NAME.tmp-PID`` files of a killed sweep in its folder."""
    removed = []
    for folder in (path, path / "runs"):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            m = re.fullmatch(r".+\.tmp-([0-9]{1,10})", e.name)
            if m and e.is_file(follow_symlinks=False) and not pid_alive(int(m[1])):
                try:
                    os.unlink(e.path)
                except OSError:
                    continue
                removed.append(Path(e.path).relative_to(path).as_posix())
    if not removed:
        return None
    return f"{shown}: an interrupted ruralsim left files behind: removed {sample_names(removed)}"


def _is_sweep_folder(path: Path, kind: str = "sweep") -> bool:
    marker = path / RESUMED[kind]
    if os.path.islink(marker) or not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("kind") == kind
    except (OSError, ValueError, AttributeError):
        return False


def start_sweep_folder(
    path: Path,
    *,
    shown: str,
    sweep_file: Path,
    kind: str = "sweep",
    replace: bool = False,
    key: str | None = None,
) -> None:
    """Create the sweep (or optimise, ``kind``) folder and its marker (first file) unless it is
    one already; with ``replace``, the folder of another file is emptied and started anew.
    ``key`` is recorded in the marker (see :func:`prepare_sweep_out`)."""
    from sim import __version__

    try:
        if replace and _is_sweep_folder(path, kind) and _other_file(path, kind, sweep_file, key):
            _check_only_outputs(path, shown, kind)
            remove_tree(path)
        path.mkdir(parents=True, exist_ok=True)
        if not _is_sweep_folder(path, kind):
            text = json.dumps(
                {
                    "kind": kind,
                    f"{kind}_file": str(absolute(sweep_file)),
                    "ruralsim_version": __version__,
                    **({"key": key} if key is not None else {}),
                }
            )
            (path / RESUMED[kind]).write_text(text + "\n", encoding="utf-8")
        (path / "runs").mkdir(exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {shown}: cannot create it ({exc.strerror or exc})") from None
