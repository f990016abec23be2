"""Losses: the output activation, the loss and the labels agree (book/losses.md)."""

import numpy as np

from .context import CROSSENTROPIES
from .findings import ERROR, WARNING, check

LEARNING_RATES = (1e-6, 1.0)
_PROBABILITY = {"binary_crossentropy": "sigmoid", "sparse_categorical_crossentropy": "softmax",
                "categorical_crossentropy": "softmax"}


@check("LOS001", "losses", "binary-cross-entropy-on-a-linear-output")
def check_logits_into_probability_loss(ctx):
    """A cross-entropy reads probabilities unless told from_logits=True."""
    head = ctx.head
    if head is None or head["loss"] not in CROSSENTROPIES or head["from_logits"]:
        return
    wanted, activation = _PROBABILITY[head["loss"]], head["activation"]
    if activation == wanted or (activation == "softmax" and head["units"] == 1):
        return  # right, or LOS002
    yield (ERROR, f"output: {head['loss']} expects {wanted} probabilities, the last layer "
           f"gives {activation!r} outputs and from_logits is False",
           f"use activation='{wanted}' on the last layer, or the loss with from_logits=True")


@check("LOS002", "losses", "softmax-over-a-single-unit")
def check_softmax_one_unit(ctx):
    """A softmax over one unit always outputs 1.0: nothing can be learned."""
    head = ctx.head
    if head is not None and head["activation"] == "softmax" and head["units"] == 1:
        yield (ERROR, "output: softmax needs one unit per class (>= 2), the last layer has 1 "
               "unit, so it always outputs 1.0",
               "for two classes use Dense(1, activation='sigmoid') with binary_crossentropy")


@check("LOS003", "losses", "the-pairings-that-work")
def check_label_range(ctx):
    """Labels lie in the range the loss reads: [0, 1] for BCE, 0..units-1 for sparse CE."""
    loss, y = ctx.loss, ctx.y
    if loss not in CROSSENTROPIES or y.dtype.kind not in "biuf" or y.size == 0:
        return
    sample = ctx.y_sample
    low, high = float(np.nanmin(sample)), float(np.nanmax(sample))
    if loss in ("binary_crossentropy", "categorical_crossentropy") and (low < 0 or high > 1):
        if loss == "categorical_crossentropy" and y.ndim == 1:
            return  # class ids: DTY004
        yield (ERROR, f"labels: {loss} expects values in [0, 1], y ranges from {low:g} to {high:g}",
               "map the labels to 0/1 (e.g. y = (y == positive_class).astype('float32'))")
    elif loss == "sparse_categorical_crossentropy" and y.ndim <= 2 and (
            y.ndim == 1 or y.shape[1] == 1):
        units = ctx.units
        if low < 0 or (units is not None and high >= units) or not ctx.y_is_integer:
            yield (ERROR, f"labels: sparse_categorical_crossentropy expects integer class ids "
                   f"0..{units - 1 if units else '?'}, y ranges from {low:g} to {high:g}",
                   "give the last layer one unit per class (y.max() + 1), or relabel the "
                   "classes as 0..K-1")


@check("LOS004", "losses", "a-learning-rate-far-too-high-or-far-too-low")
def check_learning_rate(ctx):
    """A learning rate between 1e-6 and 1.0."""
    rate = ctx.learning_rate
    if rate is not None and not LEARNING_RATES[0] <= rate <= LEARNING_RATES[1]:
        yield (WARNING, f"learning rate: expected between {LEARNING_RATES[0]:g} and "
               f"{LEARNING_RATES[1]:g}, the optimizer has {rate:g}",
               "start from the optimizer's default (Adam: 1e-3) and sweep by factors of 10")
