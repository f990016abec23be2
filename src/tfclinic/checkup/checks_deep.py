"""Dynamic checks for ``checkup(deep=True)``: a forward pass and a short training run.

They train a clone of the model, with a copy of its weights and a fresh optimizer of the same
configuration (learning rate at least ``TRIAL_LEARNING_RATE``), on one small batch, so the user's model and optimizer are never changed.
"""

import math

import numpy as np

from .findings import ERROR, WARNING, check

BATCH = 32
STEPS = 80
FIRST_LOSS_ROWS = 512
# The one-batch trial asks whether the model can learn at all, not whether its learning rate
# is well chosen (LOS004 asks that): it raises a small rate to this, so 80 steps are enough.
TRIAL_LEARNING_RATE = 1e-2


def _rows(values, n):
    step = max(1, len(values) // n)
    return values[::step][:n]


def trial(ctx):
    """Run (once per context) the forward pass and the one-batch training; None if impossible."""
    if "trial" in ctx.__dict__:
        return ctx.__dict__["trial"]
    ctx.__dict__["trial"] = None
    if ctx.head is None or getattr(ctx.model, "optimizer", None) is None or not ctx.numeric_x:
        return None
    import keras

    try:
        clone = keras.models.clone_model(ctx.model)
        clone.set_weights(ctx.model.get_weights())
        for layer in clone.layers:  # Keras 3.15: a cloned Normalization layer ignores copied
            if hasattr(layer, "finalize_state"):  # statistics until they are finalised again
                layer.finalize_state()
        config = ctx.model.optimizer.get_config()
        if isinstance(config.get("learning_rate"), float):  # a schedule is kept as it is
            config["learning_rate"] = max(config["learning_rate"], TRIAL_LEARNING_RATE)
        optimizer = type(ctx.model.optimizer).from_config(config)
        clone.compile(optimizer=optimizer, loss=ctx.model.loss)
        x, y = _rows(ctx.x, FIRST_LOSS_ROWS), _rows(ctx.y, FIRST_LOSS_ROWS)
        first = float(clone.test_on_batch(x, y, return_dict=True)["loss"])
        xb, yb = x[:BATCH], y[:BATCH]
        norms = layer_gradient_norms(clone, xb, yb)
        losses = []
        for _ in range(STEPS):
            losses.append(float(clone.train_on_batch(xb, yb, return_dict=True)["loss"]))
            if not math.isfinite(losses[-1]):
                break
    except Exception as error:  # noqa: BLE001 - a model the clone cannot train is reported below
        ctx.__dict__["trial"] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0]}"}
        return ctx.__dict__["trial"]
    ctx.__dict__["trial"] = {"first": first, "losses": losses, "norms": norms}
    return ctx.__dict__["trial"]


def layer_gradient_norms(model, x, y):
    """The norm of the loss gradient for each layer with trainable weights, on one batch.

    Returns:
        A dict of layer name to the norm of all its weights' gradients together.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=tf.convert_to_tensor(y), y_pred=y_pred)
    layers = {layer.name: layer.trainable_weights for layer in model.layers if layer.trainable_weights}
    gradients = tape.gradient(loss, [w for weights in layers.values() for w in weights])
    result, index = {}, 0
    for name, weights in layers.items():
        parts = [g for g in gradients[index: index + len(weights)] if g is not None]
        index += len(weights)
        result[name] = float(tf.sqrt(sum(tf.reduce_sum(tf.square(g)) for g in parts))) if parts else 0.0
    return result


def _label_entropy(ctx):
    """The loss of a classifier that predicts the class frequencies: ln K for K balanced classes."""
    y = ctx.y_sample
    if ctx.loss == "binary_crossentropy":
        p = np.clip(np.nanmean(y), 1e-7, 1 - 1e-7)
        return float(-(p * np.log(p) + (1 - p) * np.log(1 - p)))
    if ctx.loss == "sparse_categorical_crossentropy" and ctx.y_is_integer:
        counts = np.bincount(y.astype("int64").ravel().clip(0))
    elif ctx.loss == "categorical_crossentropy" and y.ndim == 2:
        counts = y.sum(axis=0)
    else:
        return None
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


@check("LOS005", "losses", "the-initial-loss-sanity-check", deep=True)
def check_first_loss(ctx):
    """An untrained classifier starts near the entropy of the labels (ln K for K balanced classes)."""
    result = trial(ctx)
    if not result or "first" not in result or not math.isfinite(result["first"]):
        return
    expected = _label_entropy(ctx)
    if expected is not None and result["first"] > 2 * expected + 0.5:
        yield (WARNING, f"first loss: expected about {expected:.3g} for these labels, the "
               f"untrained model gives {result['first']:.3g}",
               "check the output activation and from_logits; initialize the last layer smaller")


@check("TRN001", "losses", "the-pairings-that-work", deep=True)
def check_overfit_one_batch(ctx):
    """The model can drive its loss on one batch of 32 samples well down in a few dozen steps."""
    result = trial(ctx)
    if not result:
        return
    if "error" in result:
        yield (ERROR, f"one training step: expected to run, it failed with {result['error']}",
               "fix the shapes and dtypes reported above, then run checkup again")
        return
    losses = result["losses"]
    if len(losses) == STEPS and all(map(math.isfinite, losses)):
        start, end = losses[0], min(losses[-5:])
        if not end < 0.5 * start:
            yield (WARNING, f"one batch of {BATCH}: expected the loss to at least halve in "
                   f"{STEPS} steps (learning rate >= {TRIAL_LEARNING_RATE:g}), it went from {start:.3g} to {end:.3g}",
                   "a model that cannot overfit 32 samples has a broken pairing of output, "
                   "loss and labels, frozen layers, or saturated activations")


@check("TRN002", "losses", "a-learning-rate-far-too-high-or-far-too-low", deep=True)
def check_finite_loss(ctx):
    """The loss is a finite number from the first step on."""
    result = trial(ctx)
    if not result or "error" in result:
        return
    values = [result["first"], *result["losses"]]
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        where = "before training" if bad == 0 else f"at step {bad}"
        yield (ERROR, f"loss: expected a finite number, it is {values[bad]} {where}",
               "look for NaN or inf in x and y (np.isfinite(x).all()), then lower the learning rate")


# Gradient norms at initialisation, per layer: a healthy network has none at exactly zero,
# none enormous, and no layer many orders of magnitude below the largest.
EXPLODING_NORM = 1e3
VANISHING_RATIO = 1e-5


def judge_gradient_norms(norms):
    """Name what is wrong with per-layer gradient norms: ``(message, fix)``, or None if healthy."""
    largest = max(norms.values(), default=0.0)
    if largest <= 0 or not math.isfinite(largest):
        return None
    dead = [name for name, norm in norms.items() if norm == 0.0]
    if dead:
        return (f"gradients: expected every layer to receive some, {', '.join(dead)} received "
                "exactly zero", "look for dead ReLUs (large negative biases), frozen paths, or "
                "an output the loss ignores")
    if largest > EXPLODING_NORM:
        name = max(norms, key=norms.get)
        return (f"gradients: expected norms below {EXPLODING_NORM:g}, layer {name} has "
                f"{largest:.3g}", "scale the inputs, use a smaller initialisation or clip "
                "gradients (clipnorm=1.0)")
    name = min(norms, key=norms.get)
    if norms[name] < VANISHING_RATIO * largest:
        return (f"gradients: expected every layer within a factor {1 / VANISHING_RATIO:g} of the "
                f"largest ({largest:.3g}), layer {name} has {norms[name]:.3g}",
                "use relu-family activations and He initialisation, or add normalization "
                "layers between deep saturating layers")
    return None


@check("TRN006", "losses", "the-initial-loss-sanity-check", deep=True)
def check_gradient_norms(ctx):
    """Per-layer gradient norms at initialisation are neither zero, vanishing nor exploding."""
    norms = (trial(ctx) or {}).get("norms")
    verdict = judge_gradient_norms(norms) if norms else None
    if verdict:
        yield (WARNING, *verdict)
