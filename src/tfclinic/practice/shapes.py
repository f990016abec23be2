"""Practice checks for the shapes notebook (the notebook uses 256 rows of 8 sensors)."""

import numpy as np

from . import draw_excluding

FUNCTIONS = ("make_features", "build_model", "predict_one", "mean_squared_error")


def check_make_features_on_other_sizes(ns, rng):
    rows, columns = draw_excluding(rng, 5, 90, [256]), draw_excluding(rng, 2, 15, [8])
    table = {f"sensor_{j:02d}": rng.normal(size=rows) for j in range(columns)}
    x = np.asarray(ns["make_features"](table))
    if x.shape != (rows, columns):
        return f"make_features on {rows} rows of {columns} columns returned shape {x.shape}, expected {(rows, columns)}"
    for j, values in enumerate(table.values()):
        if not np.allclose(x[:, j], values, atol=1e-5):
            return f"make_features: column {j} of the result does not hold column {j} of the table"
    return None


def check_build_model_for_other_feature_counts(ns, rng):
    for n in (draw_excluding(rng, 2, 7, []), draw_excluding(rng, 9, 30, [10])):
        model = ns["build_model"](n)
        if tuple(model.input_shape) != (None, n):
            return f"build_model({n}) expects inputs {tuple(model.input_shape)}, expected (None, {n})"
        out = np.asarray(model(np.zeros((3, n), "float32")))
        if out.shape != (3, 1):
            return f"build_model({n}) on a batch of 3 returned shape {out.shape}, expected (3, 1)"
    return None


def check_predict_one_on_another_sample_size(ns, rng):
    import keras

    n = draw_excluding(rng, 2, 20, [8])
    model = keras.Sequential([keras.Input(shape=(n,)), keras.layers.Dense(1)])
    sample = rng.normal(size=n).astype("float32")
    value = ns["predict_one"](model, sample)
    if not isinstance(value, float):
        return f"predict_one returned a {type(value).__name__}, expected a Python float"
    expected = float(np.asarray(model(sample[None]))[0, 0])
    if not np.isclose(value, expected, rtol=1e-4, atol=1e-5):
        return f"predict_one on a sample of {n} features returned {value:.5f}, the model says {expected:.5f}"
    return None


def check_loss_on_another_batch(ns, rng):
    import tensorflow as tf

    batch = draw_excluding(rng, 2, 64, [3, 32])
    labels = rng.normal(size=batch).astype("float32")
    predictions = rng.normal(size=(batch, 1)).astype("float32")
    expected = float(np.mean((labels - predictions[:, 0]) ** 2))
    for name, given in (("(batch,)", labels), ("(batch, 1)", labels[:, None])):
        value = float(ns["mean_squared_error"](tf.constant(given), tf.constant(predictions)))
        if not np.isclose(value, expected, rtol=1e-4):
            return (f"mean_squared_error with {batch} labels of shape {name} returned {value:.4f}, "
                    f"expected {expected:.4f}")
    return None


CHECKS = (check_make_features_on_other_sizes, check_build_model_for_other_feature_counts,
          check_predict_one_on_another_sample_size, check_loss_on_another_batch)
