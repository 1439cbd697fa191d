"""Render a built report: ``report.md`` (fits a PR comment), ``index.html`` (one self-contained page,
static SVG plots, no script) and ``samples.html`` (the per-sample viewer), from the sections of
``ibench.report.sections`` in order."""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from typing import Any

from ibench.core.jsonio import json_safe

from .format import fmt, fmt_ci
from .model import Report
from .provenance import TINY_BANNER
from .sections import SECTIONS, settings_text, study_text
from .tables import FAMILY_TITLES

MD_LIMIT = 65_536  # a GitHub PR comment's maximum length


def _template(name: str) -> str:
    return resources.files("ibench").joinpath("resources", name).read_text(encoding="utf-8")


class Page:
    """What section renderers get: the section macros (``macro(name, *args)``) and escaping."""

    def __init__(self) -> None:
        import jinja2

        self.env = jinja2.Environment(autoescape=jinja2.select_autoescape(default=True),
                                      undefined=jinja2.StrictUndefined,
                                      loader=jinja2.FunctionLoader(lambda name: _template(name)))
        self.env.filters["fmt"] = fmt
        self.env.globals.update(study_text=study_text, settings_text=settings_text,
                                family_title=lambda f: FAMILY_TITLES.get(f, f))
        self.env.filters["ci"] = lambda r, p="": fmt_ci(r[f"{p}"], r[f"{p}_ci_low"], r[f"{p}_ci_high"], 2)
        self._macros = self.env.get_template("report_sections.html.j2").module
        self.escape = escape

    def macro(self, name: str, *args: Any) -> str:
        return str(getattr(self._macros, name)(*args))

    def render(self, template: str, **ctx: Any) -> str:
        return self.env.get_template(template).render(**ctx)


# -- markdown ------------------------------------------------------------------------------------------
def _banner_md(report: Report) -> list[str]:
    out = []
    if report.tiny_runs:
        out += [f"> [!WARNING]\n> **Meaningless scores.** {TINY_BANNER} ({len(report.tiny_runs)} of "
                f"{len(report.runs)} runs.)", ""]
    out += [f"> {w}" for w in report.warnings] + ([""] if report.warnings else [])
    return out


def render_markdown(report: Report, limit: int = MD_LIMIT) -> str:
    """``report.md``: the sections' tables, without plots and images. When it would not fit ``limit``
    characters, the sections that matter least (largest ``keep``) are replaced by a pointer to the
    HTML page and the CSV tables, one at a time."""
    head = [f"# ibench report: {report.title}", "",
            f"Created {report.created} by ibench {report.version} from {len(report.runs)} run(s)."
            + (f" Study `{report.study}`." if report.study else ""), "", *_banner_md(report)]
    parts = [(s, s.markdown(report)) for s in SECTIONS]
    parts = [(s, lines) for s, lines in parts if lines]
    body = {s.id: [f"## {s.title}", "", *lines] for s, lines in parts}

    def text() -> str:
        return "\n".join(head + [line for s, _ in parts for line in body[s.id]])

    order = [q[0].id for q in parts]
    for s, _ in sorted(parts, key=lambda p: (-p[0].keep, -order.index(p[0].id))):
        if len(text()) <= limit or s.keep <= 1:  # keep-1 sections (the headline, Table 4) are cut, never dropped
            break
        body[s.id] = [f"## {s.title}", "", "_Left out of report.md to fit a PR comment: see index.html and "
                                           "tables/*.csv._", ""]
    out = text()
    if len(out) > limit:
        cut = "\n\n_…cut to fit a PR comment: see index.html and tables/*.csv._\n"
        out = out[:limit - len(cut)].rsplit("\n", 1)[0] + cut
    return out


# -- HTML ----------------------------------------------------------------------------------------------
def render_html(report: Report) -> str:
    """``index.html``: CSS, SVG plots and thumbnails inline; nothing is fetched, no script runs."""
    page = Page()
    shown = [(s, s.html(report, page)) for s in SECTIONS]
    shown = [(s, html) for s, html in shown if html]
    return page.render("report.html.j2", r=report, css=_template("report.css"), sections=shown,
                       banner=TINY_BANNER if report.tiny_runs else "", viewer=bool(report.samples))


def render_viewer(report: Report) -> str:
    """``samples.html``: the records as one JSON block and the script that filters and shows them."""
    page = Page()
    data = json.dumps(json_safe({"title": report.title, "samples": report.samples,
                       "metrics": sorted({m for s in report.samples for m in s["scores"]})}),
                      separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return page.render("viewer.html.j2", r=report, css=_template("report.css"), data=data,
                       script=_template("viewer.js"), banner=TINY_BANNER if report.tiny_runs else "")
