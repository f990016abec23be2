"""Dynamic checks for ``checkup(deep=True)``: a forward pass and a short training run.

They train a clone of the model, with a copy of its weights and a fresh optimizer of the same
configuration, so the user's model and optimizer are never changed. The trial:

1. the first loss, on up to 512 rows spread evenly over the data;
2. a short run at the model's own learning rate and batch size on batches drawn from those
   rows (not the first rows only: sorted data would fool it), stopped at ``STEPS`` steps or
   at the time budget (``ctx.budget_s``, a note says so);
3. when that run did not lower the loss, one batch trained with a raised learning rate: a
   model that cannot lower even that has a broken pairing or frozen weights;
4. the activations of each hidden layer on the spread rows: dead ReLUs and saturated
   sigmoid or tanh units.
"""

import math
import time

import numpy as np

from .findings import ERROR, INFO, WARNING, check

BATCH = 32
STEPS = 40
ONE_BATCH_STEPS = 40
FIRST_LOSS_ROWS = 512
# The one-batch trial asks whether the model can learn at all, not whether its learning rate
# is well chosen: it raises a small rate to this.
TRIAL_LEARNING_RATE = 1e-2
DEAD_SHARE = 0.9        # a layer with this share of its ReLUs off on every row is dead
SATURATED_SHARE = 0.9   # ... of its sigmoid/tanh outputs within 1% of the bounds: saturated


def _spread(n, count):
    """``count`` row indices spread evenly over ``n`` rows."""
    if n <= count:
        return np.arange(n)
    return np.linspace(0, n - 1, count).astype("int64")


def _clone(ctx):
    import keras

    clone = keras.models.clone_model(ctx.model)
    clone.set_weights(ctx.model.get_weights())
    for layer in clone.layers:  # Keras 3.15: a cloned Normalization layer ignores copied
        if hasattr(layer, "finalize_state"):  # statistics until they are finalised again
            layer.finalize_state()
    clone.compile(optimizer="sgd", loss=ctx.model.loss)  # the loss only: _TrialStep trains
    return clone


def _loss(model, x, y):
    """The model's compiled loss on ``(x, y)``, one eager forward pass."""
    import tensorflow as tf

    x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
    # training=True: a model that starts with BatchNormalization normalises each batch by its
    # own statistics in training, as fit will; its initial moving statistics are no guide.
    return float(model.compute_loss(x=x, y=y, y_pred=model(x, training=True)))


class _TrialStep:
    """One traced training step of a clone under the update rule of the model's optimizer.

    A Keras optimizer's eager ``apply_gradients`` costs tens of milliseconds a step on a
    small model, and tracing ``train_on_batch`` over a second; this step (forward, backward
    and update in one ``tf.function``) traces in a few tenths of a second and then costs about
    a millisecond, so a trial of dozens of steps fits the time budget. SGD (with momentum),
    RMSprop and Adagrad are followed; every other optimizer is approximated by Adam at the
    same rate.
    """

    def __init__(self, model, optimizer, learning_rate=None):
        import tensorflow as tf

        config = optimizer.get_config()
        rate = config.get("learning_rate")
        rate = float(rate) if isinstance(rate, (int, float)) else 1e-3
        if learning_rate is not None:
            rate = max(rate, learning_rate)
        kind = type(optimizer).__name__
        momentum = float(config.get("momentum") or 0.0)
        beta_1, beta_2 = float(config.get("beta_1", 0.9)), float(config.get("beta_2", 0.999))
        rho, epsilon = float(config.get("rho", 0.9)), float(config.get("epsilon") or 1e-7)
        variables = model.trainable_variables
        first = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for v in variables]
        second = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for v in variables]
        t = tf.Variable(0.0)

        @tf.function(reduce_retracing=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
            gradients = tape.gradient(loss, variables)
            t.assign_add(1.0)
            for g, v, m, s in zip(gradients, variables, first, second):
                if g is None:
                    continue
                g = tf.cast(tf.convert_to_tensor(g), v.dtype)  # Embedding: IndexedSlices
                if kind == "SGD":
                    if momentum:
                        m.assign(momentum * m - rate * g)
                        v.assign_add(m)
                    else:
                        v.assign_sub(rate * g)
                elif kind in ("RMSprop", "Adagrad"):
                    s.assign(rho * s + (1 - rho) * tf.square(g) if kind == "RMSprop"
                             else s + tf.square(g))
                    v.assign_sub(rate * g / (tf.sqrt(s) + epsilon))
                else:
                    m.assign(beta_1 * m + (1 - beta_1) * g)
                    s.assign(beta_2 * s + (1 - beta_2) * tf.square(g))
                    m_hat = m / (1 - tf.pow(beta_1, t))
                    s_hat = s / (1 - tf.pow(beta_2, t))
                    v.assign_sub(rate * m_hat / (tf.sqrt(s_hat) + epsilon))
            return loss

        self.step, self.rate = step, rate

    def __call__(self, x, y):
        """One step on ``(x, y)``; the loss before it."""
        import tensorflow as tf

        return float(self.step(tf.convert_to_tensor(x), tf.convert_to_tensor(y)))


def trial(ctx):
    """Run (once per context) the trial described above; None if impossible."""
    if "trial" in ctx.__dict__:
        return ctx.__dict__["trial"]
    ctx.__dict__["trial"] = None
    if (ctx.head is None or getattr(ctx.model, "optimizer", None) is None or not ctx.numeric_x
            or not ctx.numeric_y):
        return None
    budget = getattr(ctx, "budget_s", 1.5)
    started = time.perf_counter()
    result = {"notes": []}
    try:
        rows = _spread(len(ctx.x), FIRST_LOSS_ROWS)
        x, y = ctx.x[rows], ctx.y[rows]
        if x.dtype == np.float64:
            x = x.astype("float32")
        clone = _clone(ctx)
        train = _TrialStep(clone, ctx.model.optimizer)
        result["first"] = _loss(clone, x, y)
        result["norms"] = layer_gradient_norms(clone, x[:BATCH], y[:BATCH])
        try:
            result["activations"] = hidden_activations(clone, x)
        except Exception:  # noqa: BLE001 - a graph the probe cannot cut: no activation check
            result["activations"] = []
        batch = min(int(ctx.fit.get("batch_size") or BATCH), len(x))
        order = np.random.default_rng(0).permutation(len(x))
        losses = []
        for step in range(STEPS):
            if time.perf_counter() - started > budget:
                result["notes"].append(f"the trial at the model's learning rate stopped after "
                                       f"{step} of {STEPS} steps (time budget {budget:g} s)")
                break
            take = order[(step * batch) % len(x):][:batch]
            if len(take) < batch:
                take = order[:batch]
            losses.append(train(x[take], y[take]))
            if not math.isfinite(losses[-1]):
                break
        result["losses"] = losses
        result["after"] = (_loss(clone, x, y) if losses and math.isfinite(losses[-1]) else None)
        progressed = result["after"] is not None and result["after"] < 0.9 * result["first"]
        result["progressed"] = progressed
        if progressed:  # the input-independent baseline: the trained copy on a constant input
            result["baseline"] = _loss(clone, np.zeros_like(x), y)
        if losses and all(map(math.isfinite, losses)) and not progressed:
            result["one_batch"] = _one_batch(ctx, x[:BATCH], y[:BATCH], started, budget, result)
    except Exception as error:  # noqa: BLE001 - a model the clone cannot train is reported below
        result["error"] = f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
    result["seconds"] = time.perf_counter() - started
    ctx.__dict__["trial"] = result
    return result


def _one_batch(ctx, xb, yb, started, budget, result):
    clone = _clone(ctx)
    train = _TrialStep(clone, ctx.model.optimizer, TRIAL_LEARNING_RATE)
    losses = []
    for step in range(ONE_BATCH_STEPS):
        if time.perf_counter() - started > budget:
            result["notes"].append(f"the one-batch trial stopped after {step} of "
                                   f"{ONE_BATCH_STEPS} steps (time budget)")
            break
        losses.append(train(xb, yb))
        if not math.isfinite(losses[-1]):
            break
    return losses


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


_SATURATING = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "hard_sigmoid": (0.0, 1.0)}


def hidden_activations(model, x):
    """For each hidden layer with a relu, sigmoid or tanh activation: ``(name, activation,
    share)``, the share of its units dead on every row (relu) or of its outputs within 1% of
    the bounds (sigmoid, tanh)."""
    import keras

    layers = [layer for layer in model.layers[:-1]
              if getattr(getattr(layer, "activation", None), "__name__", None)
              in ("relu", *_SATURATING)]
    if not layers or not getattr(model, "inputs", None):
        return []
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs, [layer.output for layer in layers])
    outputs = probe(x, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    found = []
    for layer, out in zip(layers, outputs):
        values = np.asarray(out).reshape(len(x), -1)
        name = layer.activation.__name__
        if name == "relu":
            share = float(np.mean(np.all(values <= 0, axis=0)))
        else:
            low, high = _SATURATING[name]
            margin = 0.01 * (high - low)
            share = float(np.mean((values < low + margin) | (values > high - margin)))
        found.append((layer.name, name, share))
    return found


def _uniform_loss(ctx):
    """The cross-entropy of an untrained classifier that spreads its probability evenly."""
    if ctx.loss == "binary_crossentropy":
        return math.log(2)
    if ctx.loss in ("sparse_categorical_crossentropy", "categorical_crossentropy") and ctx.units:
        return math.log(max(2, ctx.units))
    return None


@check("LOS005", "losses", "the-initial-loss-sanity-check", deep=True)
def check_first_loss(ctx):
    """An untrained classifier starts near ln K, the loss of an even guess over K classes."""
    result = trial(ctx)
    if not result or "first" not in result or not math.isfinite(result["first"]):
        return
    expected = _uniform_loss(ctx)
    if expected is not None and result["first"] > 3 * expected + 1:
        yield (WARNING, f"first loss: expected about {expected:.3g} (ln {ctx.units if ctx.units > 1 else 2}) "
               f"for an untrained classifier, this one gives {result['first']:.3g}",
               "check the output activation and from_logits, scale the inputs, and initialize "
               "the last layer smaller")


@check("TRN001", "losses", "the-pairings-that-work", deep=True)
def check_can_learn(ctx):
    """The model lowers its loss on one batch when trained at a raised learning rate."""
    result = trial(ctx)
    if not result:
        return
    if "error" in result:
        # The trial trains a clone by its own means (a custom train_step, several outputs or
        # a subclassed model can defeat them): that is no fault of the program, so a note.
        # When training itself fails, the real fit raises, and the crash is explained.
        yield (INFO, f"the deep trial could not train a copy of the model ({result['error']}); "
               "the deep checks were skipped", "if fit fails the same way, fix the shapes and "
               "dtypes it names")
        return
    losses = result.get("one_batch")
    if losses and len(losses) >= 10 and all(map(math.isfinite, losses)):
        start, end = losses[0], min(losses[-5:])
        if start > 0 and end > 0.98 * start:
            yield (WARNING, f"one batch of {BATCH}: expected the loss to fall when trained "
                   f"{len(losses)} steps at learning rate >= {TRIAL_LEARNING_RATE:g}, it went "
                   f"from {start:.3g} to {end:.3g}", "a model that cannot lower its loss on 32 "
                   "samples has frozen layers, a loss that ignores its output, or saturated "
                   "activations")


@check("TRN002", "losses", "a-learning-rate-far-too-high-or-far-too-low", deep=True)
def check_finite_loss(ctx):
    """The loss is a finite number from the first step on."""
    result = trial(ctx)
    if not result or "error" in result or "first" not in result:
        return
    # the loss measured after the trial counts too: a trial cut short by its time budget (a
    # busy machine) may see the overflow only there
    steps = result.get("losses", [])
    after = [] if result.get("after") is None else [result["after"]]
    values = [result["first"], *steps, *after]
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        where = ("before training" if bad == 0 else
                 f"at step {bad} of a trial at the model's learning rate" if bad <= len(steps) else
                 f"after {len(steps)} steps of a trial at the model's learning rate")
        yield (ERROR, f"loss: expected a finite number, it is {values[bad]} {where}",
               "look for NaN or inf in x and y (np.isfinite(x).all()), then lower the learning rate")


@check("TRN012", "losses", "a-learning-rate-far-too-high-or-far-too-low", deep=True)
def check_trial_diverges(ctx):
    """Trained at its own learning rate on batches from across the data, the loss does not climb."""
    result = trial(ctx)
    if not result or "error" in result or result.get("after") is None:
        return
    first, after, losses = result["first"], result["after"], result["losses"]
    if first > 0 and len(losses) >= 10 and after > 2 * first and max(losses) > 2 * min(losses):
        yield (WARNING, f"loss: expected to fall in {len(losses)} steps at the model's learning "
               f"rate {ctx.learning_rate if ctx.learning_rate is not None else '(schedule)'}, it "
               f"rose from {first:.3g} to {after:.3g}: the learning rate is too high for this data",
               "lower the learning rate by a factor of 10 (Adam: 1e-3), or clip gradients "
               "(clipnorm=1.0)")


@check("TRN013", "losses", "a-learning-rate-far-too-high-or-far-too-low", deep=True)
def check_hidden_activations(ctx):
    """Hidden ReLUs are not dead on every row, and sigmoid or tanh units are not saturated."""
    result = trial(ctx)
    for name, activation, share in (result or {}).get("activations", []):
        if activation == "relu" and share >= DEAD_SHARE:
            yield (WARNING, f"hidden layer {name}: expected most ReLUs to fire on some rows, "
                   f"{share:.0%} of its units are zero on all {min(len(ctx.x), FIRST_LOSS_ROWS)} "
                   "rows checked, so they pass no gradient", "scale the inputs, check the "
                   "biases' initialisation, or use a leaky_relu")
        elif activation != "relu" and share >= SATURATED_SHARE:
            yield (WARNING, f"hidden layer {name}: {share:.0%} of its {activation} outputs sit "
                   "at the bounds of their range, where the gradient is about zero",
                   "scale the inputs to mean 0 and standard deviation 1, or use relu")


# Gradient norms at initialisation, per layer: a healthy network has none at exactly zero,
# none enormous, and no layer many orders of magnitude below the largest.
EXPLODING_NORM = 1e3
VANISHING_RATIO = 1e-5


def judge_gradient_norms(norms):
    """Name what is wrong with per-layer gradient norms: ``(severity, message, fix)``, or None."""
    largest = max(norms.values(), default=0.0)
    if largest <= 0 or not math.isfinite(largest):
        return None
    dead = [name for name, norm in norms.items() if norm == 0.0]
    if dead:
        return (WARNING, f"gradients: expected every layer to receive some, {', '.join(dead)} "
                "received exactly zero", "look for dead ReLUs (large negative biases), frozen "
                "paths, or an output the loss ignores")
    if largest > EXPLODING_NORM:
        name = max(norms, key=norms.get)
        return (INFO, f"gradients: expected norms below {EXPLODING_NORM:g}, layer {name} has "
                f"{largest:.3g}", "scale the inputs, use a smaller initialisation or clip "
                "gradients (clipnorm=1.0)")
    name = min(norms, key=norms.get)
    if norms[name] < VANISHING_RATIO * largest:
        return (INFO, f"gradients: expected every layer within a factor {1 / VANISHING_RATIO:g} "
                f"of the largest ({largest:.3g}), layer {name} has {norms[name]:.3g}",
                "use relu-family activations and He initialisation, or add normalization "
                "layers between deep saturating layers")
    return None


@check("TRN006", "losses", "the-initial-loss-sanity-check", deep=True)
def check_gradient_norms(ctx):
    """Per-layer gradient norms at initialisation: none exactly zero (vanishing or exploding
    norms are noted: healthy networks show them too)."""
    norms = (trial(ctx) or {}).get("norms")
    verdict = judge_gradient_norms(norms) if norms else None
    if verdict:
        yield verdict


@check("TRN015", "playbook", "an-input-independent-baseline", deep=True)
def check_uses_its_inputs(ctx):
    """The input-independent baseline: after the trial the model should beat what it scores
    on all-zero inputs, and a classifier the loss of predicting the label balance (the label
    entropy). A note, since a short trial on hard data can honestly stop there."""
    from .checks_training import label_entropy

    result = trial(ctx) or {}
    first, after, baseline = result.get("first"), result.get("after"), result.get("baseline")
    if baseline is None or after is None or not math.isfinite(baseline):
        return
    floor = label_entropy(ctx.loss, ctx.y_sample)
    if floor is not None and floor > 0 and after >= 0.9 * floor:
        yield (INFO, f"inputs: the trial's loss fell from {first:.3g} to {after:.3g}, no lower "
               f"than the {floor:.3g} of predicting the label balance for every row (on all-zero "
               f"inputs the trained copy scores {baseline:.3g}): so far it learned the balance, "
               "not the features", "if training stays there, check that the features reach the "
               "model and still belong to their labels (a shuffle of x without y)")
    elif floor is None and baseline <= after + 0.05 * (first - after):
        yield (INFO, f"inputs: the trained copy scores {baseline:.3g} on all-zero inputs, as well "
               f"as the {after:.3g} on the real ones: what it learned does not use the features",
               "check that the features reach the model and still belong to their targets")


@check("TRN014", "losses", "the-initial-loss-sanity-check", deep=True)
def check_trial_notes(ctx):
    """Say when the trial was cut short by its time budget."""
    for note in (trial(ctx) or {}).get("notes", []):
        yield (INFO, note, "checkup(..., deep=True) judges what the shortened trial saw")


def _number(value):
    return f"{value:.3g}" if value is not None else "n/a"


def measurements(ctx):
    """What the trial measured, as :class:`~tfclinic.checkup.findings.Measurement` rows for the
    report: the first loss against its expected value, the trial's loss, the one-batch
    overfit and the gradient norm of each layer. Empty when no trial ran."""
    from .findings import Measurement

    result = ctx.__dict__.get("trial")
    if not result or "first" not in result:
        return []
    rows = []
    expected = _uniform_loss(ctx)
    if expected is not None:
        k = ctx.units if ctx.units and ctx.units > 1 else 2
        rows.append(Measurement("first loss", _number(result["first"]),
                                f"about ln {k} = {expected:.3g} for an untrained classifier"))
    else:
        rows.append(Measurement("first loss", _number(result["first"])))
    losses = result.get("losses") or []
    if losses:
        rows.append(Measurement(
            f"loss after {len(losses)} steps at the model's learning rate",
            f"{_number(result['first'])} -> {_number(result.get('after'))}",
            "lower than the first loss"))
    one_batch = result.get("one_batch")
    if one_batch:
        rows.append(Measurement(
            f"one batch of {BATCH}, {len(one_batch)} steps at learning rate >= {TRIAL_LEARNING_RATE:g}",
            f"{_number(one_batch[0])} -> {_number(min(one_batch[-5:]))}", "a clear fall"))
    elif result.get("progressed"):
        rows.append(Measurement(f"one batch of {BATCH} (overfit test)",
                                "not needed: the loss fell in the trial"))
    if result.get("baseline") is not None:
        rows.append(Measurement("loss of the trained copy on all-zero inputs (baseline)",
                                _number(result["baseline"]),
                                f"clearly above the {_number(result.get('after'))} on the real inputs"))
    for name, norm in (result.get("norms") or {}).items():
        rows.append(Measurement(f"gradient norm, layer {name}", _number(norm),
                                "above 0, below 1000"))
    return rows
