"""Tests of fetching a county from Overpass, offline: the real osmnx code path over a fake server.

``requests.adapters.HTTPAdapter.send`` is replaced by :class:`FakeOverpass`, so osmnx builds
its queries, ``requests`` runs its sessions and hooks, and only the socket is missing. The fake
answers ``/interpreter`` with hand-made Overpass JSON for a few roads and places near the seat
of 临猗县 (140821), applying the query's ``highway`` exclusion filter like a real server.
"""

from __future__ import annotations

import http
import json
import re
import socket
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import osmnx as ox
import pandas as pd
import pyproj.database
import pytest
import requests
from requests.structures import CaseInsensitiveDict
from shapely.geometry import Point

from sim.errors import GeodataError
from sim.geodata.boundaries import county_boundary
from sim.geodata.cache import PLACE_COLUMNS, county_dir, graph_to_frames, load_county
from sim.geodata.osm import DEFAULT_OVERPASS_URL, fetch_county
from sim.geodata.speeds import DEFAULT_HIGHWAY_SPEEDS_KMH

CODE = "140821"
MIRROR = "https://overpass.example.cn/api"

# a 4 x 3 grid of junctions about 550 m apart south-west of the county seat, plus spurs
_LON0, _LAT0, _DX, _DY = 110.730, 35.150, 0.006, 0.005
_NODES = {1 + r * 4 + c: (_LON0 + c * _DX, _LAT0 + r * _DY) for r in range(3) for c in range(4)}
_NODES |= {
    13: (_LON0 + 4 * _DX, _LAT0 + 2 * _DY),
    14: (_LON0 + 5 * _DX, _LAT0 + 2 * _DY + 0.002),
    15: (_LON0 + _DX + 0.002, _LAT0 + 0.5 * _DY),
    16: (_LON0 + _DX, _LAT0 + 2.6 * _DY),
}
_WAYS = [
    (100, [1, 2, 3, 4], {"highway": "tertiary", "maxspeed": "60", "name": "临猗县道"}),
    (101, [5, 6, 7, 8], {"highway": "unclassified"}),
    (102, [9, 10, 11, 12], {"highway": "residential", "oneway": "yes"}),
    (103, [1, 5, 9], {"highway": "tertiary"}),
    (104, [4, 8, 12], {"highway": "unclassified"}),
    (105, [6, 15], {"highway": "footway"}),
    (106, [3, 7, 11], {"highway": "residential"}),
    (107, [12, 13], {"highway": "residential"}),
    (108, [13, 14], {"highway": "unclassified"}),
    (109, [10, 16], {"highway": "service"}),
]
_PLACES = [
    {"id": 900, "place": "town", "name": "临晋镇", "name:zh": "临晋镇", "xy": (110.741, 35.158)},
    {"id": 901, "place": "village", "name": "东张村", "name:zh": "东张村", "xy": (110.752, 35.16)},
    {"id": 902, "place": "hamlet", "name": "西庄", "xy": (110.735, 35.162)},
    {"id": 903, "place": "isolated_dwelling", "name": "独户", "xy": (110.738, 35.155)},
    {"id": 904, "place": "village", "name": "太原村", "xy": (112.55, 37.87)},  # far outside
]


def _overpass_json(elements: list[dict]) -> bytes:
    doc = {"version": 0.6, "generator": "fake", "osm3s": {}, "elements": elements}
    return json.dumps(doc, ensure_ascii=False).encode()


def _roads_answer(query: str) -> bytes:
    """The ways a real server returns for ``query``: its highway exclusion regex applied."""
    excluded = re.search(r'\["highway"!~"([^"]+)"\]', query)
    ways = [w for w in _WAYS if not (excluded and re.search(excluded[1], w[2]["highway"]))]
    used = sorted({n for _, refs, _ in ways for n in refs})
    nodes = [{"type": "node", "id": n, "lon": _NODES[n][0], "lat": _NODES[n][1]} for n in used]
    elements = [{"type": "way", "id": i, "nodes": refs, "tags": tags} for i, refs, tags in ways]
    return _overpass_json(nodes + elements)


def _places_answer() -> bytes:
    nodes = [
        {
            "type": "node",
            "id": p["id"],
            "lon": p["xy"][0],
            "lat": p["xy"][1],
            "tags": {k: v for k, v in p.items() if k not in ("id", "xy")},
        }
        for p in _PLACES
    ]
    ring = [(110.760, 35.150), (110.765, 35.150), (110.765, 35.154), (110.760, 35.154)]
    corners = [{"type": "node", "id": 951 + i, "lon": x, "lat": y} for i, (x, y) in enumerate(ring)]
    area = {
        "type": "way",
        "id": 950,
        "nodes": [951, 952, 953, 954, 951],
        "tags": {"place": "village", "name": "面村"},
    }
    return _overpass_json(nodes + corners + [area])


class FakeOverpass:
    """Stands in for the transport: records requests and answers them, a script first.

    ``script`` holds what the next ``/interpreter`` requests get, one item each: an HTTP
    status (int), an exception to raise, ``"empty"`` (no elements), ``"remark"`` (the server
    stopped the query), ``"garbled"`` (JSON cut short) or ``"ok"``. Requests beyond the script
    are answered normally; a ``fail_places`` status answers every place query with that status.
    """

    def __init__(self) -> None:
        self.requests: list[requests.PreparedRequest] = []
        self.script: list[object] = []
        self.fail_places: int | None = None

    def interpreter_queries(self) -> list[str]:
        return [self.query(r) for r in self.requests if r.url.endswith("/interpreter")]

    @staticmethod
    def query(request: requests.PreparedRequest) -> str:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        return parse_qs(body or "")["data"][0]

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        self.requests.append(request)
        path = urlparse(request.url).path
        if path.endswith("/status"):
            text = "Connected as: 1\nCurrent time: now\nRate limit: 2\n2 slots available now.\n"
            return self.response(request, 200, text.encode(), "text/plain")
        if not path.endswith("/interpreter"):
            return self.response(request, 404, b"not found", "text/plain")
        action = self.script.pop(0) if self.script else "ok"
        query = self.query(request)
        if isinstance(action, BaseException):
            raise action
        if isinstance(action, int):
            return self.response(request, action, b"<html>busy</html>", "text/html")
        if action == "garbled":
            return self.response(request, 200, _roads_answer(query)[:-40])
        if action == "empty":
            return self.response(request, 200, _overpass_json([]))
        if action == "remark":
            doc = {"elements": [], "remark": "runtime error: Query timed out after 180 seconds"}
            return self.response(request, 200, json.dumps(doc).encode())
        if '"place"' in query or "'place'" in query:
            if self.fail_places:
                return self.response(request, self.fail_places, b"down", "text/plain")
            return self.response(request, 200, _places_answer())
        return self.response(request, 200, _roads_answer(query))

    @staticmethod
    def response(
        request: requests.PreparedRequest,
        status: int,
        body: bytes,
        content_type: str = "application/json",
    ) -> requests.Response:
        r = requests.Response()
        r.status_code = status
        r.reason = http.HTTPStatus(status).phrase
        r.headers = CaseInsensitiveDict({"Content-Type": content_type})
        r._content = body
        r.encoding = "utf-8"
        r.url = request.url
        r.request = request
        return r


@pytest.fixture(scope="session")
def utm_lookup():
    """pyproj's UTM zone query, memoized: osmnx asks it 3-4 times per query (~0.1 s each)."""
    return lru_cache(maxsize=None)(pyproj.database.query_utm_crs_info)


@pytest.fixture
def server(monkeypatch, tmp_path, utm_lookup) -> FakeOverpass:
    fake = FakeOverpass()
    monkeypatch.setattr(pyproj.database, "query_utm_crs_info", utm_lookup)
    monkeypatch.setattr(
        requests.adapters.HTTPAdapter, "send", lambda _self, request, **kw: fake.send(request)
    )
    # osmnx pins the server's IP with a DNS lookup before each query: answer it offline
    monkeypatch.setattr(socket, "gethostbyname", lambda host: "192.0.2.1")
    monkeypatch.setenv("RURALSIM_CACHE", str(tmp_path / "env-cache"))
    return fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _fetch(tmp_path: Path, sleeps: list[float], **kwargs):
    return fetch_county(CODE, cache_dir=tmp_path / "cache", sleep=sleeps.append, **kwargs)


def _osmnx_state() -> dict[str, object]:
    names = [n for n in dir(ox.settings) if not n.startswith("_") and n.islower()]
    state = {n: getattr(ox.settings, n) for n in names if not callable(getattr(ox.settings, n))}
    return {
        **state,
        "requests_kwargs_id": id(ox.settings.requests_kwargs),
        "dns": socket.getaddrinfo,
    }


def test_fixture_lies_inside_the_county():
    polygon = county_boundary(CODE)
    assert all(polygon.contains(Point(xy)) for xy in _NODES.values())
    assert all(polygon.contains(Point(p["xy"])) for p in _PLACES[:4])


def test_fetch_builds_and_caches_the_county(server, sleeps, tmp_path):
    before = _osmnx_state()
    county = _fetch(tmp_path, sleeps)
    assert _osmnx_state() == before
    assert sleeps == []

    meta = json.loads((county_dir(CODE, tmp_path / "cache") / "meta.json").read_text("utf-8"))
    assert meta["source"] == "overpass"
    assert meta["overpass_url"] == DEFAULT_OVERPASS_URL
    assert meta["buffer_m"] == 2000.0
    assert meta["network_type"] == "drive"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", meta["fetched"])
    assert meta["n_edges"] == county.graph.number_of_edges() > 0
    assert meta["n_places"] == 3
    assert county.meta["source"] == "overpass"
    assert not (tmp_path / "cache" / "http" / CODE).exists()  # raw answers dropped once saved

    g = county.graph
    edges = list(g.edges(data=True))
    assert {d["highway"] for _, _, d in edges} == {"tertiary", "unclassified", "residential"}
    assert 15 not in g and 16 not in g  # reached only by the footway and the service road
    for _, _, d in edges:
        assert d["speed_kph"] > 0 and d["travel_time"] > 0
        if d.get("maxspeed") == "60":  # way 100, alone or merged at a corner of the grid
            assert d["speed_kph"] == 60.0
        else:
            assert d["speed_kph"] == DEFAULT_HIGHWAY_SPEEDS_KMH[d["highway"]]
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))
    assert any(d["osmid"] == 100 and d["speed_kph"] == 60.0 for _, _, d in edges)
    oneway = [(u, v) for u, v, d in edges if d["osmid"] == 102]
    assert oneway and all(u < v for u, v in oneway)  # only drawn direction 9 -> 12
    merged = [d for u, v, d in edges if {u, v} == {12, 14}]  # ways 107 + 108 through node 13
    assert merged and all(d["highway"] == "unclassified" for d in merged)

    places = county.places.set_index("osmid")
    assert list(county.places.columns) == list(PLACE_COLUMNS)
    assert sorted(places.index) == [900, 901, 902]  # no dwelling, no area, none outside
    assert places.loc[900, "name"] == "临晋镇" and places.loc[900, "name_zh"] == "临晋镇"
    assert places.loc[902, "place"] == "hamlet" and pd.isna(places.loc[902, "name_zh"])
    assert places.loc[901, ["lon", "lat"]].tolist() == [110.752, 35.16]

    queries = server.interpreter_queries()
    assert len(queries) == 2
    assert '["highway"!~' in queries[0] and "[timeout:180]" in queries[0]
    assert all(r.url.startswith(DEFAULT_OVERPASS_URL + "/") for r in server.requests)


def test_second_fetch_reads_the_cache_without_any_request(server, sleeps, tmp_path):
    first = _fetch(tmp_path, sleeps)
    n = len(server.requests)
    second = _fetch(tmp_path, sleeps)
    assert len(server.requests) == n
    for a, b in zip(graph_to_frames(first.graph), graph_to_frames(second.graph)):
        assert a.equals(b)
    assert first.places.equals(second.places)
    assert second.meta == first.meta


def test_force_downloads_again(server, sleeps, tmp_path):
    first = _fetch(tmp_path, sleeps)
    n = len(server.requests)
    again = _fetch(tmp_path, sleeps, force=True)
    assert len(server.interpreter_queries()) == 4 and len(server.requests) == n + 2
    assert again.meta["fetched"] >= first.meta["fetched"]


def test_failed_force_keeps_the_cached_copy(server, sleeps, tmp_path):
    first = _fetch(tmp_path, sleeps)
    server.script = [503] * 2
    with pytest.raises(GeodataError):
        _fetch(tmp_path, sleeps, force=True, retries=1)
    kept = load_county(CODE, tmp_path / "cache")
    assert kept is not None and kept.meta == first.meta
    assert [p.name for p in (tmp_path / "cache" / "osm").iterdir()] == [CODE]


def test_the_given_overpass_url_is_the_one_requested(server, sleeps, tmp_path):
    county = _fetch(tmp_path, sleeps, overpass_url=MIRROR + "/interpreter/", timeout_s=60)
    assert county.meta["overpass_url"] == MIRROR
    assert [r.url for r in server.requests] == [MIRROR + "/interpreter"] * 2
    assert "[timeout:60]" in server.interpreter_queries()[0]
    assert ox.settings.overpass_url == DEFAULT_OVERPASS_URL


def test_429_is_retried_after_a_pause(server, sleeps, tmp_path):
    server.script = [429]
    county = _fetch(tmp_path, sleeps, pause_s=7.0)
    assert county.graph.number_of_edges() > 0
    assert sleeps == [7.0]
    assert len(server.interpreter_queries()) == 3


def test_persistent_503_ends_in_one_clear_error(server, sleeps, tmp_path):
    before = _osmnx_state()
    server.script = [503] * 10
    with pytest.raises(GeodataError) as info:
        _fetch(tmp_path, sleeps, overpass_url=MIRROR, retries=2, pause_s=1.5)
    message = str(info.value)
    assert len(server.interpreter_queries()) == 3  # the first attempt and 2 retries
    assert sleeps == [1.5, 3.0]
    for part in (CODE, "临猗县", MIRROR, "after 3 attempts", "503", "--overpass-url"):
        assert part in message
    assert "ruralsim geodata import" in message
    assert _osmnx_state() == before
    assert not county_dir(CODE, tmp_path / "cache").exists()
    assert not list((tmp_path / "cache").glob("osm/.*"))


@pytest.mark.parametrize("dns_works", [True, False])
def test_no_network_is_retried_then_named(server, sleeps, tmp_path, monkeypatch, dns_works):
    if not dns_works:

        def no_dns(host: str) -> str:
            raise socket.gaierror(-3, "Temporary failure in name resolution")

        monkeypatch.setattr(socket, "gethostbyname", no_dns)
    server.script = [requests.ConnectionError("Failed to establish a new connection")] * 3
    before = _osmnx_state()
    with pytest.raises(GeodataError, match="network") as info:
        _fetch(tmp_path, sleeps, retries=2)
    assert "after 3 attempts" in str(info.value) and "Failed to establish" in str(info.value)
    assert sleeps == [5.0, 10.0]
    assert _osmnx_state() == before


def test_timeout_is_retried_then_named(server, sleeps, tmp_path):
    server.script = [requests.ReadTimeout("read timed out")] * 2
    with pytest.raises(GeodataError, match="did not answer within 30 s"):
        _fetch(tmp_path, sleeps, retries=1, timeout_s=30)


def test_a_remark_is_a_failure_not_a_county(server, sleeps, tmp_path):
    server.script = ["remark", "remark"]
    with pytest.raises(GeodataError, match="Query timed out"):
        _fetch(tmp_path, sleeps, retries=1)
    assert len(server.interpreter_queries()) == 2


@pytest.mark.parametrize(("status", "words"), [(404, "base URL"), (400, "refused")])
def test_client_errors_are_not_retried(server, sleeps, tmp_path, status, words):
    server.script = [status]
    with pytest.raises(GeodataError, match=words):
        _fetch(tmp_path, sleeps)
    assert len(server.interpreter_queries()) == 1 and sleeps == []


def test_an_answer_without_roads_is_an_error(server, sleeps, tmp_path):
    server.script = ["empty"]
    with pytest.raises(GeodataError, match="no drivable road") as info:
        _fetch(tmp_path, sleeps)
    assert "临猗县" in str(info.value) and DEFAULT_OVERPASS_URL in str(info.value)
    assert len(server.interpreter_queries()) == 1
    assert not county_dir(CODE, tmp_path / "cache").exists()


def test_a_failed_fetch_resumes_without_downloading_the_roads_again(server, sleeps, tmp_path):
    server.fail_places = 502
    with pytest.raises(GeodataError, match="place nodes"):
        _fetch(tmp_path, sleeps, retries=0)
    assert len(server.interpreter_queries()) == 2
    server.fail_places = None
    county = _fetch(tmp_path, sleeps)
    queries = server.interpreter_queries()
    assert len(queries) == 3 and "place" in queries[-1]  # roads came from osmnx's cache
    assert len(county.places) == 3


def test_a_cut_off_answer_is_retried(server, sleeps, tmp_path):
    server.script = ["garbled"]
    county = _fetch(tmp_path, sleeps)
    assert county.graph.number_of_edges() > 0 and sleeps == [5.0]


def test_a_truncated_file_in_osmnx_cache_is_dropped_and_fetched_again(server, sleeps, tmp_path):
    server.fail_places = 503
    with pytest.raises(GeodataError):
        _fetch(tmp_path, sleeps, retries=0)
    saved = list((tmp_path / "cache" / "http" / CODE).glob("*.json"))
    assert len(saved) == 1  # the roads answer
    saved[0].write_text(saved[0].read_text()[:100])
    server.fail_places = None
    county = _fetch(tmp_path, sleeps)
    assert county.graph.number_of_edges() > 0
    assert len(server.interpreter_queries()) == 4  # roads, places, then both again


def test_places_may_be_missing(server, sleeps, tmp_path):
    server.script = ["ok", "empty"]
    county = _fetch(tmp_path, sleeps)
    assert county.places.empty and list(county.places.columns) == list(PLACE_COLUMNS)
    assert county.graph.number_of_edges() > 0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"overpass_url": "overpass.example.cn"}, "not valid"),
        ({"retries": -1}, "retries"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"buffer_m": -5.0}, "buffer_m"),
    ],
)
def test_bad_arguments_fail_before_any_request(server, sleeps, tmp_path, kwargs, words):
    with pytest.raises(GeodataError, match=words):
        _fetch(tmp_path, sleeps, **kwargs)
    assert server.requests == []


def test_a_code_that_is_not_a_county_fails_before_any_request(server, tmp_path):
    with pytest.raises(GeodataError, match="county code"):
        fetch_county("140821100", cache_dir=tmp_path)
    assert server.requests == []


def test_the_cache_dir_defaults_to_the_environment(server, sleeps, tmp_path):
    fetch_county(CODE, sleep=sleeps.append)
    assert (tmp_path / "env-cache" / "osm" / CODE / "meta.json").is_file()


def test_cli_fetch_check_and_run_on_real_roads(server, tmp_path, capsys, osm_tiny_path):
    """The README path of an online user: fetch, check, then run the county on OSM roads."""
    from sim.cli import main

    cache = str(tmp_path / "cli-cache")
    url = "https://overpass.example.cn/api"
    assert main(["geodata", "fetch", CODE, "--cache-dir", cache, "--overpass-url", url]) == 0
    assert "140821:" in capsys.readouterr().out
    assert all(r.url.startswith(url) for r in server.requests)
    n_requests = len(server.requests)

    assert main(["geodata", "check", CODE, "--cache-dir", cache]) == 0
    report = capsys.readouterr().out
    assert "roads            real: OpenStreetMap via Overpass" in report
    assert "connectors:" in report and "snap distance" in report
    assert main(["geodata", "show", "1408", "--cache-dir", cache]) == 0
    assert "osm overpass" in capsys.readouterr().out

    scenario = osm_tiny_path
    out = tmp_path / "run"
    argv = [
        "run",
        str(scenario),
        "--out",
        str(out),
        "--quiet",
        "--no-figures",
        "--cache-dir",
        cache,
    ]
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["geodata_sources"]["roads"] == {"real": 1}
    assert manifest["counties"][0]["data_quality"]["roads"] == "osm"
    assert len(server.requests) == n_requests  # the run never went online
