"""Training loops the lessons share, so the book, the notebooks and the hidden tests agree."""

import numpy as np

from .sandbox.student import runs_student_code


@runs_student_code(trains=("model",))
def train_custom_loop(model, x, y, loss_fn, steps=150, learning_rate=0.05):
    """Full-batch Adam on ``loss_fn(y, model(x))`` in a ``tf.GradientTape`` loop; trains
    ``model`` in place (in the grader too: its weights come back from the student process).

    A custom loop has none of ``model.fit``'s safety nets: Keras does not align the ranks of
    labels and predictions, so whatever shapes ``loss_fn`` receives are the shapes it uses.

    Args:
        model: a Keras model.
        x: features, shape (N, F).
        y: labels as given (the loop does not reshape them).
        loss_fn: ``loss_fn(y_true, y_pred)`` returning a scalar tensor.
        steps: number of gradient steps.
        learning_rate: Adam's learning rate.

    Returns:
        The loss before each step, as a NumPy array of length ``steps``.
    """
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(learning_rate)
    x, y = tf.constant(x), tf.constant(y)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return np.array([float(step()) for _ in range(steps)])


@runs_student_code
def fit_with_train_step(train_step, features, labels, steps=60, learning_rate=0.02, hidden=16):
    """Train a small binary classifier by calling a hand-written ``train_step`` repeatedly.

    The model is ``Dense(hidden, relu)`` then ``Dense(1)`` (one logit per sample), built
    after ``keras.utils.set_random_seed`` has been called by the caller, if at all. The step
    runs eagerly, so a step written with NumPy calls works as well as a TensorFlow one.

    Args:
        train_step: ``train_step(model, optimizer, features, labels)`` returning
            ``(loss, accuracy)`` of the batch before the update.
        features: float features, shape (N, F).
        labels: labels as ``train_step`` expects them.
        steps: number of full-batch steps.
        learning_rate: Adam's learning rate.
        hidden: units of the hidden layer.

    Returns:
        ``(model, losses, accuracies)``: the trained model, and the losses and accuracies
        ``train_step`` reported, as NumPy arrays of length ``steps``.
    """
    import keras

    model = keras.Sequential([
        keras.Input(shape=(int(features.shape[1]),)),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(1),
    ])
    optimizer = keras.optimizers.Adam(learning_rate)
    losses, accuracies = [], []
    for _ in range(steps):
        loss, accuracy = train_step(model, optimizer, features, labels)
        losses.append(float(loss))
        accuracies.append(float(accuracy))
    return model, np.array(losses), np.array(accuracies)


# Losses that read the model's output as probabilities, or as logits with from_logits=True.
_CROSSENTROPIES = {
    "binary": "binary_crossentropy",
    "sparse": "sparse_categorical_crossentropy",
    "categorical": "categorical_crossentropy",
}
_REGRESSION_LOSSES = {"mean_squared_error", "mean_absolute_error", "huber", "log_cosh",
                      "mean_squared_logarithmic_error"}
_PROBABILITY_ACTIVATIONS = {"binary": "sigmoid", "sparse": "softmax", "categorical": "softmax"}


@runs_student_code  # a model held by handle (grading) is read where it lives
def output_and_loss(model):
    """Name what a compiled model's output layer produces and what its loss expects.

    Args:
        model: a compiled Keras model with one output.

    Returns:
        A dict: ``units`` (size of the output's last axis), ``activation`` (the last
        activation applied to the output, ``"linear"`` for none), ``loss`` (the name of the
        loss function, e.g. ``"binary_crossentropy"`` for ``"bce"`` or
        ``keras.losses.BinaryCrossentropy()``) and ``from_logits`` (bool).

    Example:
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True))
        >>> output_and_loss(model)["activation"], output_and_loss(model)["from_logits"]
        ('linear', True)
    """
    import functools

    import keras

    history = getattr(model.outputs[0], "_keras_history", None)
    last = history.operation if history is not None else model.layers[-1]
    activation = getattr(last, "activation", None)
    if activation is not None:
        activation_name = getattr(activation, "__name__", type(activation).__name__)
    else:  # a Softmax or ReLU layer, or an op such as keras.ops.sigmoid
        activation_name = type(last).__name__.lower()

    loss, keywords = model.loss, {}
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, functools.partial):
        loss, keywords = loss.func, dict(loss.keywords)
    if hasattr(loss, "fn"):  # a LossFunctionWrapper such as keras.losses.BinaryCrossentropy()
        loss, keywords = loss.fn, dict(getattr(loss, "_fn_kwargs", {}))
    loss_name = getattr(loss, "__name__", type(loss).__name__)
    return {"units": model.output_shape[-1], "activation": activation_name,
            "loss": loss_name, "from_logits": bool(keywords.get("from_logits", False))}


# What each kind of labels is, in the words of pairing_problems' sentences.
_LABELS = {"binary": "0/1 labels", "sparse": "integer class labels",
           "categorical": "one-hot labels"}


@runs_student_code
def pairing_problems(model, task):
    """List what does not fit together in a compiled model's output layer and loss.

    Args:
        model: a compiled Keras model.
        task: ``"binary"`` (0/1 labels, one output unit), ``"sparse"`` (integer labels,
            one unit per class), ``"categorical"`` (one-hot labels, one unit per class) or
            ``"regression"`` (real-valued targets, one unit).

    Returns:
        A list of sentences saying what disagrees (the symptom, not the repair), empty when
        output, loss and labels agree. A classifier agrees
        when it outputs probabilities (sigmoid or softmax) into a cross-entropy with
        ``from_logits=False``, or logits (no activation) into one with ``from_logits=True``.

    Raises:
        ValueError: for an unknown ``task``.
    """
    if task not in (*_CROSSENTROPIES, "regression"):
        raise ValueError(f"task must be 'binary', 'sparse', 'categorical' or 'regression', "
                         f"received {task!r}.")
    found = output_and_loss(model)
    units, activation, loss = found["units"], found["activation"], found["loss"]
    problems = []
    if task == "regression":
        if units != 1:
            problems.append(f"the model has {units} output units for one real-valued target")
        if activation != "linear":
            problems.append(f"the output goes through {activation!r}, which limits the values "
                            "the model can predict; the targets are unbounded real numbers")
        if loss not in _REGRESSION_LOSSES:
            problems.append(f"the model is compiled with {loss!r}, which does not measure how "
                            "far a real-valued prediction is from its target")
        return problems

    wanted = _CROSSENTROPIES[task]
    if task == "binary" and units != 1:
        problems.append(f"the model has {units} output units for 0/1 labels, one number per "
                        "sample")
    if task != "binary" and units < 2:
        problems.append(f"the model has {units} output unit for {_LABELS[task]} of several "
                        "classes")
    if loss != wanted:
        problems.append(f"the model is compiled with {loss!r}, which does not read "
                        f"{_LABELS[task]}")
    probability = _PROBABILITY_ACTIVATIONS[task]
    if activation == probability and found["from_logits"]:
        problems.append(f"the output is a {probability} probability, but the loss was told "
                        "from_logits=True")
    elif activation == "linear" and not found["from_logits"]:
        problems.append("the output is a logit (no activation), but the loss reads it as a "
                        "probability")
    elif activation not in (probability, "linear"):
        problems.append(f"the output goes through {activation!r}, which gives neither the "
                        f"{probability} probabilities nor the logits a cross-entropy reads")
    return problems


def learning_rate_sweep(build_model, x, y, learning_rates, epochs=5, batch_size=32):
    """Train one fresh model per learning rate and keep each run's loss curve.

    Runs that blow up are stopped by ``keras.callbacks.TerminateOnNaN``, so their curve is
    short and ends in ``nan`` or ``inf``.

    Args:
        build_model: ``build_model(learning_rate)`` returning a compiled model.
        x, y: the training data.
        learning_rates: the rates to try.
        epochs, batch_size: passed to ``fit``.

    Returns:
        ``{learning_rate: per-epoch losses as a NumPy array}``, in the order given.
    """
    import keras

    curves = {}
    for rate in learning_rates:
        model = build_model(rate)
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0,
                            callbacks=[keras.callbacks.TerminateOnNaN()])
        curves[rate] = np.array(history.history["loss"])
    return curves


def train_logging_gradient_norms(model, x, y, steps=150, batch_size=32, seed=0):
    """Train a compiled model step by step and log, at every step, its loss and the global
    norm of its gradients before the optimizer sees them.

    ``fit`` does not show gradients, so this is the smallest loop that does: one traced step
    (forward, backward, ``model.optimizer.apply``), so the optimizer's own ``clipnorm``,
    ``global_clipnorm`` and learning-rate schedule (a warmup) act as they would in ``fit``.
    Batches are drawn with replacement by a seeded generator; the run stops at the first
    loss that is not finite.

    Args:
        model: a compiled Keras model.
        x, y: the training data, NumPy arrays.
        steps: the most steps to take.
        batch_size: rows per step.
        seed: seed of the batch draw.

    Returns:
        ``{"loss": [...], "gradient_norm": [...]}``, one float per step taken.
    """
    import math

    import tensorflow as tf

    variables = model.trainable_variables

    @tf.function
    def step(features, labels):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=features, y=labels, y_pred=model(features, training=True))
        gradients = tape.gradient(loss, variables)
        norm = tf.linalg.global_norm(gradients)
        model.optimizer.apply(gradients, variables)
        return loss, norm

    rng = np.random.default_rng(seed)
    x, y = np.asarray(x), np.asarray(y)
    log = {"loss": [], "gradient_norm": []}
    for _ in range(steps):
        rows = rng.integers(0, len(x), size=batch_size)
        loss, norm = step(tf.constant(x[rows]), tf.constant(y[rows]))
        log["loss"].append(float(loss))
        log["gradient_norm"].append(float(norm))
        if not math.isfinite(log["loss"][-1]):
            break
    return log
