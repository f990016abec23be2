"""What the checks read: the model's declared shapes, loss and optimizer, and the data.

Everything is computed once, on first use, so a check that needs nothing costly costs nothing.
Statistics over rows use at most ``SAMPLE_ROWS`` evenly spaced rows, which keeps the static
checkup well under a second on large tables.
"""

from functools import cached_property

import numpy as np

SAMPLE_ROWS = 20_000
CROSSENTROPIES = {"binary_crossentropy", "sparse_categorical_crossentropy", "categorical_crossentropy"}
PREPROCESSING_LAYERS = {"Normalization", "Rescaling"}


def as_array(name, values):
    """``values`` as a NumPy array, or a TypeError naming what is supported."""
    if isinstance(values, dict):
        raise TypeError(f"checkup inspects one array of {name}, received a dict of "
                        f"{len(values)} inputs; pass a single NumPy array.")
    if hasattr(values, "element_spec"):
        raise TypeError(f"checkup inspects NumPy arrays, received a tf.data.Dataset as {name}; "
                        "pass a batch of it as arrays, e.g. next(iter(dataset.unbatch().batch(1024))).")
    try:
        return np.asarray(values)
    except Exception as error:  # noqa: BLE001 - report what was received
        raise TypeError(f"checkup expected {name} as an array, received "
                        f"{type(values).__name__}: {error}") from None


class Context:
    """The model and data under inspection, with derived facts computed on demand."""

    def __init__(self, model, x, y, validation_data=None):
        self.model = model
        self.x = as_array("x", x)
        self.y = as_array("y", y)
        if self.x.ndim == 0 or self.y.ndim == 0:
            raise ValueError(f"checkup expects x and y with a batch axis, received x of shape "
                             f"{self.x.shape} and y of shape {self.y.shape}.")
        if len(self.x) != len(self.y):
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
    def preprocesses_inputs(self):
        """The model starts with a Normalization or Rescaling layer."""
        layers = getattr(self.model, "layers", [])[:3]
        return any(type(layer).__name__ in PREPROCESSING_LAYERS for layer in layers)

    @cached_property
    def image_input(self):
        rank = len(self.input_shape) if self.input_shape else self.x.ndim
        return rank >= 3

    # ---- the data --------------------------------------------------------------------
    @property
    def numeric_x(self):
        return self.x.dtype.kind in "biuf"

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
        if self.y.dtype.kind not in "biuf":
            return None
        if self.y.ndim == 1:
            return self.y
        if self.y.ndim == 2 and self.y.shape[1] == 1:
            return self.y[:, 0]
        return None

    @cached_property
    def y_is_integer(self):
        if self.y.dtype.kind in "biu":
            return True
        if self.y.dtype.kind != "f":
            return False
        sample = self.y_sample
        return bool(np.all(np.isfinite(sample)) and np.all(sample == np.round(sample)))
