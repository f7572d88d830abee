"""Every figure (plotly is imported here only), the HTML pages and the dashboard notes."""

from __future__ import annotations

from ._figures import momentum_runs_figure, range_test_figure
from ._report import save_to_dashboard, write_report

__all__ = ["momentum_runs_figure", "range_test_figure", "save_to_dashboard", "write_report"]
