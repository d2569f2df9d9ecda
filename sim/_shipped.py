"""The scenarios, sweeps and optimise files shipped with ruralsim, found by name.

``ruralsim run linyi_baseline --out DIR`` runs the shipped ``linyi_baseline.yaml``: an argument
without a folder or a suffix that is not a file names a shipped file. A wheel holds them in
``sim/_scenarios`` (copied from the repository's ``scenarios/`` folder at build time); a
checkout or an editable install reads that ``scenarios/`` folder itself.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from sim.errors import UsageError

_HERE = Path(__file__).resolve().parent
# The first is ``sim/_scenarios`` (wheel install), the second the repository's ``scenarios/``.
_CANDIDATES = (_HERE / "_scenarios", _HERE.parent / "scenarios")
#: Kinds of shipped files and their subfolders.
KINDS = {"scenario": ".", "sweep": "sweeps", "optimise": "optimise"}
#: The command that takes each kind.
_COMMAND = {"scenario": "run", "sweep": "sweep", "optimise": "optimise"}


def shipped_folder(kind: str = "scenario") -> Path | None:
    """The folder of the shipped files of ``kind``, or None if this install has none."""
    for root in _CANDIDATES:
        folder = root / KINDS[kind]
        if folder.is_dir():
            return folder.resolve()
    return None


def shipped_names(kind: str = "scenario") -> list[str]:
    """Names (file stems) of the shipped files of ``kind``, sorted."""
    folder = shipped_folder(kind)
    if folder is None:
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())


def is_bare_name(text: str) -> bool:
    """True if ``text`` could name a shipped file: no folder, no suffix, not empty."""
    return bool(text) and not re.search(r"[/\\.]", text) and text == text.strip()


def resolve_file(arg: str | os.PathLike[str], *, kind: str = "scenario") -> Path:
    """The file an argument names: itself if it exists or is a path, else the shipped one.

    Raises
    ------
    UsageError
        If ``arg`` is a bare name (no folder, no ``.yaml``) that is neither a file here nor a
        shipped file of ``kind``: the message lists the shipped names, with the closest one.
    """
    text = os.fspath(arg)
    path = Path(text)
    if os.path.lexists(path):
        return path
    if not is_bare_name(text):
        return _hint_for_missing(path, kind)
    folder = shipped_folder(kind)
    if folder is not None and (folder / f"{text}.yaml").is_file():
        return folder / f"{text}.yaml"
    names = shipped_names(kind)
    close = difflib.get_close_matches(text, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(names) or "none in this install"
    raise UsageError(
        f"{text}: no such file and no shipped {kind} of that name{hint} (shipped: {listed}; "
        "`ruralsim scenarios` lists them)"
    )


def _hint_for_missing(path: Path, kind: str) -> Path:
    """A missing ``NAME.yaml`` that is the file name of a shipped one: say how to run that."""
    if path.parent == Path(".") and path.suffix in (".yaml", ".yml"):
        if path.stem in shipped_names(kind):
            raise UsageError(
                f"{path}: no such file here; to use the shipped {kind} of that name, give "
                f"its name alone: {path.stem}"
            )
    return path


def _summary(path: Path) -> str:
    """One line about a shipped file: its ``description:``, else its first comment line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    found = re.search(r"^description:\s*(.+)$", text, re.M)
    if found:
        return found.group(1).strip().strip("\"'")
    comment = re.search(r"^#\s*(.+)$", text, re.M)
    return comment.group(1).strip() if comment else ""


def listing() -> str:
    """What ``ruralsim scenarios`` prints: every shipped file by kind, with one line each."""
    lines: list[str] = []
    for kind, command in _COMMAND.items():
        folder = shipped_folder(kind)
        names = shipped_names(kind)
        if folder is None or not names:
            continue
        if lines:
            lines.append("")
        lines.append(f"{kind} files (`ruralsim {command} NAME ...`), in {folder}:")
        width = max(map(len, names))
        for name in names:
            lines.append(f"  {name:<{width}}  {_summary(folder / f'{name}.yaml')}")
    return "\n".join(lines) if lines else "no shipped scenarios in this install"
