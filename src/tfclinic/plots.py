"""Plots a reader would rather look at than read: learning curves, broken against fixed."""

import matplotlib.pyplot as plt
import numpy as np


def plot_loss_curves(
    curves, title="Training loss", xlabel="epoch", ylabel="loss", log_scale=False, ax=None
):
    """Draw one line per named loss curve on a shared axis.

    Args:
        curves: mapping of label to a sequence of per-epoch (or per-step) losses, or to a
            Keras ``History`` object.
        title: the axis title.
        xlabel: what one point is ("epoch", or "step" for a custom training loop).
        ylabel: the y-axis label.
        log_scale: use a logarithmic y axis, useful when one curve falls by decades.
        ax: an existing Matplotlib axis; a new figure is made when omitted.

    Returns:
        The Matplotlib ``Figure``.

    Example:
        >>> fig = plot_loss_curves({"broken": [4, 4, 4], "fixed": [4, 1, 0.1]})
    """
    if not curves:
        raise ValueError("plot_loss_curves needs at least one curve, received none.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    else:
        fig = ax.figure
    for label, values in curves.items():
        if hasattr(values, "history"):
            values = values.history["loss"]
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, label=label, linewidth=2)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if log_scale:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig

