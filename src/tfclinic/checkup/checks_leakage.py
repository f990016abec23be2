"""Leakage: validation rows the model trained on, features made from the label (book/leakage.md)."""

import numpy as np

from .findings import WARNING, check

CORRELATION = 0.99


def _table(values):
    return values.reshape(len(values), -1)


@check("LEK001", "leakage", "duplicate-rows-on-both-sides-of-the-split")
def check_shared_rows(ctx):
    """No validation row is an exact copy of a training row."""
    from tfclinic.leakage import shared_rows

    if ctx.validation is None or not ctx.numeric_x or ctx.validation[0].dtype.kind not in "biuf":
        return
    x_val = ctx.validation[0]
    if x_val.shape[1:] != ctx.x.shape[1:] or len(x_val) == 0:
        return
    shared = shared_rows(_table(ctx.x), _table(x_val))
    if len(shared):
        yield (WARNING, f"validation rows: expected none in the training data, {len(shared)} of "
               f"{len(x_val)} ({len(shared) / len(x_val):.0%}) are exact copies of training rows",
               "drop duplicate rows (np.unique(x, axis=0)) before splitting")


@check("LEK002", "leakage", "a-feature-computed-from-the-label")
def check_label_feature(ctx):
    """No single feature predicts the label almost perfectly (|correlation| > 0.99)."""
    y = ctx.y_vector
    if ctx.x.ndim != 2 or not ctx.numeric_x or y is None or len(y) < 3:
        return
    x = ctx.x_sample
    step = max(1, len(ctx.y) // len(x)) if len(x) else 1
    y = y[::step][:len(x)].astype("float64")
    if not np.all(np.isfinite(y)) or y.std() == 0:
        return
    finite = np.all(np.isfinite(x), axis=0)
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    denominator = np.sqrt((xc ** 2).sum(axis=0) * (yc ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(finite & (denominator > 0), (yc @ xc) / denominator, 0.0)
    leaky = np.flatnonzero(np.abs(corr) > CORRELATION)
    if len(leaky):
        columns = ", ".join(f"{j} (r = {corr[j]:+.3f})" for j in leaky[:5])
        yield (WARNING, f"features: expected none to predict the label almost perfectly, "
               f"column {columns} does", "drop features computed from the label or known "
               "only after it (check what each column means at prediction time)")
