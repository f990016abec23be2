"""The dtypes lesson: its grader, tested both ways, and the margin of its thresholds."""

import numpy as np
import pytest

from lesson_variants import cell, solution, solution_namespace
from tfclinic.grading.wrong_fixes import as_cell_edits

LESSON = "dtypes"
SEEDS = [0, 1, 2, 3, 4]
FULL_MARKS = 10
THRESHOLD = 0.05  # the training test's limit on the trained model's binary cross-entropy

# Plausible wrong fixes: each one moves or adds a cast and still gets a dtype wrong. They live in tfclinic.grading.wrong_fixes,
# which the instructor guide reads too. The corpora below are graded by tests/test_lessons.py
# (one test for the lessons that share them).
WRONG_FIXES = as_cell_edits(LESSON)

# Other correct repairs, with the casts in other places; all must earn full marks.
OTHER_CORRECT_FIXES = {
    "numpy-float32": ("dtypes-preprocess", '''
def preprocess(frames, labels):
    frames = np.asarray(frames, dtype=np.float32)
    total = (frames[:, 0] + frames[:, 1]).reshape(len(frames), -1)
    features = (total - total.mean(axis=0)) / total.std(axis=0)
    return features.astype(np.float32), np.asarray(labels).astype(np.int32)
'''),
    # uint8 / 255 is a true division: TensorFlow returns float32 in [0, 1]
    "rescale-first": ("dtypes-preprocess", '''
def preprocess(frames, labels):
    frames = tf.convert_to_tensor(frames) / 255
    total = frames[:, 0] + frames[:, 1]
    pixels = tf.reshape(total, (tf.shape(total)[0], -1))
    mean, variance = tf.nn.moments(pixels, axes=[0])
    return (pixels - mean) / tf.sqrt(variance), tf.cast(labels, tf.int32)
'''),
    "convert-image-dtype": ("dtypes-preprocess", '''
def preprocess(frames, labels):
    frames = tf.image.convert_image_dtype(tf.convert_to_tensor(frames), tf.float32)
    pixels = tf.reshape(tf.reduce_sum(frames, axis=1), (tf.shape(frames)[0], -1))
    mean = tf.reduce_mean(pixels, axis=0)
    std = tf.math.reduce_std(pixels, axis=0)
    return (pixels - mean) / std, tf.cast(tf.convert_to_tensor(labels), tf.int32)
'''),
    # int32 is wide enough for the sum; the float cast comes before the mean
    "int32-sum-then-float32": ("dtypes-preprocess", '''
def preprocess(frames, labels):
    frames = tf.cast(frames, tf.int32)
    total = frames[:, 0] + frames[:, 1]
    pixels = tf.cast(tf.reshape(total, (tf.shape(total)[0], -1)), tf.float32)
    mean = tf.reduce_mean(pixels, axis=0)
    std = tf.math.reduce_std(pixels, axis=0)
    return (pixels - mean) / std, tf.cast(labels, tf.int32)
'''),
    "float64-then-float32": ("dtypes-preprocess", '''
def preprocess(frames, labels):
    frames = tf.cast(frames, tf.float64)
    total = frames[:, 0] + frames[:, 1]
    pixels = tf.reshape(total, (tf.shape(total)[0], -1))
    features = (pixels - tf.reduce_mean(pixels, axis=0)) / tf.math.reduce_std(pixels, axis=0)
    return tf.cast(features, tf.float32), tf.cast(labels, tf.int32)
'''),
    # a Keras loss casts integer labels itself; integer sum / integer size is a true division
    "keras-loss-and-sum-over-size": ("dtypes-train-step", '''
def train_step(model, optimizer, features, labels):
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        logits = model(features, training=True)
        loss = loss_fn(labels[:, None], logits)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    correct = tf.cast(logits[:, 0] > 0, tf.int32) == tf.cast(labels, tf.int32)
    return loss, tf.reduce_sum(tf.cast(correct, tf.int32)) / tf.size(labels)
'''),
    # both sides in float64: the cast from float32 is differentiable
    "float64-loss-numpy-accuracy": ("dtypes-train-step", '''
def train_step(model, optimizer, features, labels):
    with tf.GradientTape() as tape:
        logits = tf.cast(model(features, training=True)[:, 0], tf.float64)
        targets = tf.cast(labels, tf.float64)
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    accuracy = np.mean((logits.numpy() > 0) == (np.asarray(labels) == 1))
    return float(loss), accuracy
'''),
}


def test_the_bugs_are_real_in_this_tensorflow():
    """The exercise's bugs only teach something if TensorFlow really behaves this way."""
    import tensorflow as tf

    assert int(tf.reduce_mean(tf.constant([1, 2]))) == 1                    # integer mean truncates
    assert int((tf.constant([200], tf.uint8) * 2)[0]) == 144                 # uint8 wraps around
    assert (tf.constant([3], tf.int32) / tf.constant([2], tf.int32)).dtype == tf.float64
    with pytest.raises(TypeError):
        tf.math.reduce_std(tf.constant([1, 2]))                               # the cast it forces
    variable = tf.Variable([1.5])
    with tf.GradientTape() as tape:
        as_integer = tf.cast(tf.cast(variable, tf.int32), tf.float32)
    assert tape.gradient(as_integer, variable) is None                        # no gradient via ints


@pytest.mark.proof
def test_training_threshold_has_margin_on_every_seed():
    """The solution's trained loss is far below the threshold on the visible and hidden data."""
    import keras

    from tfclinic.data import camera_frames
    from tfclinic.training import fit_with_train_step

    for seed in SEEDS:
        ns = solution_namespace(LESSON, seed)
        draws = {seed: (ns["frames"], ns["labels"]),
                 seed + 505: camera_frames(n_samples=200, size=8, seed=seed + 505)}
        for data_seed, (frames, labels) in draws.items():
            features, y = ns["preprocess"](frames, labels)
            keras.utils.set_random_seed(data_seed)
            model, _, _ = fit_with_train_step(ns["train_step"], features, y)
            logits = model(np.asarray(features))[:, 0]
            loss = float(keras.losses.binary_crossentropy(np.asarray(y, np.float32), logits,
                                                          from_logits=True))
            assert loss < THRESHOLD / 10, f"seed {seed}, data {data_seed}: loss {loss:.4f}"


def test_every_test_cell_says_what_earns_its_points():
    notebook = solution(LESSON)
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
                 if c.metadata.get("nbgrader", {}).get("grade")]
    assert grade_ids and all(g.startswith(f"{LESSON}-") for g in grade_ids)
    assert sum(cell(notebook, g).metadata["nbgrader"]["points"] for g in grade_ids) == FULL_MARKS
    for index, code in enumerate(notebook.cells):
        if code.metadata.get("nbgrader", {}).get("grade"):
            assert "Earns its points" in notebook.cells[index - 1].source, code.metadata["nbgrader"]
