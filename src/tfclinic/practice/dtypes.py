"""Practice checks for the dtypes notebook (the notebook uses 256 frames of 8 x 8 pixels)."""

import numpy as np

from . import draw_excluding

FUNCTIONS = ("preprocess", "train_step")


def check_preprocess_on_other_frames(ns, rng):
    n, size = draw_excluding(rng, 6, 80, [256]), draw_excluding(rng, 3, 12, [8])
    frames = rng.integers(0, 256, size=(n, 2, size, size)).astype("uint8")
    frames[0, :, 0, 0] = 250  # the two exposures add up past 255 here
    labels = rng.integers(0, 3, size=n).astype(rng.choice(["int64", "float32", "uint8"]))
    features, ids = (np.asarray(v) for v in ns["preprocess"](frames, labels))
    if features.dtype != np.float32 or features.shape != (n, size * size):
        return (f"preprocess on {n} frames of {size}x{size} returned {features.dtype} features of "
                f"shape {features.shape}, expected float32 of shape {(n, size * size)}")
    if ids.dtype != np.int32 or not np.array_equal(ids, labels.astype("int64")):
        return f"preprocess turned {labels.dtype} labels into {ids.dtype} {ids[:4]}, expected int32 {labels[:4].astype('int64')}"
    total = frames[:, 0].astype("float64") + frames[:, 1]
    pixels = total.reshape(n, -1)
    std = pixels.std(axis=0)
    expected = (pixels - pixels.mean(axis=0)) / np.where(std == 0, 1, std)
    ok = std > 0
    if not np.allclose(features[:, ok], expected[:, ok], atol=1e-3):
        worst = float(np.abs(features[:, ok] - expected[:, ok]).max())
        return f"preprocess: standardized pixels are off by up to {worst:.3f} (wrap-around or truncation?)"
    return None


def check_train_step_on_another_batch(ns, rng):
    import keras
    import tensorflow as tf

    n = draw_excluding(rng, 3, 40, [4])
    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    model.layers[-1].set_weights([np.ones((1, 1), "float32"), np.zeros(1, "float32")])
    features = rng.normal(size=(n, 1)).astype("float32")
    labels = rng.integers(0, 2, size=n).astype("int32")
    logits = features[:, 0].astype("float64")
    expected_loss = float(np.mean(np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))))
    expected_accuracy = float(np.mean((logits > 0) == labels))
    loss, accuracy = ns["train_step"](model, keras.optimizers.SGD(0.0), tf.constant(features), tf.constant(labels))
    if not np.isclose(float(loss), expected_loss, rtol=1e-4):
        return f"train_step on {n} int32 labels: loss {float(loss):.4f}, expected {expected_loss:.4f}"
    if not np.isclose(float(accuracy), expected_accuracy, atol=1e-6):
        return f"train_step on {n} int32 labels: accuracy {float(accuracy):.4f}, expected {expected_accuracy:.4f}"
    return None


CHECKS = (check_preprocess_on_other_frames, check_train_step_on_another_batch)
