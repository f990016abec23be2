"""The leakage lesson: ``tfclinic.leakage.shared_rows``, and the lesson's grader tested both ways."""

import contextlib
import io
import os
import time

import numpy as np
import pytest

from lesson_variants import cell, exercise, solution, with_cell_source
from tfclinic.leakage import shared_rows
from tfclinic.grading.wrong_fixes import as_cell_edits

LESSON = "leakage"
SEEDS = [0, 1, 2, 3, 4]
FULL_MARKS = 10
SCORE_TOLERANCE = 0.10  # |reported - in use| allowed by leakage-honest-score-test


# --- shared_rows ---------------------------------------------------------------------------

def test_finds_rows_of_b_that_occur_in_a_by_content():
    a = np.array([[1, 2], [3, 4], [5, 6]])
    b = np.array([[3, 4], [7, 8], [1, 2], [3, 4], [2, 1]])
    found = shared_rows(a, b)
    np.testing.assert_array_equal(found, [0, 2, 3])  # every copy, ascending; [2, 1] is not [1, 2]
    assert found.dtype == np.intp


def test_agrees_with_a_brute_force_comparison():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, size=(60, 3)).astype("float32")
    b = rng.integers(0, 3, size=(80, 3)).astype("float32")
    expected = [i for i, row in enumerate(b) if (a == row).all(axis=1).any()]
    np.testing.assert_array_equal(shared_rows(a, b), expected)


def test_rows_are_compared_by_value_across_dtypes():
    a = np.array([[1.5, 2.0]], dtype="float32")
    np.testing.assert_array_equal(shared_rows(a, np.array([[1.5, 2.0]])), [0])  # float64
    np.testing.assert_array_equal(shared_rows(np.array([[1, 2]]), np.array([[1.0, 2.0]])), [0])
    np.testing.assert_array_equal(shared_rows(np.array([[True, False]]), np.array([[1, 0]])), [0])
    np.testing.assert_array_equal(shared_rows([[1, 2]], [[1, 2], [2, 1]]), [0])  # lists work too


def test_negative_zero_equals_zero():
    a = np.array([[0.0, 1.0]])
    b = np.array([[-0.0, 1.0], [0.0, -1.0]])
    np.testing.assert_array_equal(shared_rows(a, b), [0])
    np.testing.assert_array_equal(shared_rows(b[:1], a), [0])


def test_nan_equals_nan_whatever_its_bits():
    a = np.array([[np.nan, 1.0], [2.0, 3.0]])
    negative_nan = -np.float64(np.nan)
    payload_nan = np.array([0x7FF8000000000123], dtype=np.uint64).view(np.float64)[0]
    b = np.array([[np.nan, 1.0], [negative_nan, 1.0], [payload_nan, 1.0], [np.nan, 3.0]])
    assert np.isnan(payload_nan) and b[1, 0].tobytes() != b[0, 0].tobytes() != b[2, 0].tobytes()
    np.testing.assert_array_equal(shared_rows(a, b), [0, 1, 2])
    np.testing.assert_array_equal(shared_rows(a.astype("float32"), b), [0, 1, 2])


def test_inputs_are_not_modified():
    a = np.array([[-0.0, np.nan]])
    b = a.copy()
    shared_rows(a, b)
    assert np.signbit(a[0, 0]) and np.signbit(b[0, 0])


def test_empty_tables_and_zero_columns():
    assert shared_rows(np.zeros((0, 3)), np.ones((4, 3))).tolist() == []
    assert shared_rows(np.ones((4, 3)), np.zeros((0, 3))).tolist() == []
    np.testing.assert_array_equal(shared_rows(np.zeros((2, 0)), np.zeros((3, 0))), [0, 1, 2])


def test_non_contiguous_views_and_wide_integers():
    big = np.arange(40, dtype=np.int64).reshape(10, 4) + 2**62
    np.testing.assert_array_equal(shared_rows(big[::2], big[:, :][1:5]), [1, 3])  # rows 2, 4
    np.testing.assert_array_equal(shared_rows(np.asfortranarray(big), big[::-1]), np.arange(10))


@pytest.mark.parametrize("a, b, message", [
    (np.ones(3), np.ones((2, 1)), r"a has shape \(3,\).*reshape\(-1, 1\)"),
    (np.ones((2, 1)), np.ones((2, 2, 2)), r"b has shape \(2, 2, 2\).*reshape\(len"),
    (np.ones((2, 3)), np.ones((2, 2)), "a has 3 columns and b has 2"),
])
def test_shape_errors_say_what_was_expected(a, b, message):
    with pytest.raises(ValueError, match=message):
        shared_rows(a, b)


@pytest.mark.parametrize("a", [np.array([["x", "y"]]), np.array([[None, 1]], dtype=object),
                               np.array([[1j, 2]]), np.array([["2024-01-01"]], dtype="datetime64[D]")])
def test_non_numeric_tables_are_refused(a):
    with pytest.raises(TypeError, match="bool, integer or float"):
        shared_rows(a, a)


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="long double is double here")
def test_long_double_is_refused():
    with pytest.raises(TypeError, match="padding bytes"):
        shared_rows(np.ones((2, 2), dtype=np.longdouble), np.ones((1, 2)))


def test_fast_on_100k_rows():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(100_000, 20))
    b = rng.normal(size=(100_000, 20))
    b[::100] = a[::100]
    start = time.perf_counter()
    found = shared_rows(a, b)
    seconds = time.perf_counter() - start
    np.testing.assert_array_equal(found, np.arange(0, 100_000, 100))
    assert seconds < 2.0, f"shared_rows took {seconds:.2f} s on 100k x 20 rows (about 0.1 s expected)"


# --- the lesson's grader -------------------------------------------------------------------

# Plausible wrong fixes: each one looks like a repair and still leaks or breaks the data. They live in tfclinic.grading.wrong_fixes,
# which the instructor guide reads too. The corpora below are graded by tests/test_lessons.py
# (one test for the lessons that share them).
WRONG_FIXES = as_cell_edits(LESSON)

# Other correct repairs, written the way students write them; all must earn full marks.
OTHER_CORRECT_FIXES = {
    "column-stack-except-refund": ("leakage-choose-features", '''
def choose_features(table):
    return np.column_stack([v for k, v in table.items() if k not in {"refund_issued"}]).astype(np.float32)
'''),
    # split as before, then drop the test rows that also occur in the training part
    "drop-test-copies-with-shared-rows": ("leakage-split-rows", '''
def split_rows(x, y, test_fraction=0.25, seed=0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    test = np.delete(test, shared_rows(x[train], x[test]))
    return x[train], x[test], y[train], y[test]
'''),
    # split as before, then drop the training rows that also occur in the test part
    "drop-train-copies-with-shared-rows": ("leakage-split-rows", '''
def split_rows(x, y, test_fraction=0.25, seed=0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    train = np.delete(train, shared_rows(x[test], x[train]))
    return x[train], x[test], y[train], y[test]
'''),
    # a group split: all copies of a customer go to the same side, copies are kept
    "group-split-by-content": ("leakage-split-rows", '''
def split_rows(x, y, test_fraction=0.25, seed=0):
    rng = np.random.default_rng(seed)
    _, group = np.unique(x, axis=0, return_inverse=True)
    group = group.reshape(-1)
    groups = rng.permutation(group.max() + 1)
    in_test = np.isin(group, groups[:int(round(test_fraction * len(groups)))])
    return x[~in_test], x[in_test], y[~in_test], y[in_test]
'''),
    "statistics-given-no-early-stopping": ("leakage-fit-model", '''
def fit_model(x_train, y_train, x_test, y_test):
    normalize = keras.layers.Normalization(mean=x_train.mean(axis=0), variance=x_train.var(axis=0))
    model = keras.Sequential([keras.Input(shape=(x_train.shape[1],)), normalize,
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    model.fit(x_train, y_train, epochs=8, batch_size=64, verbose=0)
    return model
'''),
    # watching the test rows without acting on them leaves the model unchanged
    "validation-split-and-looking-at-test": ("leakage-fit-model", '''
def fit_model(x_train, y_train, x_test, y_test):
    normalize = keras.layers.Normalization()
    normalize.adapt(x_train)
    model = keras.Sequential([keras.Input(shape=(x_train.shape[1],)), normalize,
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy",
                  metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=2,
                                         restore_best_weights=True)
    x_fit, x_val = x_train[:-len(x_train) // 5], x_train[-len(x_train) // 5:]
    y_fit, y_val = y_train[:-len(y_train) // 5], y_train[-len(y_train) // 5:]
    model.fit(x_fit, y_fit, epochs=20, batch_size=64, verbose=0, validation_data=(x_val, y_val),
              callbacks=[stop])
    print("test accuracy, for information only:", model.evaluate(x_test, y_test, verbose=0)[1])
    return model
'''),
}


def _namespace(notebook, seed):
    """Run a notebook's setup, solution and pipeline cells (not its tests); return globals."""
    os.environ["TFCLINIC_SEED"] = str(seed)
    try:
        namespace = {}
        for code in notebook.cells:
            if code.cell_type == "code" and not code.metadata.get("nbgrader", {}).get("grade"):
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(code.source, f"<{LESSON} cell>", "exec"), namespace)
        return namespace
    finally:
        del os.environ["TFCLINIC_SEED"]


def _score_gap(namespace, seed):
    """The hidden honest-score test's measurement: reported minus in-use accuracy."""
    import keras

    from tfclinic.data import customer_churn

    def accuracy(model, x, y):
        return float(np.mean((np.asarray(model(x))[:, 0] > 0.5) == y))

    table, y = customer_churn(n_samples=1600, seed=seed + 505)
    x_train, x_test, y_train, y_test = namespace["split_rows"](
        namespace["choose_features"](table), y, seed=seed + 505)
    keras.utils.set_random_seed(seed + 505)
    model = namespace["fit_model"](x_train, y_train, x_test, y_test)
    new, new_y = customer_churn(n_samples=4000, duplicate_fraction=0.0, at_prediction_time=True,
                                seed=seed + 506)
    return accuracy(model, x_test, y_test) - accuracy(model, namespace["choose_features"](new), new_y)


def _mean_error(namespace):
    """How far the pipeline model's Normalization mean is from x_train's, in units of its std."""
    import keras

    layer = next(l for l in namespace["model"].layers if isinstance(l, keras.layers.Normalization))
    x_train = namespace["x_train"].astype("float64")
    return np.max(np.abs(np.asarray(layer.mean).reshape(-1) - x_train.mean(axis=0)) / x_train.std(axis=0))


@pytest.mark.slow
@pytest.mark.proof
def test_thresholds_have_margin_on_every_seed():
    """The repaired pipeline is honest to well within the 0.10 score tolerance and the 1e-3
    normalization tolerance; the leaking one misses both by far."""
    for seed in SEEDS:
        repaired, leaking = _namespace(solution(LESSON), seed), _namespace(exercise(LESSON), seed)
        fixed, broken = _score_gap(repaired, seed), _score_gap(leaking, seed)
        assert abs(fixed) < SCORE_TOLERANCE - 0.05, f"seed {seed}: repaired gap {fixed:+.3f}"
        assert broken > SCORE_TOLERANCE + 0.10, f"seed {seed}: leaking gap {broken:+.3f}"
        assert _mean_error(repaired) < 1e-4, f"seed {seed}: repaired mean off by {_mean_error(repaired)}"
        assert _mean_error(leaking) > 1e-2, f"seed {seed}: leaking mean off by only {_mean_error(leaking)}"


def test_every_test_cell_says_what_earns_its_points():
    notebook = solution(LESSON)
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
                 if c.metadata.get("nbgrader", {}).get("grade")]
    assert grade_ids and all(g.startswith(f"{LESSON}-") for g in grade_ids)
    assert sum(cell(notebook, g).metadata["nbgrader"]["points"] for g in grade_ids) == FULL_MARKS
    for grade_id in grade_ids:  # the markdown just before each test cell names its points
        index = next(i for i, c in enumerate(notebook.cells)
                     if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        prose = [c.source for c in notebook.cells[:index] if c.cell_type == "markdown"
                 and not c.get("id", "").startswith("hints-")][-1]  # hints are not the task
        assert "point" in prose, f"no word on the points of {grade_id}"


def _poisoned_globals_gap(namespace, seed):
    """The hidden check of leakage-test-untouched-test: the largest difference, on the check's
    probe rows, between the pipeline's model and the one fit_model trains on the same
    arguments while the notebook's data is label-flipped."""
    import keras

    x_train = namespace["x_train"]
    rows = np.random.default_rng(seed + 404).normal(size=(500, x_train.shape[1]))
    rows = (rows * x_train.std(axis=0) + x_train.mean(axis=0)).astype("float32")
    names = ("table", "churned", "features", "x_train", "y_train", "x_test", "y_test")
    intact = {name: namespace[name] for name in names}
    flipped = {name: (1 - value[::-1]) if name in ("churned", "y_train", "y_test") else value[::-1]
               for name, value in intact.items() if name != "table"}
    flipped["table"] = {name: column[::-1] for name, column in intact["table"].items()}
    namespace.update(flipped)
    try:
        keras.utils.set_random_seed(seed)
        poisoned = namespace["fit_model"](*(intact[name] for name in ("x_train", "y_train", "x_test", "y_test")))
    finally:
        namespace.update(intact)
    return float(np.max(np.abs(np.asarray(poisoned(rows)) - np.asarray(namespace["model"](rows)))))


@pytest.mark.slow
@pytest.mark.proof
def test_the_notebook_data_check_has_margin_on_every_seed():
    """Poisoning the notebook's data changes nothing for the solution (tolerance 1e-5), and the
    model of a fit_model that stops early on the global feature table by far."""
    reads_globals = with_cell_source(solution(LESSON), *WRONG_FIXES["stop-on-the-notebook-table"])
    for seed in SEEDS:
        right = _poisoned_globals_gap(_namespace(solution(LESSON), seed), seed)
        wrong = _poisoned_globals_gap(_namespace(reads_globals, seed), seed)
        assert right < 1e-6, f"seed {seed}: the solution's models differ by {right:.2e}"
        assert wrong > 0.1, f"seed {seed}: the global-reading fix's models differ by only {wrong:.2e}"
