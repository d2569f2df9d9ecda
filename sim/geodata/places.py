"""Match OpenStreetMap place nodes to the townships and villages of one county by name.

The NBS table gives every township and village a code and a name but no position. Where OSM
has a place node with the same name, its point replaces the synthetic one. Names are compared
in two tiers, the first that finds anything wins:

1. *exact*: the names are equal once Unicode width variants are folded and whitespace dropped
   (``"猗氏镇"`` and ``"猗氏 镇"``);
2. *normalized*: the names are equal once the committee suffix (``村委会``, ``社区居民委员会``,
   ...) and then the settlement suffix (``村``, ``镇``, ``乡``, ``街道``, ``社区``) are
   stripped, so ``"东张村委会"``, ``"东张村"``, ``"东张"`` and ``"东张镇"`` all read ``"东张"``.

Both the OSM ``name`` and ``name:zh`` (column ``name_zh``) are compared. Townships are matched
first, against nodes tagged ``place`` = city, town, suburb or village (a unique non-village
node wins over village nodes). Villages are then matched against village, hamlet and
isolated_dwelling nodes (town nodes only when none of those bears the name). Village names
repeat within a county, so a village candidate must lie within ``max_village_km`` of its
township's matched point, and the nearest one wins; when the township is unmatched, a village
with several candidates stays unmatched as ambiguous. An OSM node serves one unit only: nodes
taken by townships are not offered to villages, and villages claim nodes greedily, exact
matches before normalized ones and shorter distances first.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from sim.errors import GeodataError
from sim.geodata.cache import PLACE_COLUMNS
from sim.geodata.divisions import load_divisions, unit

TOWNSHIP_PLACES: tuple[str, ...] = ("city", "town", "suburb", "village")
"""OSM ``place`` values a township may match; all but ``village`` are preferred."""

VILLAGE_PLACES: tuple[str, ...] = ("village", "hamlet", "isolated_dwelling")
"""OSM ``place`` values a village may match."""

VILLAGE_FALLBACK_PLACES: tuple[str, ...] = ("town",)
"""OSM ``place`` values a village may match when no :data:`VILLAGE_PLACES` node has its name."""

COMMITTEE_SUFFIXES: tuple[str, ...] = (
    "社区居民委员会",
    "居民委员会",
    "村民委员会",
    "社区居委会",
    "虚拟生活区",
    "村民委会",
    "村民委员",
    "虚拟社区",
    "类似社区",
    "居委会",
    "村委会",
    "委员会",
    "生活区",
    "村委",
)
"""Suffixes naming the committee or body rather than the place; stripped first (longest first)."""

SETTLEMENT_SUFFIXES: tuple[str, ...] = ("街道", "社区", "村", "镇", "乡")
"""Settlement-type suffixes stripped after :data:`COMMITTEE_SUFFIXES` (longest first)."""

METHODS: tuple[str, ...] = ("exact", "normalized", "")
"""Values of the ``method`` column: how a unit was matched ("" when unmatched)."""

REASONS: tuple[str, ...] = ("", "no_candidate", "ambiguous", "too_far", "taken")
"""Values of the ``reason`` column: why a unit is unmatched ("" when matched)."""

_POINT_COLUMNS = (
    "code",
    "level",
    "name",
    "lon",
    "lat",
    "osmid",
    "osm_name",
    "method",
    "candidates",
    "reason",
)
_INVISIBLE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
_EARTH_RADIUS_KM = 6371.009


@dataclass(frozen=True)
class PlaceMatch:
    """Result of matching a county's OSM place nodes to its townships and villages.

    Attributes
    ----------
    points
        One row per township and village of the county, in code order, with columns
        ``code``, ``level`` ("township" or "village"), ``name`` (NBS name), ``lon`` and
        ``lat`` (WGS-84 degrees of the matched node, NaN when unmatched), ``osmid``
        (nullable integer), ``osm_name`` (the matched OSM name, "" when unmatched),
        ``method`` (one of :data:`METHODS`), ``candidates`` (number of OSM nodes of an
        eligible place class whose name matches, exactly or normalized, before the distance
        and reuse rules) and ``reason`` (one of :data:`REASONS`).
    rates
        Share of units matched, in [0, 1], under the keys ``"township"``, ``"village"`` and
        ``"all"``; 0 for a level without units.
    """

    points: pd.DataFrame
    rates: Mapping[str, float]


def clean_name(name: object) -> str:
    """Fold Unicode width variants and drop whitespace from a name.

    Parameters
    ----------
    name
        A name, or a missing value (None, NaN), which gives "".

    Returns
    -------
    str
        The NFKC form of ``name`` without any whitespace or zero-width characters.
    """
    if not isinstance(name, str):
        return ""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", name))


def normalize_name(name: object) -> str:
    """Reduce a place or committee name to the key compared by the normalized tier.

    The name is cleaned (:func:`clean_name`), then one committee suffix
    (:data:`COMMITTEE_SUFFIXES`) and one settlement suffix (:data:`SETTLEMENT_SUFFIXES`) are
    stripped, longest first, never down to an empty string.

    Parameters
    ----------
    name
        NBS or OSM name.

    Returns
    -------
    str
        E.g. ``"东张"`` for ``"东张村委会"``, ``"东张村村民委员会"``, ``"东张村"`` and
        ``"东张镇"``; ``"王"`` for ``"王村村委会"`` and ``"王村"``.
    """
    text = clean_name(name)
    for suffixes in (COMMITTEE_SUFFIXES, SETTLEMENT_SUFFIXES):
        text = _strip_one(text, suffixes)
    return text


def _strip_one(text: str, suffixes: tuple[str, ...]) -> str:
    for suffix in sorted(suffixes, key=len, reverse=True):
        if len(text) > len(suffix) and text.endswith(suffix):
            return text[: -len(suffix)]
    return text


def match_places(places: pd.DataFrame, county: str, *, max_village_km: float = 15.0) -> PlaceMatch:
    """Match the OSM place nodes of a county to its townships and villages by name.

    Parameters
    ----------
    places
        OSM place nodes inside the county, with columns :data:`~sim.geodata.cache.PLACE_COLUMNS`
        (``osmid``, ``place``, ``name``, ``name_zh``, ``lon``, ``lat``). Rows without a name
        or a finite position are ignored. A frame without rows may lack the columns.
    county
        Six-digit county code, e.g. ``"140821"`` (临猗县).
    max_village_km
        Largest great-circle distance in km between a village candidate and the matched point
        of the village's township.

    Returns
    -------
    PlaceMatch

    Raises
    ------
    GeodataError
        If ``county`` is not a county code, ``places`` lacks a column or ``max_village_km``
        is not a positive number.
    """
    code = _county_code(county)
    try:
        max_km = float(max_village_km)
    except (TypeError, ValueError):
        max_km = math.nan
    if not 0 < max_km < math.inf:
        raise GeodataError(
            f"max_village_km must be a positive number of km, e.g. 15.0; got {max_village_km!r}"
        )
    units = _county_units(code)
    osm = _prepare_places(places)
    pairs = _name_pairs(units, osm)

    n = len(units)
    chosen = np.full(n, -1, dtype=np.int64)
    exact = np.zeros(n, dtype=bool)
    candidates = np.zeros(n, dtype=np.int64)
    reason = np.full(n, "", dtype=object)
    row_of = {c: i for i, c in enumerate(units["code"])}
    township_rows = np.flatnonzero(units["level"].to_numpy() == "township")
    village_rows = np.flatnonzero(units["level"].to_numpy() == "village")

    used = _match_townships(township_rows, pairs, chosen, exact, candidates, reason)
    township_row = np.array([row_of.get(p, -1) for p in units["parent"]], dtype=np.int64)
    _match_villages(
        village_rows,
        township_row,
        pairs,
        osm,
        used,
        max_km,
        chosen,
        exact,
        candidates,
        reason,
    )
    return _assemble(units, osm, pairs, chosen, exact, candidates, reason)


def _county_code(county: str) -> str:
    u = unit(county)
    if u.level != "county":
        raise GeodataError(
            f"county {county!r} is the {u.level} {u.name}; match_places needs a six-digit "
            "county code, e.g. 140821 (临猗县)"
        )
    return u.code


def _county_units(code: str) -> pd.DataFrame:
    """Return the townships and villages of a county (code, level, name, parent), in code order."""
    df = load_divisions()
    mask = df["level"].isin(("township", "village")) & df["code"].str.startswith(code)
    return df.loc[mask, ["code", "level", "name", "parent"]].reset_index(drop=True)


def _prepare_places(places: pd.DataFrame) -> pd.DataFrame:
    """Validate and clean the place frame: usable rows only, index 0..n-1."""
    if len(places) == 0:
        return pd.DataFrame(
            {
                "osmid": pd.Series(dtype="int64"),
                "place": pd.Series(dtype=object),
                "lon": pd.Series(dtype=float),
                "lat": pd.Series(dtype=float),
                "name": pd.Series(dtype=object),
                "name_zh": pd.Series(dtype=object),
            }
        )
    missing = [c for c in PLACE_COLUMNS if c not in places.columns]
    if missing:
        raise GeodataError(
            f"places: missing column(s) {', '.join(missing)}; a place frame needs "
            f"{', '.join(PLACE_COLUMNS)}"
        )
    lon = pd.to_numeric(places["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(places["lat"], errors="coerce").to_numpy(dtype=float)
    osm = pd.DataFrame(
        {
            "osmid": places["osmid"].to_numpy(),
            "place": [p.strip().lower() if isinstance(p, str) else "" for p in places["place"]],
            "lon": lon,
            "lat": lat,
            "name": [n if isinstance(n, str) else "" for n in places["name"]],
            "name_zh": [n if isinstance(n, str) else "" for n in places["name_zh"]],
        }
    )
    named = (osm["name"].map(clean_name) != "") | (osm["name_zh"].map(clean_name) != "")
    keep = np.isfinite(lon) & np.isfinite(lat) & named.to_numpy()
    return osm[keep].drop_duplicates("osmid").reset_index(drop=True)


def _name_pairs(units: pd.DataFrame, osm: pd.DataFrame) -> pd.DataFrame:
    """Return every (unit row, place row) whose names match: ``exact``, ``osm_name``, ``place``."""
    long = pd.concat(
        [pd.DataFrame({"p": osm.index, "osm_name": osm[column]}) for column in ("name", "name_zh")],
        ignore_index=True,
    )
    long["text"] = long["osm_name"].map(clean_name)
    long = long[long["text"] != ""]
    long["key"] = long["text"].map(normalize_name)
    nbs = pd.DataFrame(
        {
            "u": np.arange(len(units)),
            "text": units["name"].map(clean_name),
            "key": units["name"].map(normalize_name),
        }
    )
    pairs = nbs.merge(long, on="key", suffixes=("", "_osm"))
    pairs["exact"] = pairs["text"] == pairs["text_osm"]
    # one row per (unit, place), keeping the OSM name that matched best
    pairs = pairs.sort_values(["u", "p", "exact"], ascending=[True, True, False], kind="stable")
    pairs = pairs.drop_duplicates(["u", "p"])[["u", "p", "exact", "osm_name"]]
    pairs["place"] = osm["place"].to_numpy()[pairs["p"].to_numpy(dtype=np.int64)]
    return pairs.reset_index(drop=True)


def _match_townships(
    rows: np.ndarray,
    pairs: pd.DataFrame,
    chosen: np.ndarray,
    exact: np.ndarray,
    candidates: np.ndarray,
    reason: np.ndarray,
) -> set[int]:
    """Match townships in place; return the place rows they use."""
    eligible = pairs[pairs["u"].isin(rows) & pairs["place"].isin(TOWNSHIP_PLACES)]
    by_unit = dict(tuple(eligible.groupby("u")))
    proposals: list[tuple[int, int, int, int]] = []
    for u in rows:
        cands = by_unit.get(u)
        if cands is None:
            reason[u] = "no_candidate"
            continue
        candidates[u] = len(cands)
        tier = cands[cands["exact"]] if cands["exact"].any() else cands
        preferred = tier[tier["place"] != "village"]
        if len(preferred):
            tier = preferred
        if len(tier) > 1:
            reason[u] = "ambiguous"
            continue
        rank = 0 if tier["exact"].to_numpy()[0] else 1
        proposals.append((rank, int(candidates[u]), int(u), int(tier["p"].to_numpy()[0])))
    used: set[int] = set()
    for tier_rank, _, u, p in sorted(proposals):
        if p in used:
            reason[u] = "taken"
            continue
        used.add(p)
        chosen[u] = p
        exact[u] = tier_rank == 0
    return used


def _match_villages(
    rows: np.ndarray,
    township_row: np.ndarray,
    pairs: pd.DataFrame,
    osm: pd.DataFrame,
    used: set[int],
    max_km: float,
    chosen: np.ndarray,
    exact: np.ndarray,
    candidates: np.ndarray,
    reason: np.ndarray,
) -> None:
    """Match villages in place, skipping the place rows in ``used`` and adding to it."""
    mine = pairs[pairs["u"].isin(rows)]
    primary = dict(tuple(mine[mine["place"].isin(VILLAGE_PLACES)].groupby("u")))
    fallback = dict(tuple(mine[mine["place"].isin(VILLAGE_FALLBACK_PLACES)].groupby("u")))
    lonlat = osm[["lon", "lat"]].to_numpy(dtype=float)
    proposals: list[tuple[int, float, int, int]] = []
    for u in rows:
        cands = primary.get(u, fallback.get(u))
        if cands is None:
            reason[u] = "no_candidate"
            continue
        candidates[u] = len(cands)
        cands = cands[~cands["p"].isin(used)]
        if cands.empty:
            reason[u] = "taken"
            continue
        p = cands["p"].to_numpy()
        t = township_row[u]
        if t >= 0 and chosen[t] >= 0:
            dist = _haversine_km(lonlat[chosen[t]], lonlat[p])
            near = dist <= max_km
            if not near.any():
                reason[u] = "too_far"
                continue
            is_exact = cands["exact"].to_numpy() & near
            keep = is_exact if is_exact.any() else near
            rank = 0 if is_exact.any() else 1
            proposals.extend((rank, float(d), int(u), int(q)) for d, q in zip(dist[keep], p[keep]))
        else:
            is_exact = cands["exact"].to_numpy()
            keep = is_exact if is_exact.any() else np.ones(len(p), dtype=bool)
            if keep.sum() > 1:
                reason[u] = "ambiguous"
                continue
            rank = 0 if is_exact.any() else 1
            proposals.append((rank, math.inf, int(u), int(p[keep][0])))
    for rank, _, u, q in sorted(proposals):
        if chosen[u] >= 0 or q in used:
            continue
        used.add(q)
        chosen[u] = q
        exact[u] = rank == 0
    proposed = {u for _, _, u, _ in proposals}
    for u in proposed:
        if chosen[u] < 0:
            reason[u] = "taken"


def _haversine_km(origin: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Great-circle distance in km from one lon/lat point to each row of ``points``."""
    lon1, lat1 = np.radians(origin)
    lon2, lat2 = np.radians(points).T
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _assemble(
    units: pd.DataFrame,
    osm: pd.DataFrame,
    pairs: pd.DataFrame,
    chosen: np.ndarray,
    exact: np.ndarray,
    candidates: np.ndarray,
    reason: np.ndarray,
) -> PlaceMatch:
    matched = chosen >= 0
    idx = chosen[matched]
    lon = np.full(len(units), np.nan)
    lat = np.full(len(units), np.nan)
    lon[matched] = osm["lon"].to_numpy(dtype=float)[idx]
    lat[matched] = osm["lat"].to_numpy(dtype=float)[idx]
    osmid = pd.array([pd.NA] * len(units), dtype="Int64")
    if matched.any():
        osmid[matched] = osm["osmid"].to_numpy()[idx].astype(np.int64)
    matched_name = dict(zip(zip(pairs["u"], pairs["p"]), pairs["osm_name"]))
    osm_name = np.full(len(units), "", dtype=object)
    for u in np.flatnonzero(matched):
        osm_name[u] = matched_name[(u, chosen[u])]
    method = np.where(matched, np.where(exact, "exact", "normalized"), "")
    points = pd.DataFrame(
        {
            "code": units["code"].to_numpy(),
            "level": units["level"].to_numpy(),
            "name": units["name"].to_numpy(),
            "lon": lon,
            "lat": lat,
            "osmid": osmid,
            "osm_name": osm_name,
            "method": method.astype(object),
            "candidates": candidates,
            "reason": reason,
        },
        columns=list(_POINT_COLUMNS),
    )
    levels = units["level"].to_numpy()
    rates = {
        level: float(matched[mask].mean()) if mask.any() else 0.0
        for level, mask in (
            ("township", levels == "township"),
            ("village", levels == "village"),
            ("all", np.ones(len(units), dtype=bool)),
        )
    }
    return PlaceMatch(points=points, rates=MappingProxyType(rates))
