"""Read scenario YAML safely and explain validation errors in plain words.

:func:`load_with_lines` parses a file with a restricted safe loader and records where every
value sits in the file; :func:`format_validation_error` turns a pydantic ``ValidationError`` into
one message that names the file, the line, the field path, the bad value and what is valid.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
import stat
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeGuard, Union, cast

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sim.errors import ScenarioError

MAX_SHOWN_ERRORS = 5
MAX_VALUE_CHARS = 60
MAX_EXPANDED_NODES = 200_000
#: Largest scenario or sweep file read, bytes. A whole-province scenario listing every one of
#: Shanxi's ~28,000 villages with its population is under 1 MB; parsing 5 MB takes seconds.
MAX_FILE_BYTES = 5_000_000

Loc = tuple[Any, ...]


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


# --------------------------------------------------------------------------- error messages


@dataclass(frozen=True)
class _Spot:
    """What the schema expects at one location: a type and the metadata around it."""

    tp: Any
    inner: tuple[Any, ...] = ()  # metadata of Annotated aliases, innermost first
    declared: FieldInfo | None = None  # the model field, when the location is one


def _unwrap(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    meta: tuple[Any, ...] = ()
    while typing.get_origin(tp) is Annotated:
        tp, *extra = typing.get_args(tp)
        meta = (*extra, *meta)
    return tp, meta


def _is_model(tp: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _branch(tp: Any, tag: str) -> Any | None:
    """Find the branch of a union that pydantic names ``tag`` in an error location."""
    for arm in typing.get_args(tp):
        base, _ = _unwrap(arm)
        origin = typing.get_origin(base)
        kind = origin or base
        name = getattr(kind, "__name__", None) or str(kind).removeprefix("typing.")
        if tag.lower().startswith(name.lower()):
            return arm
    return None


def _walk(root: type[BaseModel], loc: Loc) -> tuple[Loc, _Spot | None, int | None]:
    """Follow ``loc`` through the schema.

    Returns the location without union tags, what is expected there (None if unknown) and
    the index in that cleaned location of the last union passed (None if none).
    """
    spot: _Spot | None = _Spot(root)
    clean: list[Any] = []
    union_at: int | None = None
    for i, part in enumerate(loc):
        tp = spot.tp if spot else None
        arms = [a for a in typing.get_args(tp) if a is not type(None)] if _is_union(tp) else []
        if len(arms) == 1:  # Optional[X]: pydantic adds no branch name to the location
            tp, _ = _unwrap(arms[0])
        if _is_model(tp) and part in tp.model_fields:
            hint = typing.get_type_hints(tp, include_extras=True)[part]
            base, meta = _unwrap(hint)
            spot = _Spot(base, meta, tp.model_fields[part])
        elif _is_union(tp) and isinstance(part, str):
            arm = _branch(tp, part)
            union_at = len(clean)
            spot = _Spot(*_unwrap(arm)) if arm is not None else None
            continue
        elif typing.get_origin(tp) is dict:
            key_tp, value_tp = typing.get_args(tp)
            # pydantic puts a bad key at (..., key, "[key]"): the key of this mapping
            is_key = part == "[key]" or (i + 1 < len(loc) and loc[i + 1] == "[key]")
            spot = _Spot(*_unwrap(key_tp if is_key else value_tp))
        elif part == "[key]" and spot is not None and clean:  # the key's type is set above
            pass
        elif typing.get_origin(tp) is list and isinstance(part, int):
            spot = _Spot(*_unwrap(typing.get_args(tp)[0]))
        else:
            spot = None
        clean.append(part)
    return tuple(clean), spot, union_at


def _constraints(spot: _Spot) -> dict[str, Any]:
    found: dict[str, Any] = {}
    items = list(spot.inner) + ([spot.declared] if spot.declared else [])
    for item in items:
        for meta in [item, *getattr(item, "metadata", [])]:
            for name in ("gt", "ge", "lt", "le", "min_length", "max_length", "pattern"):
                value = getattr(meta, name, None)
                if value is not None and not isinstance(meta, FieldInfo):
                    found.setdefault(name, value)
    return found


def _pattern_words(spot: _Spot) -> str | None:
    """The description given with a string pattern, e.g. 'time of day, HH:MM on a 24-hour clock'."""
    for item in spot.inner:
        if isinstance(item, FieldInfo) and item.description:
            if any(getattr(meta, "pattern", None) for meta in item.metadata):
                return item.description
    return None


def _article(words: str) -> str:
    if words.startswith(("a ", "an ", "the ")):
        return words
    return ("an " if words[:1].lower() in ("a", "e", "i", "o", "u") else "a ") + words


def _bounds(c: dict[str, Any]) -> str:
    low = f"greater than {c['gt']}" if "gt" in c else f"at least {c['ge']}" if "ge" in c else ""
    high = f"less than {c['lt']}" if "lt" in c else f"at most {c['le']}" if "le" in c else ""
    if "ge" in c and "le" in c:
        return f" from {c['ge']} to {c['le']}"
    return " " + " and ".join(p for p in (low, high) if p) if low or high else ""


def _describe(spot: _Spot) -> str:
    """Say in plain words what value the schema accepts at ``spot``."""
    tp, c = spot.tp, _constraints(spot)
    origin = typing.get_origin(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number" + _bounds(c)
    if tp is float:
        return "a number" + _bounds(c)
    if tp is _dt.date:
        return "a date written YYYY-MM-DD"
    if tp is str:
        if "pattern" in c:
            words = _pattern_words(spot)
            text = _article(words) if words else f"text matching {c['pattern']}"
        else:
            text = "text"
        return text + (f", at most {c['max_length']} characters" if "max_length" in c else "")
    if origin is Literal:
        options = [repr(a) for a in typing.get_args(tp)]
        return " or ".join([", ".join(options[:-1]), options[-1]] if len(options) > 1 else options)
    if origin is list:
        item = _describe(_Spot(*_unwrap(typing.get_args(tp)[0])))
        least = c.get("min_length")
        return f"a list of items, each {item}" + (f" (at least {least})" if least else "")
    if origin is dict:
        key, value = (_describe(_Spot(*_unwrap(a))) for a in typing.get_args(tp))
        return f"a mapping from {key} to {value}"
    if _is_model(tp):
        return "a mapping with the keys " + ", ".join(tp.model_fields)
    if tp is type(None):
        return "empty"
    if _is_union(tp):
        # The field's own bounds (e.g. gt=0 on ``float | None``) hold for each branch.
        arms = [_unwrap(a) for a in typing.get_args(tp)]
        return " or ".join(
            _describe(_Spot(base, (*meta, *spot.inner), spot.declared)) for base, meta in arms
        )
    return getattr(tp, "__name__", str(tp))


def _show(value: Any) -> str:
    if value is None:
        return "an empty value"
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


# Start of a pydantic error type -> what was expected, for the *_type and *_parsing errors.
_TYPE_WORDS = (
    ("int", "a whole number"),
    ("float", "a number"),
    ("bool", "true or false"),
    ("string", "text"),
    ("list", "a list"),
    ("dict", "a mapping"),
    ("model", "a mapping"),
    ("date", "a date written YYYY-MM-DD"),
    ("finite", "a finite number"),
)


def _problem(err: Any, spot: _Spot | None, parent: _Spot | None) -> tuple[str, bool, str | None]:
    """Plain words for one pydantic error: (problem, show the value?, what is valid)."""
    kind: str = err["type"]
    ctx = err.get("ctx") or {}
    valid = _describe(spot) if spot is not None else None
    if spot is not None and spot.declared is not None and spot.declared.description:
        if kind != "string_pattern_mismatch" or not _pattern_words(spot):
            valid = f"{valid} ({spot.declared.description})"
    if kind == "extra_forbidden":
        known = list(parent.tp.model_fields) if parent and _is_model(parent.tp) else []
        close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
        problem = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
        return problem, False, ", ".join(known) or None
    if kind == "missing":
        return "required field missing", False, valid
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error") or err["msg"]).removeprefix("Value error, ")
        return text, not isinstance(err["input"], dict), None
    if kind == "invalid_key":
        return "keys must be text", True, valid
    if kind == "literal_error":
        return "not one of the allowed values", True, valid or ctx.get("expected")
    if kind == "string_pattern_mismatch":
        return "wrong format", True, valid or f"text matching {ctx.get('pattern')}"
    if kind.startswith(("greater", "less", "finite")) and err["input"] != err["input"]:
        return "not a number (NaN)", False, valid
    if kind == "finite_number":
        return "not a finite number", True, valid
    if kind in ("greater_than", "greater_than_equal"):
        return "too small", True, valid
    if kind in ("less_than", "less_than_equal"):
        return "too large", True, valid
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        what = "too short" if kind.endswith("short") else "too long"
        return what, True, valid
    for prefix, words in _TYPE_WORDS:
        if kind.startswith(prefix):
            return f"expected {words}", True, valid
    return str(err["msg"]), True, valid


def _drop_union_noise(errors: list[dict[str, Any]], root: type[BaseModel]) -> list[dict[str, Any]]:
    """Keep, for each union that failed, the branch that got furthest, or one summary error."""
    groups: dict[Loc, list[int]] = {}
    for i, err in enumerate(errors):
        clean, _, union_at = _walk(root, err["loc"])
        if union_at is not None:
            groups.setdefault(tuple(clean[:union_at]), []).append(i)
    drop: set[int] = set()
    replace: dict[int, dict[str, Any]] = {}
    for where, members in groups.items():
        depth = {i: len(errors[i]["loc"]) - len(where) - 1 for i in members}
        best = max(depth.values())
        if best > 0:
            tag = next(errors[i]["loc"][len(where)] for i in members if depth[i] == best)
            drop.update(i for i in members if errors[i]["loc"][len(where)] != tag)
        else:
            drop.update(members[1:])
            first = errors[members[0]]
            replace[members[0]] = {**first, "loc": where, "type": "union_mismatch", "ctx": {}}
    return [replace.get(i, err) for i, err in enumerate(errors) if i not in drop]


def _pointed(clean: Loc, err: dict[str, Any], spot: _Spot | None) -> Loc:
    """Where to point for an error; a check across a model's fields points at the first named."""
    if err["type"] != "value_error" or spot is None or not _is_model(spot.tp):
        return clean
    text = str(err["msg"])
    found = [(m.start(), name) for name in spot.tp.model_fields if (m := _word(name, text))]
    return (*clean, min(found)[1]) if found else clean


def _word(name: str, text: str) -> re.Match[str] | None:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text)


def format_validation_error(
    exc: ValidationError, *, model: type[BaseModel], source: str | Path, lines: Lines | None
) -> str:
    """Explain a scenario validation error in one message for the user.

    Parameters
    ----------
    exc
        The error raised by pydantic while validating a scenario.
    model
        The model that raised it (:class:`sim.scenario.Scenario`): its fields say what is valid.
    source
        The file (or a name such as ``<dict>`` for data built in code).
    lines
        Positions from :func:`load_with_lines`, or None when there is no file.

    Returns
    -------
    str
        One line per problem, ``FILE:LINE: field.path: problem; got VALUE; valid: ...``, at
        most a few of them, with pydantic's links and branch-by-branch noise left out.
    """
    raw = cast("list[dict[str, Any]]", list(exc.errors(include_url=False)))
    errors = _drop_union_noise(raw, model)
    rendered = []
    for err in errors[:MAX_SHOWN_ERRORS]:
        loc = tuple(err["loc"])
        clean, spot, _ = _walk(model, loc)
        _, parent, _ = _walk(model, loc[:-1]) if loc else (None, None, None)
        if err["type"] == "union_mismatch":
            problem, show, valid = "not a valid choice", True, _describe(spot) if spot else None
        else:
            problem, show, valid = _problem(err, spot, parent)
        path = [str(p) for p in clean if p != "[key]"]
        if clean and clean[-1] == "[key]" and err["type"] != "invalid_key":
            problem = f"bad key: {problem}"
        pointed = _pointed(clean, err, spot)
        where = str((lines.file_of(pointed) if lines is not None else None) or source)
        position = lines.find(pointed) if lines is not None else None
        if position is not None and position[0] > 0:  # line 0: a --set, not a file line
            where += f":{position[0]}"
        text = f"{where}: {'.'.join(path) or '(top level)'}: {problem}"
        if show:
            text += f"; got {_show(err['input'])}"
        if valid:
            text += f"; valid: {valid}"
        rendered.append(text)
    if len(errors) == 1:
        return rendered[0]
    more = len(errors) - len(rendered)
    head = f"{source}: {len(errors)} problems in the scenario:"
    tail = [f"  ... and {more} more"] if more else []
    return "\n".join([head, *(f"  {r}" for r in rendered), *tail])
