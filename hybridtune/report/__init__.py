"""Every figure (plotly is imported here only), the HTML pages and the dashboard notes."""

from __future__ import annotations

from ._figures import momentum_runs_figure, range_test_figure
from ._report import save_to_dashboard, write_report
from ._report import explain_lines, summary_rows
from ._pages import landscape_page, procedure_page, range_test_page, sweep_page

__all__ = ["momentum_runs_figure", "range_test_figure", "save_to_dashboard", "write_report"]
__all__ += ["explain_lines", "landscape_page", "procedure_page", "range_test_page", "summary_rows", "sweep_page"]
