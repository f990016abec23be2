"""The shapes lesson: its grader, tested both ways, and the margin of its thresholds."""

import numpy as np
import pytest

from lesson_variants import cell, solution, solution_namespace
from tfclinic.grading.wrong_fixes import as_cell_edits

LESSON = "shapes"
SEEDS = [0, 1, 2, 3, 4]
FULL_MARKS = 10

# Plausible wrong fixes: each one looks like a repair and still gets a shape wrong. They live in tfclinic.grading.wrong_fixes,
# which the instructor guide reads too. The corpora below are graded by tests/test_lessons.py
# (one test for the lessons that share them).
WRONG_FIXES = as_cell_edits(LESSON)

# Other correct repairs, written the way students write them; all must earn full marks.
OTHER_CORRECT_FIXES = {
    "column-stack": ("shapes-make-features", '''
def make_features(table):
    return np.column_stack(list(table.values())).astype(np.float32)
'''),
    # correct, but Keras 3 warns about input_shape= on stderr: must not cost points
    "input-shape-argument-warns": ("shapes-build-model", '''
def build_model(n_features):
    return keras.Sequential([keras.layers.Dense(1, input_shape=(n_features,))])
'''),
    "expand-dims-and-call": ("shapes-predict-one", '''
def predict_one(model, sample):
    batch = np.expand_dims(np.asarray(sample, dtype="float32"), 0)
    return float(model(batch)[0, 0])
'''),
    "flatten-both": ("shapes-loss", '''
def mean_squared_error(y_true, y_pred):
    y_true = tf.reshape(tf.cast(y_true, y_pred.dtype), [-1])
    return tf.reduce_mean(tf.square(y_true - tf.reshape(y_pred, [-1])))
'''),
}


def test_warning_fix_really_writes_to_stderr():
    """The 'warns' variant above only proves something if Keras does warn."""
    import warnings

    import keras

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keras.Sequential([keras.layers.Dense(1, input_shape=(3,))])
    assert any("input_shape" in str(w.message) for w in caught)


@pytest.mark.proof
def test_training_threshold_has_margin_on_every_seed():
    """The solution ends far below the 5%-of-variance threshold, the broken loss far above."""
    import tensorflow as tf

    from tfclinic.training import train_custom_loop

    for seed in SEEDS:
        ns = solution_namespace(LESSON, seed)
        x = ns["make_features"](ns["table"])
        fixed = train_custom_loop(ns["build_model"](x.shape[1]), x, ns["y"], ns["mean_squared_error"])
        broken = train_custom_loop(ns["build_model"](x.shape[1]), x, ns["y"],
                                   lambda t, p: tf.reduce_mean(tf.square(t - p)))
        variance = np.var(ns["y"])
        assert fixed[-1] < 0.01 * variance, f"seed {seed}: fixed {fixed[-1] / variance:.4f} of variance"
        assert broken[-1] > 0.5 * variance, f"seed {seed}: broken {broken[-1] / variance:.4f} of variance"


def test_every_test_cell_says_what_earns_its_points():
    notebook = solution(LESSON)
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
                 if c.metadata.get("nbgrader", {}).get("grade")]
    assert grade_ids and all(g.startswith(f"{LESSON}-") for g in grade_ids)
    assert sum(cell(notebook, g).metadata["nbgrader"]["points"] for g in grade_ids) == FULL_MARKS

