"""Small synthetic data sets: fast to make, seeded, and with a known right answer.

Every generator takes a ``seed`` and returns float32 NumPy arrays, so a lesson can show a
failure on one draw and a hidden test can check the fix on another.
"""

import numpy as np


def linear_regression(n_samples=512, n_features=10, noise=0.1, seed=0):
    """Draw ``y = x @ w + noise`` with standard-normal features.

    Args:
        n_samples: rows to draw.
        n_features: columns of ``x``.
        noise: standard deviation of the Gaussian noise added to ``y``.
        seed: seed of the generator.

    Returns:
        ``(x, y, w)``: ``x`` of shape (n_samples, n_features), ``y`` of shape (n_samples,)
        and the true weights ``w`` of shape (n_features,), all float32.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_samples, n_features)).astype("float32")
    w = rng.normal(size=n_features).astype("float32")
    y = (x @ w + noise * rng.normal(size=n_samples)).astype("float32")
    return x, y, w


def sensor_table(n_samples=512, n_sensors=10, noise=0.1, seed=0):
    """A table of named sensor columns and a target that depends linearly on them.

    This is the raw form data often arrives in: one 1-D array per column, as from a CSV
    reader or a dict of pandas columns, which the learner must turn into a feature matrix.

    Returns:
        ``(table, y)``: ``table`` maps ``"sensor_00"``... to arrays of shape (n_samples,),
        in column order; ``y`` has shape (n_samples,).
    """
    x, y, _ = linear_regression(n_samples, n_sensors, noise, seed)
    table = {f"sensor_{j:02d}": x[:, j].copy() for j in range(n_sensors)}
    return table, y


def digit_like_images(n_samples=256, size=12, seed=0):
    """Grey-scale images (no channel axis) of a bright horizontal or vertical bar.

    Returns:
        ``(images, labels)``: images of shape (n_samples, size, size) with values in [0, 1],
        and integer labels of shape (n_samples,): 0 for a horizontal bar, 1 for a vertical one.
    """
    rng = np.random.default_rng(seed)
    images = 0.1 * rng.random((n_samples, size, size)).astype("float32")
    labels = rng.integers(0, 2, size=n_samples)
    positions = rng.integers(1, size - 1, size=n_samples)
    for image, label, position in zip(images, labels, positions):
        if label == 0:
            image[position, :] = 1.0
        else:
            image[:, position] = 1.0
    return images, labels.astype("int64")
