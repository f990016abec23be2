"""Leakage: validation rows the model trained on, features made from the label, a validation
split that sees other classes than training (book/leakage.md)."""

import numpy as np

from .findings import INFO, WARNING, check

CORRELATION = 0.99
# Shared rows are a leak when the features could tell samples apart: when their columns
# take so few distinct values that the possible rows number fewer than NATURAL_FACTOR times
# the training rows, different samples share rows by nature, and that is only noted.
SHARED_SHARE = 0.02
NATURAL_FACTOR = 10.0


def _table(values):
    return values.reshape(len(values), -1)


@check("LEK001", "leakage", "duplicate-rows-on-both-sides-of-the-split", needs_y=False)
def check_shared_rows(ctx):
    """Validation rows are not copies of training rows (beyond what the data repeats itself)."""
    from tfclinic.leakage import shared_rows

    if ctx.validation is None or not ctx.numeric_x or ctx.validation[0].dtype.kind not in "biuf":
        return
    x_val = ctx.validation[0]
    if x_val.shape[1:] != ctx.x.shape[1:] or len(x_val) == 0 or ctx.sampled:
        return
    shared = shared_rows(_table(ctx.x), _table(x_val))
    if not len(shared):
        return
    share = len(shared) / len(x_val)
    train = _table(ctx.x[:: max(1, len(ctx.x) // 20_000)])
    distinct = [len(np.unique(column)) for column in train.T[:64]]
    combinations = float(np.prod(np.asarray(distinct, dtype="float64")))
    message = (f"validation rows: expected none in the training data, {len(shared)} of "
               f"{len(x_val)} ({share:.0%}) are exact copies of training rows")
    fix = "drop duplicate rows (np.unique(x, axis=0)) before splitting"
    if share > SHARED_SHARE and combinations > NATURAL_FACTOR * len(train):
        yield (WARNING, message, fix)
    else:
        yield (INFO, message + f"; the features take few distinct values ({combinations:.3g} "
               "combinations at most), so equal rows may be different samples", fix)


@check("LEK002", "leakage", "a-feature-computed-from-the-label")
def check_label_feature(ctx):
    """No single feature predicts a class label almost perfectly (|correlation| > 0.99).

    Only for class labels: a regression target can be this close to linear in one honest
    feature (synthetic or physical data often is)."""
    y = ctx.y_vector
    if (ctx.x.ndim != 2 or not ctx.numeric_x or y is None or len(y) < 20 or ctx.x.shape[1] < 2
            or ctx.y_classes is None):
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


@check("LEK003", "leakage", "4-shuffling-a-time-series-before-splitting-it")
def check_sorted_validation_split(ctx):
    """``validation_split`` takes the last rows unshuffled: they must hold the same classes."""
    split = ctx.fit.get("validation_split") or 0.0
    if not 0 < split < 1 or ctx.sampled or ctx.y_classes is None:
        return
    y = ctx.y_vector if ctx.y_vector is not None else ctx.y.argmax(axis=1)
    cut = int(len(y) * (1 - split))
    if cut < 2 or cut >= len(y):
        return
    train, held = set(np.unique(y[:cut]).tolist()), set(np.unique(y[cut:]).tolist())
    unseen = sorted(held - train)
    if unseen or (len(held) == 1 and len(train) > 1):
        what = (f"class(es) {', '.join(map(str, unseen[:5]))} that training never sees" if unseen
                else f"only class {next(iter(held))}")
        yield (WARNING, f"validation_split={split:g} keeps the last {len(y) - cut} rows, which "
               f"hold {what}: the rows are sorted by class",
               "shuffle before fit: order = np.random.permutation(len(x)); x, y = x[order], y[order]")
