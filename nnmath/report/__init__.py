"""nnmath.report: figures, an HTML page and a JSON summary of the analysis of a model.

* :func:`render` turns analysis results (and Histories) into a :class:`Section`: matplotlib
  Figures (``section.figures[i].figure``) with their PNG bytes (``.png``), tables and the numbers
  (``section.summary``) — for a notebook.
* :func:`build_report` runs every registered section (:data:`SECTIONS`, each a small function
  ``(ReportContext) -> Section``) on a trained model; ``report.write(directory)`` writes
  ``report.html`` (one self-contained file: images as ``data:`` URIs, no script, no network), the
  PNGs and ``summary.json`` (strict JSON of every section's numbers), through a temporary folder
  moved into place when complete. A section whose tool is not in this version of
  :mod:`nnmath.analysis` is listed as "not available in this version".

Figures are drawn by matplotlib's Agg renderer without pyplot: nothing is displayed and a
notebook's backend is left alone. The drawing functions live in :mod:`nnmath.analysis._plot`
(``result.plot(ax=None)``) and ``History.plot``; this package adds file names and captions.
matplotlib is the optional extra ``nnmath[plot]``: without it the report has its numbers and
tables and says why it has no figures.
"""
from ._base import PNG_DPI, STATUSES, Plot, Section, Table
from ._report import Report, ReportFiles, build_report, write_report
from .html import format_number, html_table, render_html
from .plots import (
    MATPLOTLIB_MISSING,
    RENDERERS,
    matplotlib_available,
    plot_gradient_flow,
    plot_hessian_spectrum,
    plot_history,
    plot_information_plane,
    plot_interpolation,
    plot_loss_surface,
    plot_ntk,
    plot_reliability,
    plot_run_comparison,
    plot_run_curves,
    plot_uncertainty,
    plot_weight_spectra,
    register_renderer,
    render,
)
from .sections import (
    SECTIONS,
    ReportContext,
    SectionSpec,
    Skip,
    register_section,
    run_section,
    section_available,
)

__all__ = [
    "Section", "Plot", "Table", "STATUSES", "PNG_DPI",
    "render", "RENDERERS", "register_renderer",
    "plot_history", "plot_gradient_flow", "plot_weight_spectra", "plot_hessian_spectrum",
    "plot_loss_surface", "plot_interpolation", "plot_ntk", "plot_reliability", "plot_uncertainty",
    "plot_information_plane", "plot_run_comparison", "plot_run_curves", "matplotlib_available",
    "MATPLOTLIB_MISSING",
    "ReportContext", "SECTIONS", "SectionSpec", "Skip", "register_section", "run_section",
    "section_available",
    "Report", "ReportFiles", "build_report", "write_report",
    "html_table", "format_number", "render_html",
]
