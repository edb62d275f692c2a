"""nnmath.report: figures, an HTML page and a JSON summary of the analysis of a model.

* :func:`render` turns analysis results (and Histories) into a :class:`Section`: matplotlib
  Figures (``section.figures[i].figure``) with their PNG bytes (``.png``), tables and the numbers
  (``section.summary``) — for a notebook.
* :func:`build_report` runs every registered section (:data:`SECTIONS`, each a small function
  ``(ReportContext) -> Section``) on a trained model; ``report.write(directory)`` writes
  ``report.html`` (one self-contained file: images as ``data:`` URIs, no script, no network), the
  PNGs and ``summary.json`` (strict JSON of every section's numbers). A section whose tool is not
  in this version of :mod:`nnmath.analysis` is listed as "not available in this version".

Figures are drawn by matplotlib's Agg renderer without pyplot: nothing is displayed and a
notebook's backend is left alone.
"""
from ._base import PNG_DPI, STATUSES, Plot, Section, Table
from ._report import Report, ReportFiles, build_report, write_report
from .html import format_number, html_table, render_html
from .plots import (
    RENDERERS,
    plot_gradient_flow,
    plot_hessian_spectrum,
    plot_history,
    plot_interpolation,
    plot_loss_surface,
    plot_ntk,
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
    "plot_loss_surface", "plot_interpolation", "plot_ntk",
    "ReportContext", "SECTIONS", "SectionSpec", "Skip", "register_section", "run_section",
    "section_available",
    "Report", "ReportFiles", "build_report", "write_report",
    "html_table", "format_number", "render_html",
]
