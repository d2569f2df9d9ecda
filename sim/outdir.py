"""Output folders: what a command may write or replace, and what an interrupted one left behind.

A run folder's last file is ``.ruralsim-run.json``, listing every file the run wrote with its
size. ``ruralsim run --out DIR`` writes into a new or empty folder; with ``--overwrite`` it also
replaces a folder whose marker is valid and that holds exactly the files it lists
(``figures/*.png``, ``report.html`` and ``results.xlsx``, which ``ruralsim report`` and
``ruralsim export`` write, are accepted whatever their contents). Sweep and optimise folders
are :mod:`sim._sweepdir`'s. Anything else is refused before any work is done, and nothing is
touched.

A run is written into ``.DIR.tmp-PID`` beside ``DIR``; an earlier run is renamed to
``.DIR.old-PID``, the new one to ``DIR``, and the old one is removed. A process killed on the way
leaves one of these behind. The next command on ``DIR`` (run, sweep, report, compare) puts back
an ``.old-PID`` of a process that is gone when ``DIR`` is missing, removes a gone process's
``.tmp-PID`` and an ``.old-PID`` that a complete run has replaced, and says so in one line on
stderr. Folders of live processes are never touched. (Liveness is judged on this machine: do not
share an output folder between machines running ruralsim at the same time.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

from sim.errors import UsageError

#: Marker of a complete run folder, written last.
RUN_MARKER = ".ruralsim-run.json"
#: Marker of a sweep folder, written first.
SWEEP_MARKER = ".ruralsim-sweep.json"
#: Marker of an optimise folder, written first.
OPTIMISE_MARKER = ".ruralsim-optimise.json"
#: Kinds of folders that a command resumes, and their markers.
RESUMED = {"sweep": SWEEP_MARKER, "optimise": OPTIMISE_MARKER}
#: Bytes a temporary sibling's name adds to the folder's name: ".", ".tmp-" and a 7-digit PID.
_SIBLING_EXTRA = 1 + len(".tmp-") + 7
_LEFTOVER = re.compile(r"(?P<kind>tmp|old)-(?P<pid>[0-9]{1,10})")


def absolute(out: str | os.PathLike[str]) -> Path:
    """``out`` as an absolute, normalised path (``..`` removed, symbolic links kept)."""
    return Path(os.path.abspath(os.fspath(out)))


def check_out_path(out: str | os.PathLike[str], *, flag: str = "--out") -> Path:
    """Check that an output path can be created or written, without touching anything.

    Refuses an empty path, a symbolic link, a path that is not a folder, a name too long for
    the file system (including the temporary sibling a run needs), and a parent that is a file
    or not writable. Returns the absolute path.
    """
    text = os.fspath(out)
    if not text.strip():
        raise UsageError(f"{flag} '': the path is empty; give a folder, e.g. {flag} runs/NAME")
    path = absolute(text)
    if path == path.parent:
        raise UsageError(f"{flag} {text}: is the root folder; give a folder below it")
    _check_names(path, text, flag)
    if os.path.islink(path):
        raise UsageError(
            f"{flag} {text}: is a symbolic link (to {os.readlink(path)}); ruralsim does not "
            f"write through links: give the folder it points to, or a new folder"
        )
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {text}: exists and is not a folder; give a folder")
    anchor = _existing_ancestor(path.parent)
    if not anchor.is_dir():
        raise UsageError(
            f"{flag} {text}: {anchor} is a file, not a folder, so the folder cannot be created"
        )
    if not _writable(anchor):
        raise UsageError(
            f"{flag} {text}: the folder {anchor} is not writable; give a folder in a writable place"
        )
    return path


def _check_names(path: Path, text: str, flag: str) -> None:
    try:
        limit = os.pathconf(_existing_ancestor(path), "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in path.parts[1:]:
        n = len(os.fsencode(part))
        if n > limit:
            raise UsageError(
                f"{flag} {text}: the name {part[:40]}... is {n} bytes; this file system allows "
                f"{limit}; give a shorter name"
            )
    n = len(os.fsencode(path.name))
    if n + _SIBLING_EXTRA > limit:
        raise UsageError(
            f"{flag} {text}: the name {path.name[:40]}... is {n} bytes; ruralsim writes beside "
            f"it a temporary folder .NAME.tmp-PID, whose name must fit in the {limit} bytes this "
            f"file system allows; give a name of at most {limit - _SIBLING_EXTRA} bytes"
        )


def _existing_ancestor(path: Path) -> Path:
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path)


def tell(note: str | None) -> None:
    if note:
        print(f"ruralsim: {note}", file=sys.stderr)


def tidy_leftovers(folder: str | os.PathLike[str]) -> None:
    """Tidy what an interrupted ruralsim left beside ``folder``, saying so on stderr."""
    if os.fspath(folder).strip():
        tell(recover_leftovers(folder))


def prepare_run_out(out: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Check that a run may be written to ``out``, after tidying leftovers; return it absolute.

    With ``overwrite=False`` (``ruralsim run`` without ``--overwrite``) an earlier run in
    ``out`` is refused too.

    Raises
    ------
    UsageError
        If ``out`` is not a new or empty folder or a complete earlier run (see the module), or
        is an earlier run and ``overwrite`` is False.
    """
    path = check_out_path(out)
    tell(recover_leftovers(path, shown=os.fspath(out)))
    problem = run_target_problem(path)
    if problem:
        raise UsageError(f"--out {os.fspath(out)}: {problem}")
    if not overwrite and path.exists() and any(path.iterdir()):
        raise overwrite_refused(os.fspath(out), "holds an earlier run")
    return path


def overwrite_refused(shown: str, what: str) -> UsageError:
    """The error of a command whose output exists and which was not given ``--overwrite``."""
    return UsageError(
        f"--out {shown}: {what}; add --overwrite to replace it, or give another --out "
        "(nothing was written)"
    )


def run_target_problem(path: Path) -> str | None:
    """Why a run may not replace ``path`` (with what to do), or None if it may."""
    try:
        return _target_problem(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc}); nothing was changed"


def _target_problem(path: Path) -> str | None:
    if os.path.islink(path):
        return "is a symbolic link; give a real folder; nothing was changed"
    if not path.exists():
        return None
    if not path.is_dir():
        return "exists and is not a folder; give a folder; nothing was changed"
    if not any(path.iterdir()):
        return None
    for kind, marker in RESUMED.items():
        if (path / marker).exists():
            return (
                f"is {article(kind)} folder; a run never replaces it; give another folder; nothing "
                "was changed"
            )
    why = run_folder_problem(path)
    if why is None:
        return None
    return (
        f"{why}, so it is not provably a complete ruralsim run and is not replaced; give a new "
        "or empty folder, or move those files away; nothing was changed"
    )


def run_folder_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete run folder as its marker lists it, or None if it is."""
    found = listing(folder)
    marker = folder / RUN_MARKER
    if found.get(RUN_MARKER, -1) < 0:
        return f"it holds {sample_names(found)} but no {RUN_MARKER}"
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        files = data["files"] if data.get("kind") == "run" else None
        ok = isinstance(files, dict) and all(
            isinstance(k, str) and type(v) is int for k, v in files.items()
        )
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        ok = False
    if not ok or not isinstance(files, dict):
        return f"its {RUN_MARKER} is not a valid run marker"
    for rel, size in sorted(files.items()):
        if _report_file(rel):
            continue
        if found.get(rel) != size:
            state = "missing" if rel not in found else f"{found[rel]} bytes"
            return f"{rel} is {state}, not the {size} bytes the run wrote"
    extra = [r for r in found if r not in files and r != RUN_MARKER and not _report_file(r)]
    bad = [r for r in found if _report_file(r) and found[r] < 0]
    if extra or bad:
        return f"it holds {sample_names(extra + bad)}, which the run did not write"
    return None


def _report_file(rel: str) -> bool:
    """Files that ``ruralsim report`` and ``ruralsim export`` write into a run folder (the run
    draws figures too)."""
    if rel in ("report.html", "results.xlsx", "figures/"):
        return True
    head, _, name = rel.partition("/")
    return head == "figures" and "/" not in name and name.endswith(".png")


def listing(folder: Path) -> dict[str, int]:
    """Every entry below ``folder``: relative path and size; folders end in ``/`` with size 0;
    symbolic links and other non-regular files have size -1."""
    out: dict[str, int] = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        rel_root = Path(root).relative_to(folder)
        for name in dirs + files:
            p = Path(root) / name
            rel = (rel_root / name).as_posix()
            st = p.lstat()
            if os.path.islink(p):
                out[rel] = -1
            elif p.is_dir():
                out[rel + "/"] = 0
            else:
                out[rel] = st.st_size if p.is_file() else -1
    return out


def sample_names(names: list[str] | dict[str, int], k: int = 3) -> str:
    names = sorted(names)
    more = f" and {len(names) - k} more" if len(names) > k else ""
    return ", ".join(names[:k]) + more


def write_run_marker(folder: Path) -> None:
    """Write the marker listing every file of ``folder``; call it after the last file."""
    from sim import __version__

    files = {r: s for r, s in listing(folder).items() if not r.endswith("/") and r != RUN_MARKER}
    text = json.dumps(
        {"kind": "run", "ruralsim_version": __version__, "files": files}, indent=1, sort_keys=True
    )
    (folder / RUN_MARKER).write_text(text + "\n", encoding="utf-8")


def temp_sibling(path: Path, kind: str) -> Path:
    """The hidden sibling ``.NAME.tmp-PID`` or ``.NAME.old-PID`` of this process."""
    return path.parent / f".{path.name}.{kind}-{os.getpid()}"


def replace_folder(tmp: Path, path: Path, *, shown: str) -> None:
    """Move the finished run ``tmp`` to ``path``, replacing an earlier run or empty folder.

    Raises
    ------
    UsageError
        Saying where the new and the earlier run are when a step fails.
    """
    problem = run_target_problem(path)
    if problem:
        remove_tree(tmp)
        raise UsageError(f"--out {shown}: {problem} (it changed while the run was simulated)")
    old = temp_sibling(path, "old")
    moved = path.exists()
    if moved:
        try:
            path.rename(old)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise UsageError(
                f"--out {shown}: could not move the earlier run aside ({exc.strerror or exc}); "
                "it is untouched and the new run was discarded"
            ) from None
    try:
        tmp.rename(path)
    except BaseException as exc:
        _put_back(old if moved else None, path, tmp, shown, exc)
        raise
    if moved:
        try:
            remove_tree(old)
        except OSError as exc:
            raise UsageError(
                f"--out {shown}: the new run is at {shown}, but the earlier run could not be "
                f"removed ({exc.strerror or exc}); what is left of it is at {old}; remove it by "
                "hand"
            ) from None


def _put_back(old: Path | None, path: Path, tmp: Path, shown: str, exc: BaseException) -> None:
    """After the new run could not be moved into place: restore the earlier one."""
    why = getattr(exc, "strerror", None) or exc
    if old is not None and old.exists() and not os.path.lexists(path):
        try:
            old.rename(path)
        except OSError:
            raise UsageError(
                f"--out {shown}: could not move the new run into place ({why}); the earlier run "
                f"is at {old} and the new one at {tmp}; rename one of them to {shown}"
            ) from None
    shutil.rmtree(tmp, ignore_errors=True)
    if isinstance(exc, OSError):
        before = "the earlier folder is back where it was" if old else "nothing was there before"
        raise UsageError(
            f"--out {shown}: could not move the new run into place ({why}); {before}, and the "
            "new run was discarded"
        ) from None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _leftovers(path: Path) -> list[tuple[str, int, Path]]:
    prefix = f".{path.name}."
    found = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    for e in entries:
        if not e.name.startswith(prefix):
            continue
        m = _LEFTOVER.fullmatch(e.name[len(prefix) :])
        if m and e.is_dir(follow_symlinks=False):
            found.append((m["kind"], int(m["pid"]), Path(e.path)))
    return sorted(found, key=lambda t: -_mtime(t[2]))


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def recover_leftovers(out: str | os.PathLike[str], *, shown: str | None = None) -> str | None:
    """Tidy what a killed ruralsim left beside ``out``; return one line saying what, or None."""
    path = absolute(out)
    shown = shown if shown is not None else os.fspath(out)
    notes = []
    for kind, pid, p in _leftovers(path):
        if pid_alive(pid):
            continue
        try:
            if kind == "tmp":
                remove_tree(p)
                notes.append(f"removed {p.name}, an unfinished run of process {pid}")
            elif not os.path.lexists(path):
                p.rename(path)
                notes.append(f"restored the earlier run from {p.name} (process {pid} was stopped)")
            elif run_folder_problem(path) is None and run_folder_problem(p) is None:
                remove_tree(p)
                notes.append(f"removed {p.name}, an earlier run that process {pid} had replaced")
            else:
                notes.append(f"left {p} of process {pid}; look at it and remove it by hand")
        except OSError as exc:
            notes.append(f"could not tidy {p} ({exc.strerror or exc})")
    if not notes:
        return None
    return f"{shown}: an interrupted ruralsim left folders behind: " + "; ".join(notes)


def article(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
