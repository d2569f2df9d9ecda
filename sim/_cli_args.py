"""Checks of command-line arguments shared by the ``ruralsim`` commands."""

from __future__ import annotations

import argparse
import difflib
import math
import re
from collections.abc import Sequence
from typing import Any, NoReturn

from sim.errors import UsageError


def positive(flag: str, value: float | None, *, allow_zero: bool = False) -> None:
    """Refuse a numeric CLI argument that is negative, not finite, or zero unless allowed."""
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        valid = "a number >= 0" if allow_zero else "a whole number >= 1"
        raise UsageError(f"{flag}: got {value}; valid: {valid}")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`UsageError` (exit 2, one line) and that
    suggests the closest command or option for a mistyped one.

    Options must be spelt out: an abbreviation such as ``--rep`` is refused with the option
    it abbreviates suggested, so that adding an option never changes what an old command means.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Raise the message, with a suggestion, as a :class:`UsageError`."""
        raise UsageError(f"{self.prog}: {_did_you_mean(message)} (see `{self.prog} --help`)")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse as argparse does, after refusing an unknown option of a command (a parser
        without subcommands), with the closest known option suggested."""
        if args is not None and not any(
            isinstance(a, argparse._SubParsersAction) for a in self._actions
        ):
            self._check_options(list(args))
        return super().parse_known_args(args, namespace)

    def _check_options(self, args: list[str]) -> None:
        known = [o for o in self._option_string_actions if o.startswith("--")]
        for arg in args:
            if arg == "--":
                return
            if not arg.startswith("-") or arg == "-" or _NUMBER.match(arg):
                continue
            name = arg.split("=", 1)[0]
            if name in self._option_string_actions:
                continue
            close = [o for o in known if o.startswith(name)] if name.startswith("--") else []
            close = close[:1] or difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            self.error(f"unrecognized option {name}{hint}")


#: An argument that is a negative number, not an option.
_NUMBER = re.compile(r"^-(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


def _did_you_mean(message: str) -> str:
    """argparse's message about an unknown choice, with the closest valid one suggested."""
    m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if not m:
        return message
    choices = re.findall(r"'([^']*)'", m.group(2))
    close = difflib.get_close_matches(m.group(1), choices, n=1)
    return message + (f"; did you mean '{close[0]}'?" if close else "")
