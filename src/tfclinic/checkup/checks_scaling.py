"""Scaling: features on comparable scales, pixels in [0, 1], modest targets (book/scaling.md)."""

import numpy as np

from .findings import WARNING, check

SCALE_RATIO = 1e3
TARGET_STD = 100.0


@check("SCL001", "scaling", "what-ranges-that-differ-by-orders-of-magnitude-do-to-gradient-steps")
def check_feature_scales(ctx):
    """Per-column standard deviations within a factor 1000 of each other (constant columns aside)."""
    if ctx.x.ndim != 2 or not ctx.numeric_x or ctx.preprocesses_inputs or ctx.x.shape[1] < 2:
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


@check("SCL002", "scaling", "image-pixels-in-0-255")
def check_unscaled_pixels(ctx):
    """Image pixels in [0, 1] (or a Rescaling layer first), not 0..255."""
    if not ctx.image_input or not ctx.numeric_x or ctx.preprocesses_inputs or ctx.x.size == 0:
        return
    sample = ctx.x_sample
    low, high = np.nanmin(sample), np.nanmax(sample)
    if low >= 0 and 1 < high <= 255:
        yield (WARNING, f"pixels: expected values in [0, 1], x ranges from {low:g} to {high:g}",
               "x = x.astype('float32') / 255, or start the model with keras.layers.Rescaling(1 / 255)")


@check("SCL003", "scaling", "target-scaling-for-regression")
def check_target_scale(ctx):
    """Regression targets with a standard deviation of order 1, not hundreds."""
    from tfclinic.training import _REGRESSION_LOSSES

    if ctx.loss not in _REGRESSION_LOSSES or ctx.y.dtype.kind not in "biuf" or ctx.y.size == 0:
        return
    std = float(np.nanstd(ctx.y_sample))
    if std > TARGET_STD:
        yield (WARNING, f"targets: expected a standard deviation of order 1 for {ctx.loss}, "
               f"y has {std:.3g}",
               "train on (y - y.mean()) / y.std() and undo it on predictions")
