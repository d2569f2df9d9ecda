"""Named random streams: one ``numpy.random.Generator`` per (seed, replication, concern).

Each concern (demand, pickups, network layout, ...) draws from its own stream, derived with
``numpy.random.SeedSequence`` from the scenario seed, the replication number and a stable hash
of the concern's name. Streams therefore do not depend on the order in which they are created,
and common random numbers hold across scenario variants.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str, replication: int = 0) -> np.random.Generator:
    """Return the generator for one concern of one replication.

    Parameters
    ----------
    seed
        The scenario seed (a non-negative integer).
    name
        The concern, e.g. ``"demand"`` or ``"pickup"``.
    replication
        Replication number, starting at 0.

    Returns
    -------
    numpy.random.Generator
    """
    key = (int(replication), zlib.crc32(name.encode("utf-8")))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))
