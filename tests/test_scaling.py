"""The scaling lesson: its grader, tested both ways, and the margin of its threshold."""

import numpy as np
import pytest

from lesson_variants import cell, grade_notebooks, solution, solution_namespace, with_cell_source
from tfclinic.grading.wrong_fixes import wrong_fixes

LESSON = "scaling"
SEEDS = [0, 1, 2, 3, 4]
FULL_MARKS = 10
PIPELINE = "scaling-make-pipeline"

# Plausible wrong fixes, each with the score it must get (the cells it passes show which
# test catches which mistake: learns 4, train-only 3, same-transform 3). They live in
# tfclinic.grading.wrong_fixes, which the instructor guide reads too.
WRONG_FIXES = {fix.name: (fix.score, fix.source) for fix in wrong_fixes(LESSON)}

# Other correct repairs, written the way students write them; all must earn full marks.
OTHER_CORRECT_FIXES = {
    "z-score-outside": '''
def make_pipeline(x_train):
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)

    def prepare(features):
        return (features - mean) / std

    return prepare, build_model(x_train.shape[1])
''',
    "min-max-outside": '''
def make_pipeline(x_train):
    low, high = x_train.min(axis=0), x_train.max(axis=0)
    return (lambda features: (features - low) / (high - low)), build_model(x_train.shape[1])
''',
    "normalization-with-statistics": '''
def make_pipeline(x_train):
    normalizer = keras.layers.Normalization(mean=x_train.mean(axis=0), variance=x_train.var(axis=0))
    return unchanged, build_model(x_train.shape[1], preprocessing=[normalizer])
''',
    "min-max-rescaling-layer": '''
def make_pipeline(x_train):
    low, high = x_train.min(axis=0), x_train.max(axis=0)
    rescale = keras.layers.Rescaling(scale=1.0 / (high - low), offset=-low / (high - low))
    return unchanged, build_model(x_train.shape[1], preprocessing=[rescale])
''',
    "median-and-iqr-in-float64": '''
def make_pipeline(x_train):
    data = np.asarray(x_train, dtype=np.float64)
    median = np.median(data, axis=0)
    q1, q3 = np.percentile(data, [25, 75], axis=0)
    return (lambda f: (np.asarray(f, np.float64) - median) / (q3 - q1)), build_model(data.shape[1])
''',
    # the grader cannot rebuild a class of the student's: these models stay in the student
    # process, where the test code's calls on them run (tfclinic.sandbox.remote)
    "registered-standardize-layer": '''
@keras.saving.register_keras_serializable(package="student")
class Standardize(keras.layers.Layer):
    def __init__(self, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.mean = np.asarray(mean, "float32").tolist()
        self.std = np.asarray(std, "float32").tolist()

    def call(self, inputs):
        return (inputs - np.asarray(self.mean, "float32")) / np.asarray(self.std, "float32")

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}


def make_pipeline(x_train):
    layer = Standardize(x_train.mean(axis=0), x_train.std(axis=0))
    return unchanged, build_model(x_train.shape[1], preprocessing=[layer])
''',
    "unregistered-min-max-layer-with-weights": '''
class MinMax(keras.layers.Layer):
    def build(self, input_shape):
        self.low = self.add_weight(shape=input_shape[1:], initializer="zeros", trainable=False)
        self.span = self.add_weight(shape=input_shape[1:], initializer="ones", trainable=False)

    def call(self, inputs):
        return (inputs - self.low) / self.span


def make_pipeline(x_train):
    layer = MinMax()
    layer.build(x_train.shape)
    layer.low.assign(x_train.min(axis=0))
    layer.span.assign(x_train.max(axis=0) - x_train.min(axis=0))
    return unchanged, build_model(x_train.shape[1], preprocessing=[layer])
''',
    "lambda-layer-z-score": '''
def make_pipeline(x_train):
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    scale = keras.layers.Lambda(lambda features: (features - mean) / std)
    return unchanged, build_model(x_train.shape[1], preprocessing=[scale])
''',
    "adapt-on-a-dataset": '''
import tensorflow as tf

def make_pipeline(x_train):
    normalizer = keras.layers.Normalization()
    normalizer.adapt(tf.data.Dataset.from_tensor_slices(x_train).batch(128))
    return unchanged, build_model(x_train.shape[1], preprocessing=[normalizer])
''',
}

# The fresh table of the hidden part of scaling-learns-test, to measure its margin here.
HIDDEN_TABLE = dict(n_samples=900, scales=(1e3, 0.02, 5.0, 3e4, 0.5),
                    offsets=(2e3, 0.01, 40.0, 1e5, -3.0))
HIDDEN_TABLE_SOURCE = ("scales=(1e3, 0.02, 5.0, 3e4, 0.5),\n"
                       "                                offsets=(2e3, 0.01, 40.0, 1e5, -3.0)")



@pytest.mark.slow
def test_plausible_wrong_fixes_earn_only_what_they_get_right(tmp_path):
    base = solution(LESSON)
    variants = {name: with_cell_source(base, PIPELINE, source)
                for name, (_, source) in WRONG_FIXES.items()}
    grades = grade_notebooks(LESSON, variants, tmp_path, seed=7)
    for name, row in grades.items():
        assert row.status == "graded", name
        assert row.score < FULL_MARKS, f"wrong fix {name!r} earned full marks"
        assert row.score == WRONG_FIXES[name][0], f"wrong fix {name!r}: {row.score} points"


@pytest.mark.slow
def test_other_correct_fixes_earn_full_marks(tmp_path):
    base = solution(LESSON)
    variants = {name: with_cell_source(base, PIPELINE, source)
                for name, source in OTHER_CORRECT_FIXES.items()}
    grades = grade_notebooks(LESSON, variants, tmp_path, seed=8)
    for name, row in grades.items():
        assert (row.status, row.score) == ("graded", FULL_MARKS), f"correct fix {name!r}: {row}"


@pytest.mark.slow  # trains 20 small models
@pytest.mark.proof
def test_threshold_has_margin_on_every_seed():
    """The scaled solution ends far below the threshold, the unscaled pipeline far above it,
    on the notebook's table and on the hidden test's fresh one."""
    from tfclinic.data import mixed_scale_regression

    for seed in SEEDS:
        ns = solution_namespace(LESSON, seed)
        threshold, train, loss = ns["THRESHOLD"], ns["train"], ns["relative_loss"]
        fresh_x, fresh_y = mixed_scale_regression(**HIDDEN_TABLE, seed=seed + 101)
        tables = {"notebook": (ns["x_train"], ns["y_train"], ns["x_val"], ns["y_val"]),
                  "hidden": (fresh_x[:600], fresh_y[:600], fresh_x[600:], fresh_y[600:])}
        for table, (x_train, y_train, x_val, y_val) in tables.items():
            losses = {}
            for name in ("solution", "unscaled"):
                ns["keras"].utils.set_random_seed(seed)
                if name == "solution":
                    prepare, model = ns["make_pipeline"](x_train)
                else:
                    prepare, model = ns["unchanged"], ns["build_model"](x_train.shape[1])
                train(prepare, model, x_train, y_train)
                losses[name] = loss(prepare, model, x_val, y_val)
            print(f"seed {seed}, {table} table: {losses}")
            assert losses["solution"] < threshold / 5, f"seed {seed}, {table}: {losses}"
            assert losses["unscaled"] > 10 * threshold, f"seed {seed}, {table}: {losses}"


def test_margin_test_uses_the_hidden_tests_table():
    assert HIDDEN_TABLE_SOURCE in cell(solution(LESSON), "scaling-learns-test").source


def test_mixed_scale_regression_draws_what_it_promises():
    from tfclinic.data import mixed_scale_regression

    x, y = mixed_scale_regression(n_samples=4000, scales=(0.01, 100.0), offsets=(1.0, -50.0),
                                  noise=0.0, seed=3)
    assert x.dtype == y.dtype == np.float32 and x.shape == (4000, 2) and y.shape == (4000,)
    np.testing.assert_allclose(x.std(axis=0), [0.01, 100.0], rtol=0.05)
    np.testing.assert_allclose(x.mean(axis=0), [1.0, -50.0], atol=5.0)
    z = (x - np.array([1.0, -50.0])) / np.array([0.01, 100.0])  # the standardized columns
    np.testing.assert_allclose(y, z[:, 0] - z[:, 1], atol=1e-3)


def test_bar_position_images_are_uint8_with_a_bar_at_the_label():
    from tfclinic.data import bar_position_images

    images, labels = bar_position_images(n_samples=200, size=12, n_classes=10, seed=5)
    assert images.dtype == np.uint8 and images.shape == (200, 12, 12) and labels.shape == (200,)
    assert set(labels) <= set(range(10))
    brightest_column = images.astype(float).mean(axis=1).argmax(axis=1)
    assert np.mean(brightest_column == labels + 1) > 0.95
    with pytest.raises(ValueError, match="n_classes"):
        bar_position_images(n_classes=11, size=12)



def test_every_test_cell_says_what_earns_its_points():
    notebook = solution(LESSON)
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
                 if c.metadata.get("nbgrader", {}).get("grade")]
    assert grade_ids and all(g.startswith(f"{LESSON}-") for g in grade_ids)
    assert sum(cell(notebook, g).metadata["nbgrader"]["points"] for g in grade_ids) == FULL_MARKS
    for index, code in enumerate(notebook.cells):
        if code.metadata.get("nbgrader", {}).get("grade"):
            prose = notebook.cells[index - 1]
            points = code.metadata["nbgrader"]["points"]
            assert prose.cell_type == "markdown" and f"({points} points)" in prose.source


def _first_rows_gap(namespace, seed):
    """The hidden check at the end of scaling-same-transform-test: how far apart two pipelines
    made from the same rows predict a probe, after one first saw rows in other units, in units
    of the check's tolerance (|a - b| / (1e-4 |b| + 1e-4))."""
    import keras

    from tfclinic.data import mixed_scale_regression

    x, _ = mixed_scale_regression(n_samples=600, scales=(3e3, 0.4, 60.0),
                                  offsets=(-2e4, 1.0, 500.0), seed=seed + 304)
    train, probe, other = x[:400], x[400:500], x[500:] * 50.0 + 1e4
    predict_raw = namespace["predict_raw"]
    keras.utils.set_random_seed(seed + 304)
    first = namespace["make_pipeline"](train)
    predict_raw(*first, other)
    keras.utils.set_random_seed(seed + 304)
    second = namespace["make_pipeline"](train[::-1].copy())
    a, b = predict_raw(*first, probe), predict_raw(*second, probe)
    return float(np.max(np.abs(a - b) / (1e-4 * np.abs(b) + 1e-4)))


@pytest.mark.slow
@pytest.mark.proof
def test_the_first_rows_check_has_margin_on_every_seed():
    """The solution stays far inside the tolerance; a prepare that learns from its first rows
    misses it by orders of magnitude."""
    stateful = compile(WRONG_FIXES["statistics-of-the-first-batch"][1], "<wrong fix>", "exec")
    for seed in SEEDS:
        namespace = solution_namespace(LESSON, seed)
        right = _first_rows_gap(namespace, seed)
        exec(stateful, namespace)  # the wrong fix's make_pipeline replaces the solution's
        wrong = _first_rows_gap(namespace, seed)
        assert right < 0.1, f"seed {seed}: the solution's pipelines differ by {right:.3f} tolerances"
        assert wrong > 10, f"seed {seed}: the first-rows fix's pipelines differ by only {wrong:.3f}"
