"""Figures for the diagnostics (sweep, landscape, procedure), from their results.

plotly is imported when a figure is made; nothing here computes anything a result does not already hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..diagnostics import LandscapeResult, ProcedureResult, SweepResult

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go


def valley_figure(result: SweepResult) -> go.Figure:
    """The sweep's valley: time to target against LR, one line per optimizer, failures at the ceiling."""
    import plotly.graph_objects as go

    fig = go.Figure()
    ceiling = result.ceiling_seconds
    for band in result.bands:
        runs = sorted((r for r in result.runs if r.optimizer == band.optimizer), key=lambda r: r.lr)
        ys = [r.seconds_to_target if r.success else ceiling for r in runs]
        fig.add_trace(go.Scatter(
            x=[r.lr for r in runs], y=ys, mode="lines+markers", name=band.optimizer,
            marker={"symbol": ["circle" if r.success else "x" for r in runs]},
            customdata=[[r.status, r.examples_to_target] for r in runs],
            hovertemplate="lr %{x:.3g}<br>%{y:.2f}s<br>%{customdata[0]}<br>examples %{customdata[1]}"))
        if band.range_test_lr is not None:
            fig.add_vline(x=band.range_test_lr, line_dash="dot", opacity=0.4,
                          annotation_text=f"{band.optimizer} range test", annotation_textangle=-90)
    fig.add_hline(y=ceiling, line_dash="dash", annotation_text="failed (ceiling)")
    fig.update_xaxes(type="log", title="learning rate")
    fig.update_yaxes(title=f"seconds to {result.target:.0%} train accuracy")
    fig.update_layout(title="Optimizer x learning rate: the valley")
    return fig


def width_figure(result: SweepResult) -> go.Figure:
    """The sweep's size plot: time to target against model width, at each optimizer's fastest LR."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for opt in dict.fromkeys(r.optimizer for r in result.width_runs):
        runs = sorted((r for r in result.width_runs if r.optimizer == opt), key=lambda r: r.width)
        fig.add_trace(go.Scatter(x=[r.width for r in runs],
                                 y=[r.seconds_to_target if r.success else result.ceiling_seconds for r in runs],
                                 mode="lines+markers", name=f"{opt} (lr {runs[0].lr:.3g})"))
    fig.update_xaxes(title="model width (x)")
    fig.update_yaxes(title=f"seconds to {result.target:.0%} train accuracy")
    fig.update_layout(title="Time to target against model size")
    return fig


def landscape_figure(result: LandscapeResult) -> go.Figure:
    """Loss and accuracy along the random direction and along the init -> trained segment."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=2, shared_xaxes="columns",
                        subplot_titles=("random filter-normalised direction from the initial weights",
                                        "initial (0) to trained (1) weights, extended",
                                        "accuracy", "accuracy"))
    for col, curve in ((1, result.random_direction), (2, result.segment)):
        for split, dash in (("train", None), ("val", "dot")):
            show = col == 1
            fig.add_trace(go.Scatter(x=curve.alphas, y=getattr(curve, f"{split}_loss"), name=f"{split} loss",
                                     line={"dash": dash, "color": "#1f77b4"}, showlegend=show,
                                     legendgroup=f"{split}l"), row=1, col=col)
            fig.add_trace(go.Scatter(x=curve.alphas, y=getattr(curve, f"{split}_acc"), name=f"{split} acc",
                                     line={"dash": dash, "color": "#2ca02c"}, showlegend=show,
                                     legendgroup=f"{split}a"), row=2, col=col)
    fig.update_yaxes(type="log", row=1)
    fig.update_xaxes(title="alpha", row=2)
    fig.update_layout(title="Weight-space line searches (the procedure's steps 1 and 7)")
    return fig


def lr_ramp_figure(result: ProcedureResult) -> go.Figure:
    """Step 2: train and validation loss per epoch against the LR of that epoch."""
    import plotly.graph_objects as go

    ramp = result.lr_ramp
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ramp.lrs, y=ramp.train_losses, mode="lines+markers", name="train loss"))
    fig.add_trace(go.Scatter(x=ramp.lrs, y=ramp.val_losses, mode="lines+markers", name="val loss"))
    fig.add_vline(x=ramp.chosen_lr, line_dash="dash", annotation_text=f"chosen {ramp.chosen_lr:.3g}")
    fig.update_xaxes(type="log", title="learning rate of the epoch")
    fig.update_yaxes(title="loss")
    fig.update_layout(title="LR raised every epoch (step 2)")
    return fig


def momentum_ramp_figure(result: ProcedureResult) -> go.Figure:
    """Step 3: validation loss per epoch against the momentum of that epoch."""
    import plotly.graph_objects as go

    fig = go.Figure()
    ramp = result.momentum_ramp
    if ramp is not None:
        fig.add_trace(go.Scatter(x=list(ramp.momenta), y=list(ramp.train_losses), mode="lines+markers",
                                 name="train loss"))
        fig.add_trace(go.Scatter(x=list(ramp.momenta), y=list(ramp.val_losses), mode="lines+markers",
                                 name="val loss"))
        fig.add_vline(x=ramp.suggested, line_dash="dash", annotation_text=f"chosen {ramp.suggested:.3g}")
    fig.update_xaxes(title="momentum of the epoch")
    fig.update_yaxes(title="loss")
    fig.update_layout(title="Momentum raised every epoch (step 3)")
    return fig


def checks_figure(result: ProcedureResult) -> go.Figure:
    """Steps 4-6: validation accuracy per epoch, the chosen constant setting against each check."""
    import plotly.graph_objects as go

    fig = go.Figure()
    base = [e.val_acc for e in result.baseline.epochs]
    fig.add_trace(go.Scatter(x=list(range(1, len(base) + 1)), y=base, mode="lines+markers",
                             name=f"constant lr {result.lr:.3g}", line={"width": 3}))
    for c in result.checks:
        fig.add_trace(go.Scatter(x=list(range(1, len(c.curve) + 1)), y=list(c.curve), mode="lines+markers",
                                 name=c.name))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="validation accuracy")
    fig.update_layout(title="Checks against the chosen constant setting (steps 4-6)")
    return fig
