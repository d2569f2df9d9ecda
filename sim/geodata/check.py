"""The data-quality report behind ``ruralsim geodata check CODE``.

For a county it lays the county out exactly as a run would (cached OpenStreetMap data where
present, the synthetic fallback elsewhere) and reports, per layer, what is real and what is
synthetic, how many township and village names matched OSM place nodes, how far facilities
had to be snapped to the road graph, how many needed a connector, and how fragmented the graph
is. For a prefecture or the province it gives one line per county.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.geodata.divisions import load_divisions, resolve_region, unit
from sim.geodata.layout import CountyLayout, lay_out_county
from sim.geodata.show import _table
from sim.geodata.synthetic import Terrain


def check_report(
    code: str,
    *,
    cache_dir: Path | None = None,
    seed: int = 0,
    terrain: Terrain = "plains",
    snap_max_m: float = 500.0,
) -> str:
    """The data-quality report of a county, a prefecture or the province, as text.

    Parameters
    ----------
    code
        County, prefecture ("1411") or province ("14") code.
    cache_dir
        OSM cache folder.
    seed
        Seed of the synthetic layers.
    terrain
        Terrain used for road speeds.
    snap_max_m
        Snapping threshold beyond which a facility gets a connector.
    """
    counties = resolve_region(code)
    div = load_divisions()
    layouts = [
        lay_out_county(
            c,
            seed=seed,
            terrain=terrain,
            cache_dir=cache_dir,
            snap_max_m=snap_max_m,
            divisions=div,
        )
        for c in counties
    ]
    if unit(code).level == "county":
        return "\n".join(_county_report(layouts[0], snap_max_m))
    rows = [
        [
            lay.code,
            lay.name,
            lay.quality["roads"],
            _rate(lay, "township"),
            _rate(lay, "village"),
            _metres(lay.quality["snap_m"]["p90"]),
            sum(lay.quality["connectors"].values()),
            lay.quality["components"],
        ]
        for lay in layouts
    ]
    n_osm = sum(lay.quality["roads"] == "osm" for lay in layouts)
    u = unit(code)
    lines = [
        f"{u.name} {u.code}: data quality of {len(layouts)} counties "
        f"({n_osm} on OpenStreetMap roads, {len(layouts) - n_osm} synthetic)",
        "",
        *_table(
            [
                "code",
                "name",
                "roads",
                "towns matched",
                "villages matched",
                "snap p90",
                "connectors",
                "components",
            ],
            rows,
        ),
    ]
    return "\n".join(lines)


def _rate(lay: CountyLayout, level: str) -> str:
    rates = lay.quality["place_match_rate"]
    return "-" if rates is None else f"{rates[level]:.0%}"


def _metres(m: float) -> str:
    return f"{m / 1000:.1f} km" if m >= 1000 else f"{m:.0f} m"


def _county_report(lay: CountyLayout, snap_max_m: float) -> list[str]:
    q = lay.quality
    pts = lay.points
    n_t, n_v = len(lay.township_codes), len(lay.village_codes)
    towns = pts.iloc[1 : 1 + n_t]
    vills = pts.iloc[1 + n_t :]
    lines = [f"{lay.name} {lay.code}: data quality", ""]
    width = max(len(k) for k in lay.sources) + 2
    lines += [f"  {k.replace('_', ' '):<{width}}{v}" for k, v in lay.sources.items()]
    lines.append("")
    lines.append(
        f"  road graph: {q['graph_nodes']:,} nodes, {q['graph_edges']:,} edges, "
        f"about {q['graph_km']:,} km of road; {q['components']} strongly connected "
        f"component(s), the largest holding {q['largest_component_share']:.1%} of the nodes"
    )
    if q["place_match_rate"] is None:
        lines.append("  place names: no OpenStreetMap place nodes (synthetic points)")
    else:
        lines.append(
            f"  place names matched to OSM: townships {int((towns['source'] == 'osm').sum())}"
            f"/{n_t} ({q['place_match_rate']['township']:.0%}), villages "
            f"{int((vills['source'] == 'osm').sum())}/{n_v} "
            f"({q['place_match_rate']['village']:.0%}); the rest are synthetic points"
        )
    s = q["snap_m"]
    lines.append(
        f"  snap distance to the road graph: p50 {_metres(s['p50'])}, p90 {_metres(s['p90'])}, "
        f"p99 {_metres(s['p99'])}, max {_metres(s['max'])} (threshold {_metres(snap_max_m)})"
    )
    c = q["connectors"]
    lines.append(
        f"  connectors: {c['far'] + c['disconnected']} ({c['far']} beyond the threshold, "
        f"{c['disconnected']} next to a road that does not join the network)"
    )
    far = pts[pts["connector"]]
    if len(far):
        worst = far.sort_values("snap_m", ascending=False).head(5)
        listed = ", ".join(
            f"{c} {_metres(float(m))}" for c, m in zip(worst["code"], worst["snap_m"], strict=True)
        )
        lines.append(f"  farthest: {listed}")
    synthetic = int(np.sum(pts["source"].to_numpy()[1:] == "synthetic"))
    lines.append(f"  synthetic facility points: {synthetic} of {n_t + n_v}")
    return lines
