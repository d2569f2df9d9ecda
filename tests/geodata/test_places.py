"""Tests of matching OSM place nodes to townships and villages (sim.geodata.places)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import GeodataError
from sim.geodata import children, load_divisions
from sim.geodata.cache import PLACE_COLUMNS
from sim.geodata.places import PlaceMatch, clean_name, match_places, normalize_name

COUNTY = "140821"  # 临猗县
YISHI = "140821100"  # 猗氏镇
MEIYANG = "140821101"  # 嵋阳镇
LINJIN = "140821102"  # 临晋镇
DONGZHANG = "140821104"  # 东张镇
CHUHOU = "140821200"  # 楚侯乡
# invented positions of four township seats, 15-30 km apart
SEATS = {
    YISHI: (110.77, 35.14),
    MEIYANG: (110.60, 35.05),
    LINJIN: (110.55, 35.22),
    DONGZHANG: (110.45, 35.00),
}
KM_LAT = 1 / 111.2  # degrees of latitude per km


def near(code: str, *, km_north: float = 0.0, km_east: float = 0.0) -> tuple[float, float]:
    """Return a lon/lat point some km north and east of a township seat."""
    lon, lat = SEATS[code]
    return lon + km_east * KM_LAT / math.cos(math.radians(lat)), lat + km_north * KM_LAT


def places(*rows: tuple[str, str | None, str | None, tuple[float, float]]) -> pd.DataFrame:
    """Build a place frame from ``(place, name, name_zh, (lon, lat))`` rows, osmid 1, 2, ..."""
    return pd.DataFrame(
        [
            {"osmid": i, "place": p, "name": n, "name_zh": z, "lon": xy[0], "lat": xy[1]}
            for i, (p, n, z, xy) in enumerate(rows, start=1)
        ],
        columns=list(PLACE_COLUMNS),
    )


def row(match: PlaceMatch, code: str) -> pd.Series:
    points = match.points.set_index("code")
    return points.loc[code]


def assert_consistent(match: PlaceMatch) -> None:
    """Invariants of every match: no node reused, columns agree with each other."""
    pts = match.points
    matched = pts["osmid"].notna()
    assert not pts.loc[matched, "osmid"].duplicated().any()
    assert pts.loc[matched, ["lon", "lat"]].notna().all().all()
    assert pts.loc[~matched, ["lon", "lat"]].isna().all().all()
    assert set(pts.loc[matched, "method"]) <= {"exact", "normalized"}
    assert (pts.loc[~matched, "method"] == "").all()
    assert (pts.loc[matched, "reason"] == "").all()
    assert set(pts.loc[~matched, "reason"]) <= {"no_candidate", "ambiguous", "too_far", "taken"}
    assert (pts.loc[matched, "candidates"] >= 1).all()


@pytest.fixture(scope="module")
def units() -> pd.DataFrame:
    df = load_divisions()
    return df[df["level"].isin(("township", "village")) & df["code"].str.startswith(COUNTY)]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("东张村委会", "东张"),
        ("东张村村委会", "东张"),
        ("东张村村民委员会", "东张"),
        ("东张村", "东张"),
        ("东张", "东张"),
        ("东张镇", "东张"),
        ("楚侯乡", "楚侯"),
        ("王村村委会", "王"),
        ("王村", "王"),
        ("崇相西社区居民委员会", "崇相西"),
        ("楚兴园社区居委会", "楚兴园"),
        ("楚兴园社区", "楚兴园"),
        ("解州街道", "解州"),
        ("临汾经济开发区虚拟社区", "临汾经济开发区"),
        ("金沙滩林场虚拟生活区", "金沙滩林场"),
        ("东南村村委", "东南"),
        (" 里寺\u3000村 ", "里寺"),
        ("长ｓｈａｎ村委会", "长shan"),
        ("村", "村"),
        ("村委会", "村委会"),
    ],
)
def test_normalize_name(name: str, key: str) -> None:
    assert normalize_name(name) == key


def test_clean_name_folds_width_and_space() -> None:
    assert clean_name(" 猗氏\u3000镇\u200b") == "猗氏镇"
    assert clean_name("ＡＢ１（集团）") == "AB1(集团)"
    assert clean_name(None) == ""
    assert clean_name(float("nan")) == ""


def test_one_row_per_township_and_village(units: pd.DataFrame) -> None:
    match = match_places(places(), COUNTY)
    pts = match.points
    assert list(pts.columns) == [
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
    ]
    assert pts["code"].tolist() == sorted(units["code"])
    assert pts["name"].tolist() == units.sort_values("code")["name"].tolist()
    assert (pts["level"] == "township").sum() == len(children(COUNTY)) == 14
    assert str(pts["osmid"].dtype) == "Int64"


@pytest.mark.parametrize("frame", [pd.DataFrame(columns=list(PLACE_COLUMNS)), pd.DataFrame()])
def test_empty_places_match_nothing(frame: pd.DataFrame) -> None:
    match = match_places(frame, COUNTY)
    assert dict(match.rates) == {"township": 0.0, "village": 0.0, "all": 0.0}
    assert match.points["osmid"].isna().all()
    assert (match.points["reason"] == "no_candidate").all()
    assert (match.points["candidates"] == 0).all()
    assert_consistent(match)


def test_exact_and_normalized_matches() -> None:
    frame = places(
        ("town", "猗氏镇", None, SEATS[YISHI]),  # 1: exact
        ("town", "嵋阳", None, SEATS[MEIYANG]),  # 2: 镇 missing
        ("village", "王村", None, near(YISHI, km_north=2)),  # 3: 王村村委会
        ("village", "Zhaicun", "翟村", near(YISHI, km_east=3)),  # 4: only in name:zh
        ("hamlet", "马营村委会", None, near(YISHI, km_north=-4)),  # 5: exact village
        ("suburb", "崇相西社区", None, near(YISHI, km_east=0.5)),  # 6: community
        ("village", " 里寺\u3000村", None, near(YISHI, km_east=-2)),  # 7: stray spaces
        ("village", "嵋阳村", None, near(MEIYANG, km_north=0.3)),  # 8: seat village
        ("isolated_dwelling", "祁任", None, near(MEIYANG, km_north=5)),  # 9
    )
    match = match_places(frame, COUNTY)
    expected = {
        YISHI: (1, "exact", "猗氏镇"),
        MEIYANG: (2, "normalized", "嵋阳"),
        "140821100200": (3, "normalized", "王村"),
        "140821100205": (4, "normalized", "翟村"),
        "140821100221": (5, "exact", "马营村委会"),
        "140821101200": (8, "normalized", "嵋阳村"),
        "140821101201": (9, "normalized", "祁任"),
    }
    for code, (osmid, method, osm_name) in expected.items():
        r = row(match, code)
        assert (r["osmid"], r["method"], r["osm_name"]) == (osmid, method, osm_name), code
        xy = frame.set_index("osmid").loc[osmid, ["lon", "lat"]].to_numpy(dtype=float)
        assert (r["lon"], r["lat"]) == tuple(xy)
    # a suburb is not a village class: the community stays unmatched
    assert row(match, "140821100010")["reason"] == "no_candidate"
    assert row(match, "140821100204")["osmid"] == 7
    assert_consistent(match)


def test_duplicate_village_name_resolved_by_distance() -> None:
    frame = places(
        ("town", "猗氏镇", None, SEATS[YISHI]),
        ("town", "临晋镇", None, SEATS[LINJIN]),
        ("village", "西关", None, near(YISHI, km_north=1)),  # 3: 20+ km from 临晋
        ("village", "西关村", None, near(LINJIN, km_north=9)),  # 4
        ("village", "西关村", None, near(LINJIN, km_east=2)),  # 5: nearest
        ("village", "西关村", None, near(LINJIN, km_east=-40)),  # 6
    )
    match = match_places(frame, COUNTY)
    r = row(match, "140821102201")  # 临晋镇 西关村委会
    assert (r["osmid"], r["method"], r["candidates"]) == (5, "normalized", 4)
    assert_consistent(match)


def test_ambiguous_village_of_unmatched_township_is_left_out() -> None:
    frame = places(
        ("village", "王见村", None, (110.70, 35.10)),
        ("village", "王见", None, (110.80, 35.20)),
        ("village", "百俊村", None, (110.75, 35.15)),
    )
    match = match_places(frame, COUNTY)
    assert np.isnan(row(match, CHUHOU)["lon"])
    ambiguous = row(match, "140821200201")  # 王见村委会
    assert (ambiguous["reason"], ambiguous["candidates"]) == ("ambiguous", 2)
    assert pd.isna(ambiguous["osmid"])
    # a single candidate needs no township to vouch for it
    assert row(match, "140821200202")["osmid"] == 3
    assert_consistent(match)


def test_single_exact_candidate_settles_ambiguity() -> None:
    frame = places(
        ("village", "王见村委会", None, (110.70, 35.10)),
        ("village", "王见", None, (110.80, 35.20)),
    )
    r = row(match_places(frame, COUNTY), "140821200201")
    assert (r["osmid"], r["method"], r["candidates"]) == (1, "exact", 2)


def test_exact_candidate_beats_a_nearer_normalized_one() -> None:
    frame = places(
        ("town", "猗氏镇", None, SEATS[YISHI]),
        ("village", "马营", None, near(YISHI, km_north=1)),
        ("village", "马营村委会", None, near(YISHI, km_north=8)),
    )
    r = row(match_places(frame, COUNTY), "140821100221")
    assert (r["osmid"], r["method"]) == (3, "exact")


def test_candidate_too_far_from_township_is_rejected() -> None:
    frame = places(
        ("town", "猗氏镇", None, SEATS[YISHI]),
        ("village", "上里村", None, near(YISHI, km_north=20)),
    )
    r = row(match_places(frame, COUNTY), "140821100217")
    assert (r["reason"], r["candidates"]) == ("too_far", 1)
    assert pd.isna(r["osmid"])
    r = row(match_places(frame, COUNTY, max_village_km=25), "140821100217")
    assert (r["osmid"], r["reason"]) == (2, "")


def test_node_is_not_reused_between_villages() -> None:
    # one node named 王村 with name:zh 翟村 fits two villages of 猗氏镇
    frame = places(
        ("town", "猗氏镇", None, SEATS[YISHI]),
        ("village", "王村", "翟村", near(YISHI, km_north=2)),
    )
    match = match_places(frame, COUNTY)
    wang, zhai = row(match, "140821100200"), row(match, "140821100205")
    assert (wang["osmid"], wang["osm_name"]) == (2, "王村")
    assert (zhai["reason"], zhai["candidates"]) == ("taken", 1)
    assert_consistent(match)


def test_node_taken_by_township_is_not_offered_to_village() -> None:
    # only a village node named 嵋阳: the township 嵋阳镇 takes it, the village 嵋阳村 cannot
    frame = places(("village", "嵋阳", None, SEATS[MEIYANG]))
    match = match_places(frame, COUNTY)
    assert row(match, MEIYANG)["osmid"] == 1
    village = row(match, "140821101200")
    assert (village["reason"], village["candidates"]) == ("taken", 1)
    assert_consistent(match)


def test_township_prefers_town_node_over_village_node() -> None:
    frame = places(
        ("village", "临晋村", None, near(LINJIN, km_north=0.5)),
        ("town", "临晋", None, SEATS[LINJIN]),
    )
    match = match_places(frame, COUNTY)
    assert row(match, LINJIN)["osmid"] == 2
    assert row(match, "140821102200")["osmid"] == 1  # 临晋村委会


def test_two_town_nodes_leave_township_ambiguous() -> None:
    frame = places(("town", "临晋", None, SEATS[LINJIN]), ("town", "临晋", None, SEATS[YISHI]))
    r = row(match_places(frame, COUNTY), LINJIN)
    assert (r["reason"], r["candidates"]) == ("ambiguous", 2)


def test_village_falls_back_to_town_node() -> None:
    frame = places(
        ("town", "东张镇", None, SEATS[DONGZHANG]),
        ("town", "张仙", None, near(DONGZHANG, km_east=3)),
        ("town", "杨杏", None, near(DONGZHANG, km_east=-3)),
        ("hamlet", "杨杏村", None, near(DONGZHANG, km_north=3)),
    )
    match = match_places(frame, COUNTY)
    assert row(match, "140821104208")["osmid"] == 2  # 张仙村委会: only a town node
    assert row(match, "140821104209")["osmid"] == 4  # 杨杏村委会: the hamlet wins
    assert row(match, DONGZHANG)["osmid"] == 1


def test_match_rates(units: pd.DataFrame) -> None:
    frame = places(
        ("town", "猗氏镇", None, SEATS[YISHI]),
        ("town", "嵋阳镇", None, SEATS[MEIYANG]),
        ("village", "王村", None, near(YISHI, km_north=2)),
        ("village", "翟村", None, near(YISHI, km_north=-2)),
        ("village", "祁任", None, near(MEIYANG, km_north=2)),
        ("village", "上里", None, near(YISHI, km_north=30)),  # too far
        ("village", "Nowhere", None, near(YISHI)),  # no such unit
    )
    match = match_places(frame, COUNTY)
    n_towns = int((units["level"] == "township").sum())
    n_villages = int((units["level"] == "village").sum())
    assert (n_towns, n_villages) == (14, 284)
    assert match.rates["township"] == pytest.approx(2 / n_towns)
    assert match.rates["village"] == pytest.approx(3 / n_villages)
    assert match.rates["all"] == pytest.approx(5 / (n_towns + n_villages))
    assert set(match.rates) == {"township", "village", "all"}


def test_rows_without_position_or_name_and_repeated_nodes_are_ignored() -> None:
    frame = places(
        ("town", "猗氏镇", None, (float("nan"), 35.1)),
        ("town", None, " ", SEATS[MEIYANG]),
        ("town", "临晋镇", None, SEATS[LINJIN]),
    )
    frame = pd.concat([frame, frame.iloc[[2]]], ignore_index=True)  # osmid 3 twice
    match = match_places(frame, COUNTY)
    assert row(match, YISHI)["reason"] == "no_candidate"
    assert (row(match, LINJIN)["osmid"], row(match, LINJIN)["candidates"]) == (3, 1)


def test_bad_arguments_raise() -> None:
    with pytest.raises(GeodataError, match="county"):
        match_places(places(), YISHI)
    with pytest.raises(GeodataError, match="unknown"):
        match_places(places(), "149999")
    with pytest.raises(GeodataError, match="name_zh"):
        match_places(places(("town", "猗氏镇", None, SEATS[YISHI])).drop(columns="name_zh"), COUNTY)
    for bad in (0, -1.0, float("nan"), float("inf"), "far"):
        with pytest.raises(GeodataError, match="max_village_km"):
            match_places(places(), COUNTY, max_village_km=bad)  # type: ignore[arg-type]


def test_padded_county_code_is_accepted() -> None:
    match = match_places(places(("town", "猗氏镇", None, SEATS[YISHI])), "140821000000")
    assert row(match, YISHI)["osmid"] == 1


# --- property: generated OSM names near their township are matched to the right codes ---

SUFFIXES = {"township": ("镇", "乡", "街道"), "village": ("村", "社区", "村委会", "村民委员会")}


@pytest.fixture(scope="module")
def pools() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per county: townships and villages whose names match nothing else in the county.

    Real village names repeat within a county and may share a stem with a township
    (嵋阳镇, 嵋阳村); such units are matched by design rules tested above, so the property
    uses only units whose normalized name is unique among townships and villages together.
    """
    df = load_divisions()
    counties = df.loc[(df["level"] == "county") & (df["kind"] != "zone"), "code"]
    units = df[df["level"].isin(("township", "village"))].copy()
    units["county"] = units["code"].str[:6]
    units["key"] = units["name"].map(normalize_name)
    stable = units["key"].map(normalize_name) == units["key"]
    for level, suffixes in SUFFIXES.items():
        for suffix in suffixes:
            same = (units["key"] + suffix).map(normalize_name) == units["key"]
            stable &= same | (units["level"] != level)
    unique = ~units.duplicated(["county", "key"], keep=False)
    units = units[stable & unique]
    return {
        c: (g[g["level"] == "township"], g[g["level"] == "village"])
        for c, g in units.groupby("county")
        if c in set(counties)
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_generated_names_match_their_codes(
    pools: dict[str, tuple[pd.DataFrame, pd.DataFrame]], data: st.DataObject
) -> None:
    county = data.draw(st.sampled_from(sorted(pools)), label="county")
    towns, villages = pools[county]
    town_codes = data.draw(
        st.lists(st.sampled_from(towns["code"].tolist()), unique=True, max_size=len(towns))
        if len(towns)
        else st.just([]),
        label="townships",
    )
    village_codes = data.draw(
        st.lists(st.sampled_from(villages["code"].tolist()), unique=True, max_size=30)
        if len(villages)
        else st.just([]),
        label="villages",
    )
    every = load_divisions().set_index("code")
    # every township of the county gets a seat 1 degree from the next, far beyond 15 km
    all_towns = children(county)["code"].tolist()
    seat = {t: (105.0 + i % 8, 34.0 + i // 8) for i, t in enumerate(all_towns)}
    rows = []
    expected: dict[str, tuple[int, str]] = {}
    for code in [*town_codes, *village_codes]:
        level = str(every.at[code, "level"])
        full = str(every.at[code, "name"])
        key = normalize_name(full)
        variant = data.draw(
            st.sampled_from([full, key, *(key + s for s in SUFFIXES[level])]), label=code
        )
        spaced = data.draw(st.sampled_from([variant, f" {variant}", f"{variant}\u3000"]))
        in_zh = data.draw(st.booleans())
        if level == "township":
            place = data.draw(st.sampled_from(["town", "city", "suburb"]))
            lon, lat = seat[code]
        else:
            place = data.draw(st.sampled_from(["village", "hamlet", "isolated_dwelling"]))
            dx, dy = data.draw(
                st.tuples(*(st.floats(-0.07, 0.07, allow_nan=False) for _ in range(2)))
            )
            lon, lat = seat[code[:9]][0] + dx, seat[code[:9]][1] + dy
        osmid = 1000 + len(rows)
        rows.append(
            {
                "osmid": osmid,
                "place": place,
                "name": "pinyin only" if in_zh else spaced,
                "name_zh": spaced if in_zh else None,
                "lon": lon,
                "lat": lat,
            }
        )
        expected[code] = (osmid, "exact" if variant == full else "normalized")
    frame = pd.DataFrame(rows, columns=list(PLACE_COLUMNS))

    match = match_places(frame, county)
    pts = match.points.set_index("code")
    assert_consistent(match)
    for code, (osmid, method) in expected.items():
        assert (pts.at[code, "osmid"], pts.at[code, "method"]) == (osmid, method), code
    assert int(pts["osmid"].notna().sum()) == len(expected)
    assert match.rates["all"] == pytest.approx(len(expected) / len(pts))
