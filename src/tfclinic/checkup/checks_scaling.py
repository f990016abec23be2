"""Scaling: features on comparable scales, pixels in [0, 1], modest targets (book/scaling.md)."""

import math

import numpy as np

from .findings import WARNING, check

SCALE_RATIO = 1e3
TARGET_STD = 100.0
# A column whose mean is this many standard deviations away from zero (and at least
# OFFSET_MIN): its variation is lost under the offset, e.g. 10000 + 0.1 * noise.
OFFSET_RATIO = 1e3
OFFSET_MIN = 10.0
# Layers that read integer ids, not measurements: their inputs are never scaled.
ID_LAYERS = {"Embedding", "CategoryEncoding", "StringLookup", "IntegerLookup", "Hashing",
             "TextVectorization"}


def _reads_ids(ctx):
    return any(name in ID_LAYERS for name in ctx.first_layers)


@check("SCL001", "scaling", "what-ranges-that-differ-by-orders-of-magnitude-do-to-gradient-steps",
       needs_y=False, confirm=True)
def check_feature_scales(ctx):
    """Per-column standard deviations within a factor 1000 of each other (constant columns aside)."""
    if (ctx.x.ndim != 2 or not ctx.numeric_x or ctx.preprocesses_inputs or ctx.x.shape[1] < 2
            or _reads_ids(ctx) or len(ctx.x) < 8):
        return
    std = np.nanstd(ctx.x_sample, axis=0)
    std = std[np.isfinite(std) & (std > 0)]
    if len(std) < 2:
        return
    ratio = std.max() / std.min()
    if ratio > SCALE_RATIO:
        yield (WARNING, f"feature scales: expected standard deviations within a factor "
               f"{SCALE_RATIO:g}, x ranges from {std.min():.3g} to {std.max():.3g} "
               f"(ratio {ratio:.3g})",
               "standardize: start the model with keras.layers.Normalization() adapted on x_train")


def _flattened_image(columns):
    """A row length that is a flattened square image, grey (k * k) or colour (3 * k * k)."""
    for channels in (1, 3):
        side = math.isqrt(columns // channels)
        if side >= 8 and side * side * channels == columns:
            return True
    return False


@check("SCL002", "scaling", "image-pixels-in-0-255", needs_y=False, confirm=True)
def check_unscaled_pixels(ctx):
    """Image pixels in [0, 1] (or a Rescaling layer first), not 0..255, flattened or not."""
    if not ctx.numeric_x or ctx.preprocesses_inputs or ctx.x.size == 0 or _reads_ids(ctx):
        return
    rank = ctx.x.ndim
    image = rank == 4 or (rank == 3 and min(ctx.x.shape[1:]) >= 8 and (
        (ctx.input_shape and len(ctx.input_shape) == 4)
        or any(name in ("Flatten", "Reshape", "Conv2D") for name in ctx.first_layers)))
    flattened = rank == 2 and _flattened_image(ctx.x.shape[1])
    if not (image or flattened):
        return
    sample = ctx.x_sample
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return
    low, high = finite.min(), finite.max()
    whole = bool(np.all(finite == np.round(finite)))
    if low >= 0 and 64 < high <= 255 and whole:
        shape = "flattened pixels" if flattened else "pixels"
        yield (WARNING, f"{shape}: expected values in [0, 1], x holds whole numbers from "
               f"{low:g} to {high:g}",
               "x = x.astype('float32') / 255, or start the model with keras.layers.Rescaling(1 / 255)")


@check("SCL003", "scaling", "target-scaling-for-regression", confirm=True)
def check_target_scale(ctx):
    """Regression targets with a standard deviation of order 1, not hundreds."""
    from tfclinic.training import _REGRESSION_LOSSES

    if ctx.loss not in _REGRESSION_LOSSES or not ctx.numeric_y or ctx.y_classes:
        return
    std = float(np.nanstd(ctx.y_sample))
    if std > TARGET_STD:
        yield (WARNING, f"targets: expected a standard deviation of order 1 for {ctx.loss}, "
               f"y has {std:.3g}",
               "train on (y - y.mean()) / y.std() and undo it on predictions")


@check("SCL004", "scaling", "what-ranges-that-differ-by-orders-of-magnitude-do-to-gradient-steps",
       needs_y=False, confirm=True)
def check_offset_features(ctx):
    """No feature is a large constant plus a tiny variation (10000 + 0.1 * noise)."""
    if (ctx.x.ndim != 2 or not ctx.numeric_x or ctx.preprocesses_inputs or _reads_ids(ctx)
            or len(ctx.x) < 8):
        return
    sample = ctx.x_sample
    with np.errstate(invalid="ignore"):
        mean, std = np.nanmean(sample, axis=0), np.nanstd(sample, axis=0)
    offset = np.flatnonzero((std > 0) & (np.abs(mean) > OFFSET_MIN)
                            & (np.abs(mean) > OFFSET_RATIO * std))
    if len(offset):
        j = offset[0]
        yield (WARNING, f"features: expected values centred near 0, column {j} varies by "
               f"{std[j]:.3g} around {mean[j]:.4g}" + (f" ({len(offset)} columns like it)"
                                                     if len(offset) > 1 else ""),
               "subtract the mean and divide by the standard deviation (keras.layers."
               "Normalization adapted on x_train)")
