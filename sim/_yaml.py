"""Read scenario YAML safely, recording where every value sits in the file.

:func:`load_with_lines` parses a file with a restricted safe loader and records where every
value sits in the file; :func:`format_validation_error` (from :mod:`sim._yaml_errors`, kept
importable here) turns a pydantic ``ValidationError`` into a message that names the file, the
line, the field path, the bad value and what is valid, for each problem.
"""

from __future__ import annotations

import re
import stat
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sim._yaml_errors import format_validation_error
from sim.errors import ScenarioError

__all__ = ["Lines", "format_validation_error", "load_model", "load_with_lines"]

MAX_EXPANDED_NODES = 200_000
#: Largest scenario or sweep file read, bytes. A whole-province scenario listing every one of
#: Shanxi's ~28,000 villages with its population is under 1 MB; parsing 5 MB takes seconds.
MAX_FILE_BYTES = 5_000_000

Loc = tuple[Any, ...]
_M = TypeVar("_M", bound=BaseModel)


# --------------------------------------------------------------------------- loading


def _without(tags: set[str]) -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """Copy the SafeLoader's implicit resolvers, leaving out the given tags."""
    return {
        first: [(tag, rx) for tag, rx in resolvers if tag not in tags]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


class _TooManyValues(Exception):
    """The file holds more values than a scenario can use."""


class _ScenarioLoader(yaml.SafeLoader):
    """A safe loader closer to YAML 1.2: no sexagesimal numbers, no yes/no/on/off booleans.

    Leading-zero numbers such as ``0700`` also stay strings instead of becoming octal.
    Duplicate keys in a mapping are an error.
    """

    yaml_implicit_resolvers = _without(
        {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
    )

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.composed = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Compose one node, stopping once the file holds more than MAX_EXPANDED_NODES."""
        self.composed += 1
        if self.composed > MAX_EXPANDED_NODES:
            raise _TooManyValues
        return super().compose_node(parent, index)  # type: ignore[no-any-return]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping, refusing a key given twice (keys from a ``<<`` merge may be)."""
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                seen = key in first_line
            except TypeError:  # unhashable: the base class reports it
                continue
            if seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first given on line {first_line[key]}); "
                    "each key may appear only once in a mapping",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Build one value, reporting an impossible scalar (e.g. ``2026-02-30``) at its line."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:
            if not isinstance(node, yaml.ScalarNode):
                raise
            kind = node.tag.rsplit(":", 1)[-1].replace("timestamp", "date")
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid {kind} ({exc})", node.start_mark
            ) from None


_ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?(?:0|[1-9][0-9_]*))$"),
    list("-+0123456789"),
)
_ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class Lines:
    """Where each value of a parsed YAML file sits: field path -> (line, column), 1-based.

    Paths are stored with every key and list index as text, so an error location from
    pydantic finds its line whether a key was written as ``140821100201`` or ``"140821100201"``.
    """

    positions: Mapping[tuple[str, ...], tuple[int, int]] = field(default_factory=dict)
    #: For values laid over the file by an overlay (:mod:`sim._overlay`): path -> that file.
    origin: Mapping[tuple[str, ...], str] = field(default_factory=dict)

    def _deepest(self, loc: Loc) -> tuple[str, ...]:
        path: tuple[str, ...] = ()
        for part in loc:
            step = (*path, part if isinstance(part, str) else str(part))
            if step not in self.positions:
                break
            path = step
        return path

    def find(self, loc: Loc) -> tuple[int, int] | None:
        """Return the position of ``loc``, or of its deepest ancestor found in the file."""
        return self.positions.get(self._deepest(loc))

    def file_of(self, loc: Loc) -> str | None:
        """The overlay file that wrote ``loc`` (or its deepest ancestor found), else None."""
        return self.origin.get(self._deepest(loc))


def _key_names(key: Any) -> list[str]:
    # The forms pydantic may use for this key in an error location.
    if isinstance(key, str):
        return [key]
    if isinstance(key, bool):
        return [str(int(key)), str(key)]
    if isinstance(key, int):
        return [str(key)]
    return [str(key), repr(key)]


def _index(loader: _ScenarioLoader, root: yaml.Node) -> Lines:
    """Record the position of every mapping key and list item under ``root``."""
    out: dict[tuple[str, ...], tuple[int, int]] = {
        (): (root.start_mark.line + 1, root.start_mark.column + 1)
    }
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:  # an alias: its lines are those of the anchor
            continue
        seen.add(id(node))
        children: list[tuple[list[str], yaml.Node, yaml.Mark]] = []
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    names = _key_names(loader.construct_object(key_node))
                    children.append((names, value_node, key_node.start_mark))
        elif isinstance(node, yaml.SequenceNode):
            children = [([str(i)], item, item.start_mark) for i, item in enumerate(node.value)]
        for names, child, mark in children:
            for name in names:
                key = (*path, name)
                out[key] = (mark.line + 1, mark.column + 1)
            stack.append((child, (*path, names[0])))
    return Lines(types.MappingProxyType(out))


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Count the values ``root`` expands to once aliases are copied out; stop past ``limit``."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if depth > 200:
            raise RecursionError
        sizes[id(node)] = limit + 1  # a node reached again while being counted is a cycle
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item, depth + 1) for item in node.value)
        else:
            total = 1
        sizes[id(node)] = min(total, limit + 1)
        return sizes[id(node)]

    return size(root, 0)


def _yaml_problem(exc: yaml.YAMLError, source: Path, text: str) -> str:
    """One sentence for a YAML error: file, line, column and the problem."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable YAML"
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else str(source)
        if exc.context and problem.startswith("but "):  # "expected X" + "but found Y"
            return f"{where}: invalid YAML: {exc.context}, {problem}"
        message = f"{where}: invalid YAML: {problem}"
        if "'\\t'" in problem:
            message += "; indent with spaces, not tabs"
        if exc.context and exc.problem and exc.context_mark is not None:
            message += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
        return message
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return (
            f"{source}:{line}: invalid YAML: control character U+{exc.character:04X} is not "
            "allowed; remove it or write it as an escape in a double-quoted string"
        )
    return f"{source}: invalid YAML: {exc}"


def _read_limited(path: Path) -> bytes:
    """Read a regular file of at most :data:`MAX_FILE_BYTES`, refusing anything else at once.

    Devices (``/dev/zero``), FIFOs and sockets would never end or block forever, so the kind
    and size of the file are checked before reading, and at most one byte past the limit is
    read in case the file grows in between.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ScenarioError(f"scenario file {path} does not exist") from None
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ScenarioError(f"{path} is a directory; give the path of a scenario YAML file")
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError(
            f"{path} is not a regular file (a device, pipe or socket); give the path of a "
            "scenario YAML file"
        )
    too_big = (
        f"{path} is larger than {MAX_FILE_BYTES:,} bytes, the most a scenario or sweep file "
        "may be; list fewer codes or split the file"
    )
    if info.st_size > MAX_FILE_BYTES:
        raise ScenarioError(f"{too_big} (it has {info.st_size:,} bytes)")
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(too_big)
    return raw


def load_with_lines(path: Path) -> tuple[Any, Lines]:
    """Parse a YAML scenario file safely and index where each value is written.

    Parameters
    ----------
    path
        The YAML file.

    Returns
    -------
    data
        The plain data (a dict at the top level).
    lines
        The position of every key and list item, for error messages.

    Raises
    ------
    ScenarioError
        If the file is missing, not a regular file, larger than :data:`MAX_FILE_BYTES`,
        unreadable, not UTF-8, not valid YAML, has a duplicate key, is empty, or does not hold
        a mapping at the top level.
    """
    path = Path(path)
    raw = _read_limited(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(
            f"{path}:{line}: the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
            "save it with UTF-8 encoding"
        ) from None
    loader: _ScenarioLoader | None = None
    try:
        loader = _ScenarioLoader(text)
        root = loader.get_single_node()
        if root is None or root.tag == "tag:yaml.org,2002:null":
            raise ScenarioError(
                f"{path} is empty; a scenario is a mapping with keys such as "
                "schema_version, name, region, horizon_days and seed"
            )
        if not isinstance(root, yaml.MappingNode):
            kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
            raise ScenarioError(
                f"{path}:{root.start_mark.line + 1}: the top level of a scenario must be a "
                f"mapping of keys (schema_version: 1, name: ..., ...), not {kind}"
            )
        if _expanded_size(root, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
            raise ScenarioError(
                f"{path}: the file expands to more than {MAX_EXPANDED_NODES:,} values through "
                "YAML aliases (or an alias refers to itself); write the values out"
            )
        data = loader.construct_document(root)
        lines = _index(loader, root)
    except yaml.YAMLError as exc:
        raise ScenarioError(_yaml_problem(exc, path, text)) from None
    except _TooManyValues:
        raise ScenarioError(
            f"{path}: the file holds more than {MAX_EXPANDED_NODES:,} values, more than any "
            "scenario needs; list fewer codes or split the study"
        ) from None
    except RecursionError:
        raise ScenarioError(f"{path}: the YAML is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def load_model(path: Path, model: type[_M], what: str) -> tuple[_M, Lines]:
    """Read a YAML file that is not a scenario (a sweep or optimise file) into ``model``.

    ``what`` names the kind of file in messages ("sweep file", "optimise file"). Returns the
    validated model and where each value is written.

    Raises
    ------
    ScenarioError
        As :func:`load_with_lines`, if the path is not a regular file, or naming the line,
        field and value of every problem the model finds.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ScenarioError(f"{what} {path}: not a regular file; give a YAML {what}")
    data, lines = load_with_lines(path)
    try:
        return model.model_validate(data), lines
    except ValidationError as exc:
        text = format_validation_error(exc, model=model, source=path, lines=lines, what=what)
        raise ScenarioError(text) from None
