"""One self-contained HTML page: inline CSS, images as base64 ``data:`` URIs, no script and no
network access — it can be mailed, archived or opened offline and looks the same.
"""
from __future__ import annotations

import base64
import html as _html
import math
import numbers
from typing import Any, Iterable, Sequence

from ._base import Section, Table

__all__ = ["format_number", "html_table", "render_html"]

_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232b;
       max-width: 1040px; margin: 2em auto; padding: 0 1.2em; background: #fff; }
h1 { font-size: 1.7em; margin-bottom: 0.1em; }
h2 { font-size: 1.3em; margin-top: 2.2em; border-bottom: 1px solid #d8dde3; padding-bottom: 0.2em; }
.sub { color: #5b6570; margin-top: 0; }
p { margin: 0.5em 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #d8dde3; padding: 0.25em 0.7em; text-align: left; }
th { background: #f3f5f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: ui-monospace,
         "SFMono-Regular", Menlo, Consolas, monospace; }
caption { caption-side: top; text-align: left; color: #5b6570; padding-bottom: 0.3em; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eef0f2; }
figcaption { color: #5b6570; font-size: 0.9em; }
.status { display: inline-block; font-size: 0.75em; padding: 0.05em 0.5em; border-radius: 0.6em;
          vertical-align: middle; margin-left: 0.5em; font-weight: 600; }
.ok { background: #e3f4e8; color: #17663a; }
.unavailable, .skipped { background: #eef0f2; color: #5b6570; }
.failed { background: #fde7e7; color: #a11b1b; }
.refs { color: #5b6570; font-size: 0.85em; }
nav ol { columns: 2; padding-left: 1.4em; }
footer { margin-top: 3em; color: #8a939c; font-size: 0.85em; }
"""


def format_number(x: Any) -> str:
    """A table cell: integers with thousands separators, floats to 4 significant digits
    (scientific notation outside [1e-3, 1e5)), non-finite as ∞ / −∞ / NaN, text unchanged.

    >>> format_number(19210), format_number(0.123456), format_number(1.5e-7)
    ('19,210', '0.1235', '1.5e-07')
    >>> format_number(-float("inf")), format_number((64, 256))
    ('−∞', '64×256')
    """
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, numbers.Integral):
        return f"{int(x):,}"
    if isinstance(x, numbers.Real):
        v = float(x)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v == 0 or 1e-3 <= abs(v) < 1e5:
            return f"{v:.4g}"
        return f"{v:.3g}" if abs(v) >= 1e5 else f"{v:.2g}"
    if isinstance(x, (tuple, list)) and all(isinstance(v, numbers.Integral) for v in x):
        return "×".join(str(int(v)) for v in x) if x else "()"
    return str(x)


def html_table(head: Sequence, rows: Iterable[Sequence], caption: str = "") -> str:
    """A ``<table>``: numbers right-aligned and formatted by :func:`format_number`, text
    escaped.

    >>> html_table(("a",), [(0.5,)])
    '<table><tr><th>a</th></tr><tr><td class="num">0.5</td></tr></table>'
    """
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{_html.escape(caption)}</caption>")
    if any(str(h) for h in head):
        parts.append("<tr>" + "".join(f"<th>{_html.escape(str(h))}</th>" for h in head)
                     + "</tr>")
    for row in rows:
        cells = []
        for v in row:
            num = isinstance(v, numbers.Number) and not isinstance(v, bool)
            cls = ' class="num"' if num else ""
            cells.append(f"<td{cls}>{_html.escape(format_number(v))}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    return "".join(parts)


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{_html.escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def _section_html(s: Section) -> str:
    out = [f'<section id="{_html.escape(s.key)}"><h2>{_html.escape(s.title)}'
           f'<span class="status {s.status}">{s.status}</span></h2>']
    out.append(_paragraphs(s.text))
    for t in s.tables:
        out.append(html_table(t.head, t.rows, t.caption))
    for p in s.figures:
        data = base64.b64encode(p.png).decode("ascii")
        out.append(f'<figure><img alt="{_html.escape(p.caption or p.name)}" '
                   f'src="data:image/png;base64,{data}">'
                   f"<figcaption>{_html.escape(p.caption)}</figcaption></figure>")
    if s.references:
        out.append('<p class="refs">References: ' + "; ".join(_html.escape(r)
                                                            for r in s.references) + "</p>")
    if s.status == "ok" and s.seconds:
        out.append(f'<p class="refs">Computed in {s.seconds:.1f} s.</p>')
    out.append("</section>")
    return "\n".join(out)


def render_html(sections: Sequence[Section], title: str = "nnmath report", subtitle: str = "",
                overview: Table | None = None, footer: str = "") -> str:
    """The whole page: title, an overview table, a table of contents with each section's status,
    then every section (text, tables, figures embedded as ``data:`` URIs).

    Args:
        sections: the :class:`~nnmath.report.Section` objects, in order.
        title, subtitle: the heading and the line under it.
        overview: a table shown first (model, data, timings).
        footer: a last line.

    Returns:
        The HTML document as a string.
    """
    toc = "".join(f'<li><a href="#{_html.escape(s.key)}">{_html.escape(s.title)}</a>'
                  f'<span class="status {s.status}">{s.status}</span></li>' for s in sections)
    body = [f"<h1>{_html.escape(title)}</h1>"]
    if subtitle:
        body.append(f'<p class="sub">{_html.escape(subtitle)}</p>')
    if overview is not None:
        body.append(html_table(overview.head, overview.rows, overview.caption))
    body.append(f"<nav><ol>{toc}</ol></nav>")
    body += [_section_html(s) for s in sections]
    if footer:
        body.append(f"<footer>{_html.escape(footer)}</footer>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
