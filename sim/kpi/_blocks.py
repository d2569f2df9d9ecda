"""Cut a run's tables into per-county blocks by one sort of integer codes, never by masks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from sim.engine import Results
from sim.world import County

_NO_SKIPS = pd.DataFrame(
    {
        "replication": pd.Series([], dtype=np.int32),
        "county_code": pd.Series([], dtype=object),
        "vehicle": pd.Series([], dtype=object),
        "day": pd.Series([], dtype=np.int64),
        "villages": pd.Series([], dtype=np.int64),
        "planned_min": pd.Series([], dtype=float),
    }
)


def slices(df: pd.DataFrame, key: np.ndarray) -> Iterator[tuple[int, pd.DataFrame]]:
    """(key, rows) for each distinct integer key of ``df``, in key order, rows in table order.

    Rows already grouped by key (as the engine writes them) are sliced without a copy;
    otherwise one stable sort of the keys gives each group's rows.
    """
    if len(key) == 0:
        return
    order = None
    if np.any(key[1:] < key[:-1]):
        order = np.argsort(key, kind="stable")
        key = key[order]
    bounds = np.flatnonzero(key[1:] != key[:-1]) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [len(key)]])
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        rows = df.iloc[a:b] if order is None else df.take(order[a:b])
        yield int(key[a]), rows


def lean_trips(trips: pd.DataFrame) -> pd.DataFrame:
    """The trip table with its few-valued text columns as categoricals (same values).

    Per-county tests such as ``kind != "bus"``, row selections and group-bys then work on
    integer codes instead of strings. Place codes (``from_code``, ``to_code``) stay text:
    each county looks up only its own few legs' codes.
    """
    text = [
        col
        for col in ("county_code", "vehicle", "type", "kind")
        if col in trips.columns and not isinstance(trips[col].dtype, pd.CategoricalDtype)
    ]
    return trips.astype(dict.fromkeys(text, "category")) if text else trips


def _by(df: pd.DataFrame, columns: list[str]) -> dict:
    if len(df) == 0:
        return {}
    return dict(iter(df.groupby(columns, sort=False, observed=True)))


def blocks(
    results: Results,
) -> Iterator[tuple[int, County, pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """(replication, county, its parcels, trips and skipped loops) for every block of a run.

    Blocks come in (replication, county) order, then, per replication of the trips, the
    counties without any parcel (they still have KPIs: zero demand).
    """
    w = results.world
    all_trips = lean_trips(results.trips)
    trips = _by(all_trips, ["replication", "county_code"])
    skipped_all = results.skipped if results.skipped is not None else _NO_SKIPS
    skipped = _by(skipped_all, ["replication", "county_code"])
    empty = all_trips.iloc[:0]
    parcels = results.parcels
    n_c = len(parcels["county_code"].cat.categories)
    rep = parcels["replication"].to_numpy().astype(np.int64)
    key = rep * n_c + parcels["county_code"].cat.codes.to_numpy().astype(np.int64)
    seen = set()
    for k, p in slices(parcels, key):
        county = w.counties[k % n_c]
        block = (k // n_c, county.county_code)
        seen.add(block)
        yield block[0], county, p, trips.get(block, empty), skipped.get(block, _NO_SKIPS)
    for r in sorted(all_trips["replication"].unique()):
        for county in w.counties:
            block = (int(r), county.county_code)
            if block not in seen:
                p0 = parcels.iloc[:0]
                yield block[0], county, p0, trips.get(block, empty), skipped.get(block, _NO_SKIPS)


def county_blocks(results: Results) -> Iterator[tuple[County, pd.DataFrame, pd.DataFrame]]:
    """(county, its inbound parcels, its trips) over all replications pooled, every county."""
    w = results.world
    parcels = results.parcels
    inbound = parcels["direction"].cat.codes.to_numpy() == 0
    codes = parcels["county_code"].cat.codes.to_numpy().astype(np.int64)
    # Outbound rows get a key past every county, so they fall in a group of their own.
    key = np.where(inbound, codes, len(w.counties))
    groups = slices(parcels, key)
    all_trips = lean_trips(results.trips)
    trips = _by(all_trips, ["county_code"])
    nxt = next(groups, None)
    for ci, county in enumerate(w.counties):
        p = parcels.iloc[:0]
        if nxt is not None and nxt[0] == ci:
            p = nxt[1]
            nxt = next(groups, None)
        yield county, p, trips.get((county.county_code,), all_trips.iloc[:0])
