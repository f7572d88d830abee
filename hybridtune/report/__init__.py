"""Every figure (plotly is imported in this stage only), the HTML pages and the dashboard notes."""

from __future__ import annotations

from ._figures import lr_trials_figure, momentum_runs_figure, range_test_figure, study_figures
from ._pages import landscape_page, procedure_page, range_test_page, sweep_page
from ._report import explain_lines, save_to_dashboard, summary_rows, write_report

__all__ = ["explain_lines", "landscape_page", "lr_trials_figure", "momentum_runs_figure", "procedure_page",
           "range_test_figure", "range_test_page", "save_to_dashboard", "study_figures", "summary_rows", "sweep_page",
           "write_report"]
