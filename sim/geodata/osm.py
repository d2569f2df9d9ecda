"""Download a county's roads and place nodes from OpenStreetMap through Overpass, with osmnx.

:func:`fetch_county` asks an Overpass server (via osmnx) for the drivable roads and the
settlement nodes inside the county polygon plus a buffer, gives every edge its class speed
and travel time, and stores the result in the on-disk cache (:mod:`sim.geodata.cache`), from
where every later run reads it without going online.

How failures are bounded. osmnx 2.1 answers HTTP 429 and 504 by sleeping 55 s and sending
the query again, with no limit, and its ``/status`` check can loop while the server reports
running queries (osmnx issues #697, #1351). Here a ``requests`` response hook turns every
non-2xx answer of the Overpass ``/interpreter`` endpoint into an exception before osmnx sees
it, the ``/status`` check is off (``overpass_rate_limit=False``: two queries per county, and
429 answers are met with our own exponential backoff), and our loop makes at most
``retries + 1`` attempts per query, each bounded by ``timeout_s``. A 200 answer carrying an
Overpass ``remark`` (the server stopped the query, so the data may be cut short) counts as a
failure too, never as a county. osmnx's fallback DNS-over-HTTPS lookup at 8.8.8.8, tried when
the server's name does not resolve and often unreachable from mainland China, is turned off.

osmnx keeps its configuration in the module ``osmnx.settings`` and the DNS pinning of
``_overpass_request`` replaces ``socket.getaddrinfo``; :func:`fetch_county` sets what it needs
for the duration of the download and restores all of it afterwards, so no global state is
left changed (but two threads must not fetch at the same time).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import requests
from osmnx._errors import InsufficientResponseError
from shapely.geometry.base import BaseGeometry

from sim.errors import GeodataError
from sim.geodata.boundaries import county_boundary
from sim.geodata.cache import (
    PLACE_COLUMNS,
    CountyOSM,
    default_cache_dir,
    load_county,
    save_county,
)
from sim.geodata.divisions import unit
from sim.geodata.speeds import add_speeds, highway_speeds

#: The Overpass server osmnx uses by default. Public instances and mirrors are listed at
#: https://wiki.openstreetmap.org/wiki/Overpass_API#Public_Overpass_API_instances
DEFAULT_OVERPASS_URL = "https://overpass-api.de/api"

#: osmnx network type of the road graph: public drivable roads, no service roads or tracks.
NETWORK_TYPE = "drive"

#: OSM ``place`` values fetched as settlement nodes. County seats are ``city`` or ``town``,
#: townships (乡镇) ``town`` or ``village``, administrative villages (行政村) ``village`` and
#: natural villages (自然村) ``hamlet``; ``isolated_dwelling`` (single farmsteads) is left out.
PLACE_TYPES = ("city", "town", "village", "hamlet")

_IMPORT_HINT = "`ruralsim geodata import FILE.osm.pbf`"
_PLACE_DTYPES = {
    "osmid": "int64",
    "place": "object",
    "name": "object",
    "name_zh": "object",
    "lon": "float64",
    "lat": "float64",
}
_T = TypeVar("_T")


def fetch_county(
    code: str,
    *,
    cache_dir: Path | str | None = None,
    overpass_url: str | None = None,
    buffer_m: float = 2000.0,
    timeout_s: int = 180,
    retries: int = 3,
    pause_s: float = 5.0,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> CountyOSM:
    """Return a county's OpenStreetMap roads and places, downloading them if not cached.

    A county already in the cache is returned from it without any network access unless
    ``force`` is set. Otherwise the drivable roads (osmnx ``network_type="drive"``,
    simplified, every component kept) and the place nodes (:data:`PLACE_TYPES`) inside the
    county polygon buffered by ``buffer_m`` are downloaded from Overpass, each edge gets its
    plains class speed and travel time (:func:`sim.geodata.speeds.add_speeds`), and the
    county is saved to the cache atomically. Raw Overpass answers are kept under
    ``<cache>/http/<code>/`` until then, so a fetch that failed halfway resumes without
    downloading the roads again; they are deleted once the county is saved. A failed fetch
    leaves an earlier cached copy untouched.

    Parameters
    ----------
    code
        Six-digit county code, e.g. ``"140821"`` (临猗县).
    cache_dir
        Cache folder; default :func:`sim.geodata.cache.default_cache_dir`.
    overpass_url
        Base URL of the Overpass API (ending in ``/api``; a trailing ``/interpreter`` is
        dropped); default :data:`DEFAULT_OVERPASS_URL`. From mainland China a nearby mirror
        is usually faster.
    buffer_m
        Metres added around the county polygon, so roads that leave and re-enter the county
        and villages on the border are kept.
    timeout_s
        Seconds the server may spend on a query, and the HTTP timeout of each request.
    retries
        Further attempts after a query failed with a timeout, HTTP 429 or 5xx, a broken
        connection, or no network at all; other failures are not retried.
    pause_s
        Pause before the first retry, in seconds; it doubles before each further retry.
    force
        Download again even if the county is cached.
    sleep
        Function that pauses between attempts (tests pass a recorder).

    Returns
    -------
    CountyOSM
        The county exactly as :func:`sim.geodata.cache.load_county` returns it, so a fresh
        download and a cached copy are identical.

    Raises
    ------
    GeodataError
        If the code is not a county with a boundary, an argument is out of range, the
        download still fails after the retries, or the server returns no drivable road.
    """
    _check_arguments(buffer_m=buffer_m, timeout_s=timeout_s, retries=retries, pause_s=pause_s)
    polygon = county_boundary(code)
    name = unit(code).name
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if not force:
        cached = load_county(code, root)
        if cached is not None:
            return cached

    url = normalize_overpass_url(overpass_url or DEFAULT_OVERPASS_URL)
    area = buffer_polygon(polygon, buffer_m=buffer_m)
    http_dir = root / "http" / code
    if force:
        shutil.rmtree(http_dir, ignore_errors=True)

    graph, places = _download(
        code,
        name,
        area,
        url,
        http_dir,
        retries=retries,
        pause_s=pause_s,
        sleep=sleep,
        timeout_s=timeout_s,
        buffer_m=buffer_m,
    )
    add_speeds(graph, highway_speeds("plains"))
    meta = _fetch_meta(name, url, buffer_m, graph, places)
    save_county(CountyOSM(code=code, graph=graph, places=places, meta=meta), root)
    shutil.rmtree(http_dir, ignore_errors=True)
    saved = load_county(code, root)
    if saved is None:  # pragma: no cover - save_county just wrote it
        raise GeodataError(f"county {code} {name} vanished from the cache {root} after saving")
    return saved


def _download(
    code: str,
    name: str,
    area: BaseGeometry,
    url: str,
    http_dir: Path,
    *,
    retries: int,
    pause_s: float,
    sleep: Callable[[float], None],
    timeout_s: int,
    buffer_m: float,
) -> tuple[nx.MultiDiGraph, pd.DataFrame]:
    """The roads and place nodes within ``area`` from the Overpass server at ``url``, each
    query retried (:func:`fetch_county`), raw answers kept under ``http_dir``."""

    def attempt(step: Callable[[], _T], what: str) -> _T:
        def guarded() -> _T:
            try:
                return step()
            except json.JSONDecodeError as exc:  # osmnx read a truncated answer from its cache
                shutil.rmtree(http_dir, ignore_errors=True)
                raise _OverpassFailure(
                    f"a saved Overpass answer under {http_dir} was unreadable (deleted)",
                    retryable=True,
                ) from exc

        return _with_retries(
            guarded,
            attempts=retries + 1,
            pause_s=pause_s,
            sleep=sleep,
            failed=f"could not download the {what} of county {code} {name} from the "
            f"Overpass server {url}",
            timeout_s=timeout_s,
        )

    with _osmnx_settings(
        overpass_url=url,
        requests_timeout=int(timeout_s),
        requests_kwargs=_with_response_hook(ox.settings.requests_kwargs),
        overpass_rate_limit=False,
        use_cache=True,
        cache_folder=str(http_dir),
        cache_only_mode=False,
        doh_url_template=None,
        log_console=False,
        log_file=False,
    ):
        graph = attempt(lambda: _download_roads(area), "road network")
        if graph.number_of_edges() == 0:
            raise GeodataError(
                f"the Overpass server {url} returned no drivable road for county {code} "
                f"{name} (within {buffer_m:g} m of its boundary): OpenStreetMap may have no "
                f"roads mapped there, or the server answered with an empty result; try another "
                f"server with --overpass-url, or import an extract with {_IMPORT_HINT}"
            )
        places = attempt(lambda: _download_places(area), "place nodes")
    return graph, places


def _fetch_meta(
    name: str, url: str, buffer_m: float, graph: nx.MultiDiGraph, places: pd.DataFrame
) -> dict[str, Any]:
    """What the cache records about a download."""
    return {
        "source": "overpass",
        "fetched": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "county_name": name,
        "overpass_url": url,
        "buffer_m": float(buffer_m),
        "network_type": NETWORK_TYPE,
        "place_types": list(PLACE_TYPES),
        "speeds": "plains defaults of sim.geodata.speeds",
        "osmnx_version": ox.__version__,
        "n_nodes": graph.number_of_nodes(),
        "n_edges": graph.number_of_edges(),
        "n_places": len(places),
    }


def normalize_overpass_url(url: str) -> str:
    """Return an Overpass base URL without trailing ``/`` or ``/interpreter``.

    Raises
    ------
    GeodataError
        If the URL is not an http(s) URL with a host.
    """
    base = url.strip().rstrip("/")
    if base.endswith("/interpreter"):
        base = base[: -len("/interpreter")].rstrip("/")
    parsed = urlparse(base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise GeodataError(
            f"Overpass URL {url!r} is not valid: expected an http(s) URL such as "
            f"{DEFAULT_OVERPASS_URL!r}"
        )
    return base


def buffer_polygon(polygon: BaseGeometry, *, buffer_m: float) -> BaseGeometry:
    """Grow a WGS-84 polygon by ``buffer_m`` metres, buffered in the UTM zone of its centre."""
    centre = polygon.centroid
    zone = int((centre.x + 180.0) // 6.0) % 60 + 1
    utm = f"EPSG:{(32600 if centre.y >= 0 else 32700) + zone}"
    series = gpd.GeoSeries([polygon], crs="EPSG:4326")
    return series.to_crs(utm).buffer(buffer_m).to_crs("EPSG:4326").iloc[0]


def _check_arguments(*, buffer_m: float, timeout_s: int, retries: int, pause_s: float) -> None:
    checks = {
        "buffer_m": (buffer_m, buffer_m >= 0, ">= 0 metres"),
        "timeout_s": (timeout_s, int(timeout_s) == timeout_s >= 1, "a whole number >= 1 s"),
        "retries": (retries, int(retries) == retries and retries >= 0, "a whole number >= 0"),
        "pause_s": (pause_s, pause_s >= 0, ">= 0 seconds"),
    }
    for name, (value, ok, valid) in checks.items():
        if not ok:
            raise GeodataError(f"{name} must be {valid}, got {value!r}")


def _download_roads(area: BaseGeometry) -> nx.MultiDiGraph:
    """Download the drivable road graph inside ``area`` (empty if there is none)."""
    try:
        return ox.graph_from_polygon(
            area, network_type=NETWORK_TYPE, simplify=True, retain_all=True
        )
    except InsufficientResponseError as exc:
        _raise_if_garbled(exc)
        return nx.MultiDiGraph()
    except ValueError as exc:
        if "no graph nodes" in str(exc):  # osmnx: every node returned lies outside the area
            return nx.MultiDiGraph()
        raise


def _download_places(area: BaseGeometry) -> pd.DataFrame:
    """Download the place nodes inside ``area`` as a frame with :data:`PLACE_COLUMNS`."""
    try:
        gdf = ox.features_from_polygon(area, tags={"place": list(PLACE_TYPES)})
    except InsufficientResponseError as exc:
        _raise_if_garbled(exc)
        return pd.DataFrame({c: pd.Series(dtype=_PLACE_DTYPES[c]) for c in PLACE_COLUMNS})
    elements = gdf.index.get_level_values("element")
    gdf = gdf[(elements == "node") & (gdf.geometry.geom_type == "Point").to_numpy()]

    def text(column: str) -> list[str | None]:
        values = gdf[column] if column in gdf.columns else pd.Series(None, index=gdf.index)
        return [v if isinstance(v, str) else None for v in values]

    places = pd.DataFrame(
        {
            "osmid": gdf.index.get_level_values("id").to_numpy(dtype=np.int64),
            "place": text("place"),
            "name": text("name"),
            "name_zh": text("name:zh"),
            "lon": gdf.geometry.x.to_numpy(dtype=float),
            "lat": gdf.geometry.y.to_numpy(dtype=float),
        }
    )
    return places.sort_values("osmid", ignore_index=True)


def _raise_if_garbled(exc: InsufficientResponseError) -> None:
    """Re-raise osmnx's 'insufficient response' as a retryable failure if it was bad JSON."""
    if isinstance(exc.__cause__, ValueError):  # osmnx wraps the JSON decoding error
        raise _OverpassFailure(
            "the answer was not valid JSON (probably cut off)", retryable=True
        ) from exc


class _OverpassFailure(Exception):
    """An Overpass answer that must not be used, with a plain-words reason."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


def _check_overpass_answer(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: raise :class:`_OverpassFailure` for an unusable ``/interpreter`` answer.

    Raising here, inside ``requests``, keeps osmnx from its unbounded 429/504 retry loop.
    """
    if not urlparse(response.url).path.rstrip("/").endswith("/interpreter"):
        return
    status, why = response.status_code, f"HTTP {response.status_code} {response.reason}"
    if status == 429:
        raise _OverpassFailure(f"{why}: the server is busy or rate-limits you", retryable=True)
    if status >= 500:
        raise _OverpassFailure(f"{why}: the server is overloaded or down", retryable=True)
    if status in (404, 405):
        raise _OverpassFailure(
            f"{why}: is this the base URL of an Overpass API (usually ending in /api)?",
            retryable=False,
        )
    if not response.ok:
        raise _OverpassFailure(f"{why}: the server refused the query", retryable=False)
    kind = response.headers.get("Content-Type", "")
    if "json" not in kind:
        raise _OverpassFailure(
            f"the answer is {kind or 'of unknown type'}, not Overpass JSON: is this the base "
            "URL of an Overpass API (usually ending in /api)?",
            retryable=False,
        )
    if b'"remark"' in response.content:
        try:
            remark = response.json().get("remark")
        except (ValueError, AttributeError):
            remark = None
        if remark:
            raise _OverpassFailure(
                f"the server stopped the query ({remark}); the data would be incomplete",
                retryable=True,
            )


def _with_response_hook(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A copy of osmnx's ``requests_kwargs`` with :func:`_check_overpass_answer` added."""
    hooks = dict(kwargs.get("hooks") or {})
    existing = hooks.get("response") or []
    existing = [existing] if callable(existing) else list(existing)
    hooks["response"] = [*existing, _check_overpass_answer]
    return {**kwargs, "hooks": hooks}


def _with_retries(
    step: Callable[[], _T],
    *,
    attempts: int,
    pause_s: float,
    sleep: Callable[[float], None],
    failed: str,
    timeout_s: float,
) -> _T:
    """Run ``step`` up to ``attempts`` times, pausing ``pause_s * 2**i`` between tries."""
    for i in range(attempts):
        try:
            return step()
        except (requests.RequestException, _OverpassFailure) as exc:
            reason, retryable = _explain(exc, timeout_s=timeout_s)
            if not retryable or i == attempts - 1:
                tries = f"after {i + 1} attempts" if i else "at the first attempt"
                raise GeodataError(
                    f"{failed} ({tries}): {reason}. Check the network connection, try another "
                    f"Overpass server with --overpass-url, or import an OpenStreetMap extract "
                    f"offline with {_IMPORT_HINT}"
                ) from None
        sleep(pause_s * 2**i)
    raise AssertionError("unreachable")  # pragma: no cover


def _explain(exc: Exception, *, timeout_s: float) -> tuple[str, bool]:
    """Plain-words reason of a failed request and whether trying again may help."""
    if isinstance(exc, _OverpassFailure):
        return exc.reason, exc.retryable
    if isinstance(exc, requests.Timeout):
        return f"the server did not answer within {timeout_s:g} s (timeout)", True
    if isinstance(exc, requests.ConnectionError):
        detail = _short(exc)
        return (
            "no connection to the server: no network, the name could not be resolved (DNS), "
            f"or the connection was refused or dropped ({detail})",
            True,
        )
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"the connection broke during the download ({_short(exc)})", True
    return f"the request failed: {type(exc).__name__}: {_short(exc)}", False


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def _osmnx_settings(**values: Any) -> Iterator[None]:
    """Set ``osmnx.settings`` attributes for a block, then restore them and getaddrinfo.

    osmnx replaces ``socket.getaddrinfo`` to pin the Overpass host to one IP address; that
    is undone here as well.
    """
    unknown = [name for name in values if not hasattr(ox.settings, name)]
    if unknown:  # pragma: no cover - guards against osmnx renaming a setting
        raise AttributeError(f"osmnx.settings has no {', '.join(unknown)}")
    saved = {name: getattr(ox.settings, name) for name in values}
    getaddrinfo = socket.getaddrinfo
    try:
        for name, value in values.items():
            setattr(ox.settings, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(ox.settings, name, value)
        socket.getaddrinfo = getaddrinfo
