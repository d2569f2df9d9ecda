"""Words of the report in English and Chinese: headings, KPI names and units, reasons, stages.

Names of places come from the data, never from here. :func:`labels` returns the words of one
language; a key without a translation falls back to English, then to the key itself, so a KPI
added later still shows (by its machine name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

#: Languages of the report.
LANGS = ("en", "zh")

_EN: Mapping[str, str] = MappingProxyType(
    {
        "run_title": "ruralsim run: {name}",
        "sweep_title": "ruralsim sweep: {name}",
        "run_facts": "{region}; {replications} replication(s), seed {seed}; "
        "synthetic layers: {layers}",
        "none": "none",
        "headline": "Headline KPIs",
        "kpi": "KPI",
        "value": "mean",
        "ci": "95% confidence interval",
        "ci_note": "Over the replications (Student t); shares are clipped to 0-100 % and "
        "quantities to 0 or more.",
        "map": "Coverage map",
        "map_note": "Pan with the mouse, zoom with the wheel; hover a village or township "
        "point for its name, code, visits, p95 lead time and reason.",
        "synthetic_mark": "SYNTHETIC {layers}",
        "covered": "covered",
        "not_covered": "not covered",
        "reachable": "reachable (no point of its own)",
        "township_point": "township point",
        "county_centre": "county centre",
        "shuttles": "shuttles",
        "loops": "village loops",
        "boundary": "county boundary",
        "km_east": "km east",
        "km_north": "km north",
        "name": "name",
        "code": "code",
        "visits": "visits per week",
        "p95_lead": "p95 lead time (h)",
        "reason": "reason",
        "why": "Why it falls short",
        "ranking": "Ranking: worst first",
        "ranking_note": "Sorted by village coverage (lowest first), then by p95 lead time "
        "(longest first).",
        "counties": "Counties",
        "townships": "Townships",
        "county": "county",
        "township": "township",
        "village_coverage": "villages covered",
        "township_coverage": "townships covered",
        "point_covered": "township point covered",
        "p95_town": "p95 lead to township point (h)",
        "yes": "yes",
        "no": "no",
        "shown_of": "the worst {shown} of {total}",
        "all_of": "all {total}",
        "l_roads": "roads",
        "l_township_points": "township points",
        "l_village_points": "village points",
        "uncovered": "Villages not covered",
        "uncovered_none": "Every village is covered.",
        "margin": "margin",
        "stages": "Where parcels wait",
        "stages_note": "Hours in each stage of the inbound parcels created in the measurement "
        "window that reached their point ({n} parcels, all replications).",
        "stages_sample": " From the run's sample of the parcels.",
        "stages_none": "The run wrote no parcel table (parcels: {written}), so the stages "
        "cannot be shown.",
        "stage": "stage",
        "p50_h": "p50 (h)",
        "p95_h": "p95 (h)",
        "mean_h": "mean (h)",
        "hours": "hours",
        "lead_times": "Lead times",
        "lead_note": "Lead time from the county centre to the collection point of the "
        "window's parcels that reached it; dashed: p50 and p95, black: the standard.",
        "lead_png": "The run's own chart (figures/lead_times.png), drawn from every parcel.",
        "parcels": "parcels",
        "lead_h": "lead time (h)",
        "standard": "standard",
        "variants": "{n} variants",
        "design": "Design",
        "pareto": "Cost and coverage",
        "pareto_note": "Each point is a variant, labelled by its factor values, with 95% "
        "confidence intervals on both axes; the line joins the Pareto front (no other variant "
        "is both cheaper and covers more).",
        "variant": "variant",
        "front": "Pareto front",
        "sensitivity": "Sensitivity: {kpi}",
        "factor": "factor",
        "sobol_st": "total Sobol index ST",
        "morris_mu": "Morris mu*",
        "reading": "Figures are means over replications; every place name comes from the "
        "run's own tables.",
        # Reasons and their margins.
        "r_covered": "covered",
        "r_no_point": "no service point",
        "r_no_visits": "no village vehicle visits it",
        "r_too_few_visits": "too few visits",
        "r_lead_time_too_long": "lead time too long",
        "r_shuttle_not_daily": "shuttle not every day",
        "r_townships_not_covered": "townships not covered",
        "r_sorting_too_slow": "sorting too slow",
        "m_lead": "misses {limit} h by {miss} h; waits longest at {stage}",
        "m_lead_unknown": "p95 unknown (parcels still on the way); waits longest at {stage}",
        "m_visits": "{visits} visits a week < {limit}",
        "m_no_point_km": "township point {km} km away ({tag})",
        "m_reachable": "reachable",
        "m_not_reachable": "not reachable",
        "m_no_visits": "parcels wait at the township point",
        # Stages.
        "s_sorting": "sorting",
        "s_shuttle": "shuttle",
        "s_township_point": "township point",
        "s_loop": "village loop",
        "s_pickup": "pickup",
        # Units.
        "u_h": "h",
        "u_yuan": "yuan",
        "u_km": "km",
        "u_kg": "kg",
        "u_parcels": "parcels",
        "u_per_day": "yuan/day",
        # KPI names (those not listed show their machine name).
        "county_hub_coverage": "County hubs covered",
        "township_point_coverage": "Township points covered",
        "village_express_coverage": "Villages covered",
        "village_express_coverage_pop": "Villages covered, by population",
        "lead_time_p50_h": "Lead time p50",
        "lead_time_p95_h": "Lead time p95",
        "lead_time_mean_h": "Lead time mean",
        "lead_same_day_share": "Reached the same day",
        "lead_next_day_share": "Reached the next day",
        "lead_later_share": "Reached later",
        "lead_unresolved_share": "Still on the way",
        "on_time_rate": "On time",
        "parcels_created": "Parcels created",
        "parcels_delivered": "Parcels delivered",
        "parcels_in_system": "Parcels in the system",
        "parcels_spoiled": "Parcels spoiled",
        "parcels_failed": "Parcels failed",
        "backlog_county_centre": "Backlog at the county centre",
        "vehicle_km": "Vehicle distance",
        "overtime_h": "Overtime",
        "cost_per_parcel_yuan": "Cost per parcel",
        "cost_yuan": "Cost",
    }
)

_ZH: Mapping[str, str] = MappingProxyType(
    {
        "run_title": "ruralsim 运行：{name}",
        "sweep_title": "ruralsim 扫描：{name}",
        "run_facts": "{region}；{replications} 次重复，随机种子 {seed}；合成图层：{layers}",
        "none": "无",
        "headline": "主要指标",
        "kpi": "指标",
        "value": "均值",
        "ci": "95% 置信区间",
        "ci_note": "按各次重复计算（t 分布）；比例截断到 0-100 %，数量不小于 0。",
        "map": "覆盖地图",
        "map_note": "拖动平移，滚轮缩放；悬停在村或乡镇网点上可查看名称、代码、每周频次、"
        "p95 时效和原因。",
        "synthetic_mark": "合成数据 {layers}",
        "covered": "已覆盖",
        "not_covered": "未覆盖",
        "reachable": "可达（无自有服务点）",
        "township_point": "乡镇网点",
        "county_centre": "县级分拨中心",
        "shuttles": "干线班车",
        "loops": "村级线路",
        "boundary": "县界",
        "km_east": "向东 km",
        "km_north": "向北 km",
        "name": "名称",
        "code": "代码",
        "visits": "每周频次",
        "p95_lead": "p95 时效（小时）",
        "reason": "原因",
        "why": "未达标的原因（英文）",
        "ranking": "排名：最差在前",
        "ranking_note": "按村覆盖率（低者在前）排序，其次按 p95 时效（长者在前）。",
        "counties": "县",
        "townships": "乡镇",
        "county": "县",
        "township": "乡镇",
        "village_coverage": "村覆盖",
        "township_coverage": "乡镇覆盖",
        "point_covered": "乡镇网点达标",
        "p95_town": "到乡镇网点 p95 时效（小时）",
        "yes": "是",
        "no": "否",
        "shown_of": "共 {total} 个，显示最差的 {shown} 个",
        "all_of": "全部 {total} 个",
        "l_roads": "道路",
        "l_township_points": "乡镇网点位置",
        "l_village_points": "村点位置",
        "uncovered": "未覆盖的村",
        "uncovered_none": "所有村均已覆盖。",
        "margin": "差距",
        "stages": "包裹在哪里等待",
        "stages_note": "测量期内生成并到达服务点的进村包裹在各环节的小时数（{n} 件，全部重复）。",
        "stages_sample": "来自本次运行的包裹抽样。",
        "stages_none": "本次运行未写出包裹表（parcels: {written}），无法显示各环节。",
        "stage": "环节",
        "p50_h": "p50（小时）",
        "p95_h": "p95（小时）",
        "mean_h": "均值（小时）",
        "hours": "小时",
        "lead_times": "时效分布",
        "lead_note": "测量期内包裹从县级分拨中心到服务点的时效；虚线：p50 和 p95，黑线：标准。",
        "lead_png": "本次运行自身的图（figures/lead_times.png），由全部包裹绘制。",
        "parcels": "包裹",
        "lead_h": "时效（小时）",
        "standard": "标准",
        "variants": "{n} 个方案",
        "design": "试验设计",
        "pareto": "成本与覆盖",
        "pareto_note": "每个点是一个方案，标注其因子取值，两轴均带 95% 置信区间；"
        "折线连接帕累托前沿（没有其他方案既更便宜又覆盖更多）。",
        "variant": "方案",
        "front": "帕累托前沿",
        "sensitivity": "敏感性：{kpi}",
        "factor": "因子",
        "sobol_st": "Sobol 总效应指数 ST",
        "morris_mu": "Morris mu*",
        "reading": "数值为各次重复的均值；地名均来自本次运行的数据表。",
        "r_covered": "已覆盖",
        "r_no_point": "无服务点",
        "r_no_visits": "无村级车辆到访",
        "r_too_few_visits": "到访频次不足",
        "r_lead_time_too_long": "时效过长",
        "r_shuttle_not_daily": "班车非每日",
        "r_townships_not_covered": "乡镇未覆盖",
        "r_sorting_too_slow": "分拣过慢",
        "m_lead": "超出 {limit} 小时标准 {miss} 小时；在{stage}等待最久",
        "m_lead_unknown": "p95 未知（包裹仍在途）；在{stage}等待最久",
        "m_visits": "每周 {visits} 次 < {limit}",
        "m_no_point_km": "乡镇网点距离 {km} km（{tag}）",
        "m_reachable": "可达",
        "m_not_reachable": "不可达",
        "m_no_visits": "包裹滞留在乡镇网点",
        "s_sorting": "分拣",
        "s_shuttle": "干线班车",
        "s_township_point": "乡镇网点",
        "s_loop": "村级线路",
        "s_pickup": "取件",
        "u_h": "小时",
        "u_yuan": "元",
        "u_km": "km",
        "u_kg": "kg",
        "u_parcels": "件",
        "u_per_day": "元/天",
        "county_hub_coverage": "县县有分拨",
        "township_point_coverage": "乡乡有网点",
        "village_express_coverage": "村村通快递",
        "village_express_coverage_pop": "村村通快递（按人口）",
        "lead_time_p50_h": "时效 p50",
        "lead_time_p95_h": "时效 p95",
        "lead_time_mean_h": "平均时效",
        "lead_same_day_share": "当日到达",
        "lead_next_day_share": "次日到达",
        "lead_later_share": "隔日以后到达",
        "lead_unresolved_share": "仍在途",
        "on_time_rate": "准时率",
        "parcels_created": "生成包裹",
        "parcels_delivered": "已送达包裹",
        "parcels_in_system": "在途包裹",
        "parcels_spoiled": "腐损包裹",
        "parcels_failed": "失败包裹",
        "backlog_county_centre": "县级分拨中心积压",
        "vehicle_km": "车辆里程",
        "overtime_h": "加班时长",
        "cost_per_parcel_yuan": "单件成本",
        "cost_yuan": "成本",
    }
)

_WORDS: Mapping[str, Mapping[str, str]] = MappingProxyType({"en": _EN, "zh": _ZH})


@dataclass(frozen=True)
class Labels:
    """The words of one language (see :func:`labels`)."""

    lang: str

    def __call__(self, key: str, **values: object) -> str:
        """The text of ``key``, with ``values`` filled in (English, then the key, if missing)."""
        text = _WORDS[self.lang].get(key) or _EN.get(key) or key
        return text.format(**values) if values else text

    def words(self) -> dict[str, str]:
        """Every text of the language by key, unformatted (for a template)."""
        return {key: self(key) for key in _EN}

    def reason(self, code: str) -> str:
        """A coverage reason (``no_point``, ``lead_time_too_long``, ...) in words."""
        return self(f"r_{code}") if f"r_{code}" in _EN else code

    def layer(self, name: str) -> str:
        """A geodata layer (``roads``, ``village_points``, ...) in words."""
        return self(f"l_{name}") if f"l_{name}" in _EN else name

    def stage(self, code: str) -> str:
        """A stage of the lead time (``sorting``, ``shuttle``, ...) in words."""
        return self(f"s_{code}") if f"s_{code}" in _EN else code


def labels(lang: str = "en") -> Labels:
    """The report's words in ``lang`` (one of :data:`LANGS`).

    Raises
    ------
    ValueError
        If ``lang`` is not one of :data:`LANGS`.
    """
    if lang not in _WORDS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGS)}")
    return Labels(lang)
