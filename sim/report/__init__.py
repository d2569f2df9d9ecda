"""``ruralsim report DIR``: one self-contained, interactive ``report.html`` of a run or sweep.

The page is a single file that works offline: BokehJS, the charts' data and any image are
inline (no CDN, no link to another file), so it can be sent alone. It is rendered from a
jinja2 template with autoescaping, so no value from a folder (a scenario or village name, a
tampered manifest) can inject markup; the charts' values reach the page as Bokeh's JSON and
are shown as text.

A run report has the headline KPIs (units, human numbers, 95% intervals clipped to what the
KPI can be), an interactive coverage map, a worst-first ranking of counties and townships, the
villages not covered by name with reason and margin, where parcels wait (by stage) and the
lead-time distribution. A sweep report has the design, the cost-coverage Pareto front and, for
Sobol or Morris sweeps, the sensitivity bars. ``lang`` is ``en`` or ``zh``
(:mod:`sim.labels`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim._files import write_atomic
from sim.errors import UsageError
from sim.labels import LANGS, Labels, labels

__all__ = ["LANGS", "render_page", "write_report"]


def write_report(folder: str | Path, *, lang: str = "en") -> Path:
    """Write ``report.html`` into a run or sweep folder; return its path.

    Parameters
    ----------
    folder
        A run folder (manifest.json, kpis_summary.csv, ...) or a sweep folder (summary.csv,
        design.csv).
    lang
        Language of the labels, headings, KPI names and reasons: ``en`` or ``zh``.

    Raises
    ------
    UsageError
        If the folder is neither a run nor a sweep folder, a file in it is unreadable,
        truncated or malformed (the message names it), ``lang`` is unknown, or the disk is full.
    """
    from sim.report._sweep import sweep_context
    from sim.report._view import run_context

    folder = Path(folder)
    if lang not in LANGS:
        raise UsageError(f"--lang {lang}: not a language of the report; use one of {LANGS}")
    words = labels(lang)
    if (folder / "manifest.json").is_file() and (folder / "kpis_summary.csv").is_file():
        context, figures = run_context(folder, words)
    elif (folder / "summary.csv").is_file() and (folder / "design.csv").is_file():
        context, figures = sweep_context(folder, words)
    else:
        raise UsageError(
            f"{folder}: neither a run folder (manifest.json, kpis_summary.csv) nor a sweep "
            "folder (summary.csv, design.csv)"
        )
    body = render_page(context, figures, words)
    page = folder / "report.html"
    write_atomic(page, lambda p: p.write_text(body, encoding="utf-8"))
    return page


def render_page(context: dict[str, Any], figures: dict[str, Any], words: Labels) -> str:
    """The HTML page from the template, with BokehJS and the ``figures`` inline.

    Every value of ``context`` is escaped by jinja2; the figures' data is serialised by Bokeh.
    """
    import jinja2
    from bokeh.embed import components
    from bokeh.resources import Resources
    from markupsafe import Markup

    script, divs = components(figures) if figures else ("", {})
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sim.report", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )
    js = Resources(mode="inline", components=["bokeh"]).render_js() if figures else ""
    return env.get_template("report.html.j2").render(
        **context,
        lang=words.lang,
        t=words.words(),
        # Trusted markup: BokehJS from the installed package, Bokeh's script (its JSON is
        # HTML-escaped by Bokeh) and its empty target divs.
        bokeh_js=Markup(js),
        bokeh_script=Markup(script),
        divs={k: Markup(v) for k, v in divs.items()},
    )
