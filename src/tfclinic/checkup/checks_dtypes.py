"""Data types: float features, and labels in the form the loss reads (book/dtypes.md)."""

import numpy as np

from .findings import ERROR, WARNING, check


@check("DTY001", "dtypes", "integer-meets-float-the-error-and-which-side-to-cast")
def check_object_features(ctx):
    """Features are numbers, not strings or Python objects."""
    if not ctx.numeric_x:
        yield (ERROR, f"features: expected a numeric (float32) array, x has dtype {ctx.x.dtype}",
               "encode text columns as numbers, then x = x.astype('float32')")


@check("DTY002", "dtypes", "integer-statistics-truncate")
def check_integer_features(ctx):
    """Integer features work, but statistics and scaling computed on them truncate."""
    if ctx.x.dtype.kind in "bi" or (ctx.x.dtype.kind == "u" and ctx.x.dtype != np.uint8):
        yield (WARNING, f"features: expected float32, x has dtype {ctx.x.dtype}; integer "
               "arithmetic truncates means and scaled values",
               "cast once, before any preprocessing: x = x.astype('float32')")


@check("DTY003", "dtypes", "uint8-images-wrap-around-and-unscaled-pixels")
def check_uint8_pixels(ctx):
    """uint8 pixels wrap around in NumPy arithmetic (200 + 100 == 44)."""
    if ctx.x.dtype == np.uint8 and not ctx.preprocesses_inputs:
        yield (WARNING, "pixels: expected float32 values in [0, 1], x is uint8 (0..255), and "
               "uint8 sums wrap around past 255",
               "x = x.astype('float32') / 255, or start the model with keras.layers.Rescaling(1 / 255)")


def _one_hot_like(y):
    return y.ndim == 2 and y.shape[1] > 1


@check("DTY004", "dtypes", "integer-labels-or-one-hot-labels")
def check_integer_labels_categorical(ctx):
    """categorical_crossentropy reads one-hot rows, not class ids."""
    if ctx.loss != "categorical_crossentropy" or _one_hot_like(ctx.y):
        return
    if ctx.y_is_integer:
        yield (ERROR, f"labels: categorical_crossentropy expects one-hot rows of shape (N, "
               f"{ctx.units}), y holds class ids of shape {ctx.y.shape}",
               "use loss='sparse_categorical_crossentropy', or one-hot y with "
               "keras.utils.to_categorical(y, num_classes)")


@check("DTY005", "dtypes", "integer-labels-or-one-hot-labels")
def check_one_hot_labels_sparse(ctx):
    """sparse_categorical_crossentropy reads one class id per sample, not one-hot rows."""
    if ctx.loss != "sparse_categorical_crossentropy" or not _one_hot_like(ctx.y):
        return
    yield (ERROR, f"labels: sparse_categorical_crossentropy expects class ids of shape (N,), "
           f"y has one-hot rows of shape {ctx.y.shape}",
           "use loss='categorical_crossentropy', or pass y.argmax(axis=1)")
