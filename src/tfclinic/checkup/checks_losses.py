"""Losses: the output activation, the loss and the labels agree (book/losses.md).

Judged by Keras 3 as it is: a sigmoid into a categorical cross-entropy, or a softmax over
two or more units into a binary one, trains normally (the loss reads the logits the
activation saved), so neither is reported.
"""

import numpy as np

from .context import CROSSENTROPIES
from .findings import ERROR, INFO, WARNING, check

# Adaptive optimizers take steps of about the learning rate whatever the gradient; plain SGD
# takes steps proportional to it. Beyond these rates a step overshoots any well-scaled problem.
HIGHEST_RATE = {"SGD": 1.0}
HIGHEST_ADAPTIVE_RATE = 0.1
LOWEST_RATE = 1e-6
_PROBABILITY = {"binary_crossentropy": "sigmoid", "sparse_categorical_crossentropy": "softmax",
                "categorical_crossentropy": "softmax"}
_SAVES_LOGITS = {"sigmoid", "softmax"}
# The range each bounded output activation can reach.
_BOUNDS = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, np.inf),
           "softplus": (0.0, np.inf), "elu": (-1.0, np.inf), "selu": (-1.76, np.inf),
           "hard_sigmoid": (0.0, 1.0), "relu6": (0.0, 6.0)}
OUTSIDE_SHARE = 0.05


@check("LOS001", "losses", "binary-cross-entropy-on-a-linear-output")
def check_logits_into_probability_loss(ctx):
    """A cross-entropy reads probabilities unless told from_logits=True."""
    head = ctx.head
    if head is None or head["loss"] not in CROSSENTROPIES or head["from_logits"]:
        return
    wanted, activation = _PROBABILITY[head["loss"]], head["activation"]
    if activation == wanted or activation in _SAVES_LOGITS:
        return  # right, or a pairing Keras 3 repairs (LOS002 covers a 1-unit softmax)
    yield (ERROR, f"output: {head['loss']} expects {wanted} probabilities, the last layer "
           f"gives {activation!r} outputs and from_logits is False",
           f"use activation='{wanted}' on the last layer, or the loss with from_logits=True")


@check("LOS002", "losses", "softmax-over-a-single-unit", needs_y=False)
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
    if loss not in CROSSENTROPIES or not ctx.numeric_y:
        return
    sample = ctx.y_sample
    low, high = float(np.nanmin(sample)), float(np.nanmax(sample))
    if loss in ("binary_crossentropy", "categorical_crossentropy") and (low < 0 or high > 1):
        if loss == "categorical_crossentropy" and y.ndim == 1:
            return  # class ids: DTY004
        yield (ERROR, f"labels: {loss} expects values in [0, 1], y ranges from {low:g} to {high:g}",
               "map the labels to 0/1 (e.g. y = (y == positive_class).astype('float32'))")
    elif loss == "sparse_categorical_crossentropy" and (
            y.ndim == 1 or y.shape[-1] == 1 or (ctx.output_shape and len(ctx.output_shape) > 2)):
        units = ctx.units
        if low < 0 or (units is not None and high >= units) or not ctx.y_is_integer:
            yield (ERROR, f"labels: sparse_categorical_crossentropy expects integer class ids "
                   f"0..{units - 1 if units else '?'}, y ranges from {low:g} to {high:g}",
                   "give the last layer one unit per class (y.max() + 1), or relabel the "
                   "classes as 0..K-1")


@check("LOS004", "losses", "a-learning-rate-far-too-high-or-far-too-low", needs_y=False,
       confirm=True)
def check_learning_rate(ctx):
    """A learning rate an optimizer can work with: at most 0.1 for Adam-like, 1.0 for SGD."""
    rate, name = ctx.learning_rate, ctx.optimizer_name
    if rate is None:
        return
    highest = HIGHEST_RATE.get(name, HIGHEST_ADAPTIVE_RATE)
    if rate > highest * (1 + 1e-6):
        yield (WARNING, f"learning rate: expected at most {highest:g} for {name}, the optimizer "
               f"has {rate:g}", "start from the optimizer's default (Adam: 1e-3) and sweep by "
               "factors of 10")
    elif rate < LOWEST_RATE * (1 - 1e-6):
        yield (WARNING, f"learning rate: expected at least {LOWEST_RATE:g}, the optimizer has "
               f"{rate:.3g}, too small for the weights to move", "start from the optimizer's "
               "default (Adam: 1e-3) and sweep by factors of 10")


@check("LOS006", "losses", "mean-squared-error-for-classification")
def check_regression_loss_for_classes(ctx):
    """Class labels are learned with a cross-entropy, not mean squared or absolute error."""
    from tfclinic.training import _REGRESSION_LOSSES

    head = ctx.head
    if head is None or head["loss"] not in _REGRESSION_LOSSES or not ctx.numeric_y:
        return
    classes, activation = ctx.y_classes, head["activation"]
    one_hot = ctx.y_one_hot and head["units"] == ctx.y.shape[1]
    binary_probability = activation == "sigmoid" and classes == 2 and head["units"] == 1
    softmax = activation == "softmax" and head["units"] >= 2
    accuracy = classes is not None and any("acc" in name for name in ctx.metric_names)
    if one_hot or binary_probability or softmax or accuracy:
        task = "one-hot" if ctx.y_one_hot else (f"{classes} classes" if classes else "classes")
        wanted = ("categorical_crossentropy" if ctx.y_one_hot else "binary_crossentropy"
                  if classes == 2 and head["units"] == 1 else "sparse_categorical_crossentropy")
        yield (WARNING, f"loss: the labels are class labels ({task}) and the output is "
               f"{activation!r} with {head['units']} unit(s), but the loss is {head['loss']}; "
               "its gradient fades when the output saturates", f"compile with loss='{wanted}' "
               "(and a sigmoid or softmax output)")


@check("LOS007", "losses", "a-sigmoid-output-for-a-regression-target")
def check_bounded_regression_output(ctx):
    """A regression output can reach its targets: no sigmoid for targets outside (0, 1)."""
    from tfclinic.training import _REGRESSION_LOSSES

    head = ctx.head
    if head is None or head["loss"] not in _REGRESSION_LOSSES or not ctx.numeric_y:
        return
    bounds = _BOUNDS.get(head["activation"])
    if bounds is None:
        return
    sample = ctx.y_sample[np.isfinite(ctx.y_sample)]
    if sample.size == 0:
        return
    low, high = bounds
    outside = float(np.mean((sample < low) | (sample > high)))
    if outside > OUTSIDE_SHARE:
        yield (WARNING, f"output: a {head['activation']!r} output lies in [{low:g}, {high:g}], "
               f"{outside:.0%} of the targets lie outside it (y from {sample.min():.3g} to "
               f"{sample.max():.3g}), so the model cannot reach them",
               "remove the activation from the last layer (a regression output needs none), "
               "or scale the targets into its range")


@check("LOS008", "losses", "softmax-over-a-single-unit", needs_y=False)
def check_categorical_one_unit(ctx):
    """A categorical cross-entropy over one output unit is always 0: nothing is learned."""
    head = ctx.head
    if (head is not None and head["loss"] == "categorical_crossentropy" and head["units"] == 1
            and head["activation"] != "softmax"):
        yield (ERROR, "loss: categorical_crossentropy normalises over the output units, and "
               "the last layer has 1, so the loss is 0 whatever the model predicts",
               "for two classes use binary_crossentropy with Dense(1, activation='sigmoid')")


@check("LOS009", "losses", "mean-squared-error-for-classification")
def check_accuracy_for_regression(ctx):
    """Accuracy counts exact matches: for real-valued targets it stays near 0 however well
    the model fits."""
    from tfclinic.training import _REGRESSION_LOSSES

    head = ctx.head
    if (head is None or head["loss"] not in _REGRESSION_LOSSES or not ctx.numeric_y
            or ctx.y_is_integer or ctx.y_classes):
        return
    if any(name in ("accuracy", "acc") for name in ctx.metric_names):
        yield (WARNING, "metric: accuracy counts predictions equal to the target, and these "
               "targets are real numbers, so it stays near 0 however well the model fits",
               "use metrics=['mae'] (mean absolute error) for a regression")


@check("LOS010", "losses", "categorical-or-sparse-categorical-cross-entropy")
def check_binary_loss_for_many_classes(ctx):
    """Three or more classes under a softmax are learned with a categorical cross-entropy;
    binary_crossentropy treats each unit as its own yes/no question, and 'accuracy' then
    means binary accuracy over the units, which looks high while the model is wrong."""
    head = ctx.head
    if (head is None or head["loss"] != "binary_crossentropy" or head["activation"] != "softmax"
            or not head["units"] or head["units"] < 3):
        return
    yield (WARNING, f"loss: the softmax over {head['units']} classes is trained with "
           "binary_crossentropy, which scores each unit apart; 'accuracy' then counts units, "
           f"not samples, and reads about {1 - 1 / head['units']:.0%} for a useless model",
           "compile with loss='categorical_crossentropy' for one-hot labels "
           "(sparse_categorical_crossentropy for class ids)")


# A minority class below this share of the labels makes a zero output bias a poor start.
RARE_SHARE = 0.2


def _output_bias(model):
    """The last layer's bias as floats, or None when it has none (use_bias=False, no Dense)."""
    bias = getattr(model.layers[-1], "bias", None) if model.layers else None
    return None if bias is None else np.asarray(bias, dtype="float64").reshape(-1)


@check("LOS011", "playbook", "output-bias-at-the-class-prior")
def check_output_bias_prior(ctx):
    """With imbalanced classes, an output bias of zero starts the model at even odds: its
    first steps only learn the class balance. A bias at the class prior starts it there."""
    head, bias = ctx.head, _output_bias(ctx.model)
    if head is None or bias is None or np.any(bias != 0) or ctx.y_vector is None:
        return
    if head["loss"] == "binary_crossentropy" and head["units"] == 1:
        labels = ctx.y_sample.reshape(-1)
        if not np.all((labels == 0) | (labels == 1)):
            return
        share = float(labels.mean())
        if not 0 < min(share, 1 - share) < RARE_SHARE:
            return
        entropy = -(share * np.log(share) + (1 - share) * np.log(1 - share))
        prior = np.log(share / (1 - share))
        yield (INFO, f"output bias: {share:.0%} of the labels are 1 and the bias is 0, so "
               f"the untrained model says 50% for every row (first loss about ln 2 = 0.693 "
               f"instead of the label entropy {entropy:.3g})",
               f"start the output at the prior: bias_initializer=keras.initializers.Constant("
               f"{prior:.3g}), log(p / (1 - p)) with p = {share:.3g}")
    elif head["loss"] == "sparse_categorical_crossentropy" and head["units"] and head["units"] > 2:
        if not ctx.y_is_integer:
            return
        counts = np.bincount(ctx.y_sample.astype("int64").clip(0), minlength=head["units"])
        shares = counts[:head["units"]] / counts.sum()
        if shares.min() <= 0 or shares.min() >= RARE_SHARE * shares.max():
            return
        yield (INFO, f"output bias: the classes range from {shares.min():.1%} to "
               f"{shares.max():.1%} of the labels and the bias is 0, so the untrained model "
               "gives every class the same probability",
               "start the output at the class priors: bias_initializer=keras.initializers."
               "Constant(np.log(class_shares))")
