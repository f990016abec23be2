"""Data types: float features, and labels in the form the loss reads (book/dtypes.md)."""

import numpy as np

from .findings import ERROR, INFO, check


@check("DTY001", "dtypes", "integer-meets-float-the-error-and-which-side-to-cast", needs_y=False)
def check_object_features(ctx):
    """Features are numbers, not strings or Python objects."""
    if not ctx.numeric_x:
        yield (ERROR, f"features: expected a numeric (float32) array, x has dtype {ctx.x.dtype}",
               "encode text columns as numbers, then x = x.astype('float32')")


@check("DTY002", "dtypes", "integer-statistics-truncate", needs_y=False)
def check_integer_features(ctx):
    """Integer features train (Keras casts them), but statistics computed on them truncate."""
    if ctx.x.dtype.kind in "bi" or (ctx.x.dtype.kind == "u" and ctx.x.dtype != np.uint8):
        yield (INFO, f"features: x has dtype {ctx.x.dtype}; Keras casts it to float32, but "
               "integer arithmetic in your own preprocessing truncates means and scaled values",
               "cast once, before any preprocessing: x = x.astype('float32')")


@check("DTY003", "dtypes", "uint8-images-wrap-around-and-unscaled-pixels", needs_y=False)
def check_uint8_pixels(ctx):
    """uint8 pixels wrap around in NumPy arithmetic (200 + 100 == 44)."""
    if ctx.x.dtype == np.uint8 and not ctx.preprocesses_inputs:
        yield (INFO, "pixels: x is uint8 (0..255); Keras casts it, but uint8 sums in your own "
               "preprocessing wrap around past 255",
               "x = x.astype('float32') / 255, or start the model with keras.layers.Rescaling(1 / 255)")


def _one_hot_like(y):
    return y.ndim == 2 and y.shape[1] > 1


@check("DTY004", "dtypes", "integer-labels-or-one-hot-labels")
def check_integer_labels_categorical(ctx):
    """categorical_crossentropy reads one-hot rows, not class ids."""
    if ctx.loss != "categorical_crossentropy" or not ctx.numeric_y or _one_hot_like(ctx.y):
        return
    if ctx.y_is_integer:
        yield (ERROR, f"labels: categorical_crossentropy expects one-hot rows of shape (N, "
               f"{ctx.units}), y holds class ids of shape {ctx.y.shape}",
               "use loss='sparse_categorical_crossentropy', or one-hot y with "
               "keras.utils.to_categorical(y, num_classes)")


@check("DTY005", "dtypes", "integer-labels-or-one-hot-labels")
def check_one_hot_labels_sparse(ctx):
    """sparse_categorical_crossentropy reads one class id per sample, not one-hot rows."""
    if (ctx.loss != "sparse_categorical_crossentropy" or not ctx.numeric_y
            or not _one_hot_like(ctx.y) or (ctx.output_shape and len(ctx.output_shape) > 2)):
        return
    yield (ERROR, f"labels: sparse_categorical_crossentropy expects class ids of shape (N,), "
           f"y has one-hot rows of shape {ctx.y.shape}",
           "use loss='categorical_crossentropy', or pass y.argmax(axis=1)")


@check("DTY006", "dtypes", "integer-meets-float-the-error-and-which-side-to-cast", needs_y=False)
def check_python_lists(ctx):
    """Keras 3 reads arrays, not Python lists: a list is taken for several inputs and fails."""
    if ctx.fit.get("source") != "list":
        return
    inputs = getattr(ctx.model, "inputs", None) or []
    for name, raw in (("x", ctx.raw_x), ("y", ctx.raw_y)):
        if isinstance(raw, list) and not (name == "x" and len(inputs) > 1):
            yield (ERROR, f"{name}: Keras 3 fit expects a NumPy array, {name} is a Python list "
                   f"of {len(raw)} items (Keras fails with 'Unrecognized data type')",
                   f"{name} = np.asarray({name}, dtype='float32')")


@check("DTY007", "dtypes", "integer-labels-or-one-hot-labels")
def check_string_labels(ctx):
    """Labels are numbers: class names must be mapped to ids first."""
    if ctx.y.dtype.kind in "USO":
        sample = ", ".join(map(repr, np.unique(ctx.y.ravel()[:1000].astype(str))[:3]))
        yield (ERROR, f"labels: expected numbers, y has dtype {ctx.y.dtype} ({sample}, ...)",
               "map class names to ids: classes, y = np.unique(y, return_inverse=True)")


@check("DTY008", "losses", "a-learning-rate-far-too-high-or-far-too-low", needs_y=False)
def check_finite_values(ctx):
    """x and y hold no NaN or inf: one NaN makes the loss and every weight NaN."""
    for name, values in (("x", ctx.x), ("y", ctx.y)):
        if values is None or values.dtype.kind != "f" or values.size == 0:
            continue
        sample = ctx.x_sample if name == "x" else ctx.y_sample
        bad = int(np.count_nonzero(~np.isfinite(sample)))
        if bad:
            yield (ERROR, f"{name}: expected finite numbers, {bad} of {sample.size} values "
                   f"checked are NaN or inf", f"find them with np.argwhere(~np.isfinite({name})) "
                   "and drop or impute those rows (np.nan_to_num, or df.dropna())")
