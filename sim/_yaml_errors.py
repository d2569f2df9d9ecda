"""Explain a pydantic validation error of a scenario (or another YAML file) in plain words.

:func:`format_validation_error` turns a pydantic ``ValidationError`` into a message that names,
for each problem, the file, the line, the field path, the bad value and what is valid; the
positions come from :class:`sim._yaml.Lines`. Several problems are listed numbered, up to
:data:`MAX_SHOWN_ERRORS`.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeGuard, Union, cast

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

if TYPE_CHECKING:
    from sim._yaml import Lines

#: Most problems of one file listed; the others are counted ("... and N more").
MAX_SHOWN_ERRORS = 20
MAX_VALUE_CHARS = 60

Loc = tuple[Any, ...]


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
        return (
            _wrong_format(err["input"], ctx),
            True,
            valid or f"text matching {ctx.get('pattern')}",
        )
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


def _wrong_format(value: Any, ctx: dict[str, Any]) -> str:
    """ "wrong format", or for a code of digits of the wrong length, how many it has."""
    digits = re.fullmatch(r"\^14\\d\{(\d+)\}\$", str(ctx.get("pattern", "")))
    if digits and isinstance(value, str) and value.isdigit():
        want = int(digits.group(1)) + 2
        if len(value) != want:
            return f"wrong length: {len(value)} digits, a code here has {want}"
    return "wrong format"


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
    exc: ValidationError,
    *,
    model: type[BaseModel],
    source: str | Path,
    lines: Lines | None,
    what: str = "scenario",
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
    what
        What the file is, in the head of a list of problems ("scenario", "sweep file").

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
    return numbered(str(source), rendered, len(errors), what=what)


def numbered(source: str, rendered: list[str], total: int, *, what: str = "scenario") -> str:
    """One message for the problems of a file: the problem alone, or a numbered list.

    ``rendered`` holds the first problems (at most :data:`MAX_SHOWN_ERRORS` are shown), each
    naming its own file and line; ``total`` counts them all, so that the list ends with
    "... and N more" when some are left out.
    """
    if total == 1 and rendered:
        return rendered[0]
    shown = rendered[:MAX_SHOWN_ERRORS]
    more = total - len(shown)
    width = len(str(len(shown)))
    head = f"{source}: {total} problems in the {what}:"
    tail = [f"  ... and {more} more"] if more else []
    items = [f"  {i:>{width}}. {r}" for i, r in enumerate(shown, 1)]
    return "\n".join([head, *items, *tail])
