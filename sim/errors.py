"""Errors raised by ruralsim for bad user input.

Every error names the file (when there is one), the field and what is valid, so that the
command line can print it as one paragraph and exit with status 2.
"""

from __future__ import annotations


class SimError(Exception):
    """Base class of every user-facing ruralsim error."""


class ScenarioError(SimError, ValueError):
    """A scenario file is unreadable, malformed or violates the schema."""


class GeodataError(SimError, ValueError):
    """Geodata is missing, malformed or names an unknown administrative unit."""


class BuildError(SimError, ValueError):
    """A valid scenario cannot be turned into a runnable world (e.g. a route is infeasible)."""


class UsageError(SimError, ValueError):
    """A command-line argument or output location is invalid."""
