"""What the checks read: the model's declared shapes, loss and optimizer, and the data.

Everything is computed once, on first use, so a check that needs nothing costly costs nothing.
Statistics over rows use at most ``SAMPLE_ROWS`` evenly spaced rows, which keeps the static
checkup well under a second on large tables.

The data is always NumPy arrays here. What the program trains on may be a generator, a
``tf.data.Dataset`` or a ``PyDataset``: ``data.peek`` reads one batch of those without
consuming them, and ``fit`` then says the arrays are that batch (``fit["sampled"]``).
"""

from functools import cached_property

import numpy as np

SAMPLE_ROWS = 20_000
CROSSENTROPIES = {"binary_crossentropy", "sparse_categorical_crossentropy", "categorical_crossentropy"}
# Layers that rescale the inputs themselves, so raw pixel values or mixed scales are fine.
PREPROCESSING_LAYERS = {"Normalization", "Rescaling", "BatchNormalization", "LayerNormalization",
                        "UnitNormalization", "GroupNormalization"}
# Layers that may rescale the inputs in a way no check can read (a Lambda dividing by 255).
OPAQUE_LAYERS = {"Lambda", "TFSMLayer", "TorchModuleWrapper"}


def as_array(name, values):
    """``values`` as a NumPy array, or a TypeError naming what is supported.

    Only values that are already in memory are converted: arrays, tensors, pandas objects and
    Python lists. A generator, an iterator, a ``PyDataset`` or a ``tf.data.Dataset`` is refused
    (``np.asarray`` would read all of it, or loop forever).
    """
    if isinstance(values, np.ndarray):
        return values
    if isinstance(values, dict):
        raise TypeError(f"checkup inspects one array of {name}, received a dict of "
                        f"{len(values)} inputs; pass a single NumPy array.")
    if hasattr(values, "element_spec"):
        raise TypeError(f"checkup inspects NumPy arrays, received a tf.data.Dataset as {name}; "
                        "pass a batch of it as arrays, e.g. next(iter(dataset.unbatch().batch(1024))).")
    if hasattr(values, "to_numpy"):  # pandas
        return np.asarray(values.to_numpy())
    if hasattr(values, "numpy") and hasattr(values, "shape"):  # a tensor
        return np.asarray(values.numpy())
    if isinstance(values, (list, tuple)) or (hasattr(values, "__array__") and hasattr(values, "shape")):
        try:
            return np.asarray(values)
        except Exception as error:  # noqa: BLE001 - report what was received
            raise TypeError(f"checkup expected {name} as an array, received "
                            f"{type(values).__name__}: {error}") from None
    raise TypeError(f"checkup inspects arrays, received {type(values).__name__} as {name}; "
                    "it reads a generator or dataset only through `tfclinic checkup script.py`, "
                    "one batch at a time.")


def _built(model, x):
    """``model`` if it is built; else a built, compiled clone of it for the checks to read.

    A Sequential model declared without ``keras.Input`` is built by its first ``fit``, from
    the data; the checks need its shapes and output layer before that. The user's model is
    never built or changed here.
    """
    try:
        if getattr(model, "built", True) and model.inputs:
            return model
    except (AttributeError, ValueError):
        pass
    if x.dtype.kind not in "biuf" or x.ndim < 2:
        return model
    try:
        import keras

        clone = keras.models.clone_model(model)
        clone.build((None, *x.shape[1:]))
        optimizer = getattr(model, "optimizer", None)
        if getattr(model, "loss", None) is not None:
            clone.compile(optimizer=type(optimizer).from_config(optimizer.get_config())
                          if optimizer is not None else "sgd", loss=model.loss)
        return clone
    except Exception:  # noqa: BLE001 - the checks read what they can from the model as it is
        return model


class Context:
    """The model and data under inspection, with derived facts computed on demand.

    Args:
        model: the Keras model.
        x, y: the training data as arrays (y may be None: the checks on labels stay silent).
        validation_data: ``(x_val, y_val)`` or None.
        fit: facts about the training call (``data.fit_facts``): ``source`` ("arrays",
            "list", "tf.data", "PyDataset", "generator", "train_on_batch"), ``sampled`` (the
            arrays are one batch, not all the data), ``batch_size``, ``epochs``, ``steps``
            (optimizer steps the call will take, or None) and ``validation_split``.
    """

    def __init__(self, model, x, y, validation_data=None, fit=None):
        self.source_model = model
        self.model = model
        self.fit = dict(fit or {})
        self.fit.setdefault("source", "arrays")
        self.fit.setdefault("sampled", False)
        self.raw_x, self.raw_y = x, y
        self.x = as_array("x", x)
        self.y = None if y is None else as_array("y", y)
        if self.x.ndim == 0 or (self.y is not None and self.y.ndim == 0):
            raise ValueError(f"checkup expects x and y with a batch axis, received x of shape "
                             f"{self.x.shape} and y of shape {getattr(self.y, 'shape', None)}.")
        if self.y is not None and len(self.x) != len(self.y):
            raise ValueError(f"x and y must have one label per sample: expected len(y) == "
                             f"len(x) == {len(self.x)}, received len(y) == {len(self.y)}.")
        self.validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) < 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val), received "
                                 f"{type(validation_data).__name__}.")
            x_val = as_array("x_val", validation_data[0])
            y_val = as_array("y_val", validation_data[1])
            if len(x_val) != len(y_val):
                raise ValueError(f"validation x and y must have the same length: received "
                                 f"len(x_val) == {len(x_val)}, len(y_val) == {len(y_val)}.")
            self.validation = (x_val, y_val)
        self.model = _built(model, self.x)

    @property
    def sampled(self):
        return bool(self.fit.get("sampled"))

    # ---- the model -------------------------------------------------------------------
    @cached_property
    def input_shape(self):
        """The declared input shape, ``(None, ...)``, or None for an unbuilt model."""
        try:
            inputs = self.model.inputs
        except (AttributeError, ValueError):
            return None
        if not inputs or len(inputs) != 1:
            return None
        return tuple(None if d is None else int(d) for d in inputs[0].shape)

    @cached_property
    def output_shape(self):
        try:
            shape = self.model.output_shape
        except (AttributeError, ValueError, RuntimeError):
            return None
        if not isinstance(shape, tuple) or (shape and isinstance(shape[0], (tuple, list))):
            return None  # several outputs
        return shape

    @cached_property
    def head(self):
        """``output_and_loss`` of a compiled single-output model, else None."""
        if getattr(self.model, "loss", None) is None or self.output_shape is None:
            return None
        from tfclinic.training import output_and_loss

        try:
            return output_and_loss(self.model)
        except Exception:  # noqa: BLE001 - an exotic model: the loss checks stay silent
            return None

    @property
    def loss(self):
        return self.head["loss"] if self.head else None

    @property
    def units(self):
        return self.output_shape[-1] if self.output_shape else None

    @cached_property
    def learning_rate(self):
        optimizer = getattr(self.model, "optimizer", None)
        try:
            return float(optimizer.learning_rate)
        except (AttributeError, TypeError, ValueError):
            return None  # not compiled, or a schedule

    @cached_property
    def optimizer_name(self):
        optimizer = getattr(self.model, "optimizer", None)
        return type(optimizer).__name__ if optimizer is not None else None

    @cached_property
    def first_layers(self):
        """The class names of the first layers (InputLayer aside)."""
        layers = [layer for layer in getattr(self.model, "layers", [])
                  if type(layer).__name__ != "InputLayer"]
        return [type(layer).__name__ for layer in layers[:3]]

    @cached_property
    def preprocesses_inputs(self):
        """The model starts with a layer that rescales its inputs (or may: a Lambda)."""
        return any(name in PREPROCESSING_LAYERS or name in OPAQUE_LAYERS
                   for name in self.first_layers)

    @cached_property
    def image_input(self):
        rank = len(self.input_shape) if self.input_shape else self.x.ndim
        return rank >= 3

    @cached_property
    def metric_names(self):
        """The metrics given to ``compile``, as lower-case strings."""
        names = []
        config = getattr(self.source_model, "_compile_config", None)
        metrics = (getattr(config, "config", None) or {}).get("metrics") if config else None
        for metric in metrics or []:
            for item in (metric if isinstance(metric, (list, tuple)) else [metric]):
                names.append(str(item if isinstance(item, str) else
                                 getattr(item, "name", type(item).__name__)).lower())
        return names

    # ---- the data --------------------------------------------------------------------
    @property
    def numeric_x(self):
        return self.x.dtype.kind in "biuf"

    @property
    def numeric_y(self):
        return self.y is not None and self.y.dtype.kind in "biuf" and self.y.size > 0

    @cached_property
    def x_sample(self):
        """At most SAMPLE_ROWS evenly spaced rows of x, as float64."""
        step = max(1, len(self.x) // SAMPLE_ROWS)
        return self.x[::step].astype("float64")

    @cached_property
    def y_sample(self):
        step = max(1, len(self.y) // SAMPLE_ROWS)
        return self.y[::step].astype("float64")

    @cached_property
    def y_vector(self):
        """y as one value per sample, or None for multi-column labels or non-numeric y."""
        if not self.numeric_y:
            return None
        if self.y.ndim == 1:
            return self.y
        if self.y.ndim == 2 and self.y.shape[1] == 1:
            return self.y[:, 0]
        return None

    @cached_property
    def y_is_integer(self):
        if self.y is None:
            return False
        if self.y.dtype.kind in "biu":
            return True
        if self.y.dtype.kind != "f":
            return False
        sample = self.y_sample
        return bool(np.all(np.isfinite(sample)) and np.all(sample == np.round(sample)))

    @cached_property
    def y_one_hot(self):
        """y holds rows of 0/1 with one 1 each (K >= 2 columns)."""
        if not self.numeric_y or self.y.ndim != 2 or self.y.shape[1] < 2:
            return False
        sample = self.y_sample
        return bool(np.all((sample == 0) | (sample == 1)) and np.all(sample.sum(axis=1) == 1))

    @cached_property
    def y_classes(self):
        """The number of classes y looks like (ids 0..K-1 or one-hot), or None for real values."""
        if self.y_one_hot:
            return self.y.shape[1]
        y = self.y_vector
        if y is None or not self.y_is_integer:
            return None
        values = np.unique(self.y_sample)
        if len(values) < 2 or values.min() < 0 or len(values) > 100:
            return None
        return int(values.max()) + 1 if len(values) >= 0.5 * (values.max() + 1) else None
