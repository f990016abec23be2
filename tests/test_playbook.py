"""The capstone: a training script with four bugs from four chapters, graded one bug per cell.

Its grader is tested both ways (every wrong fix at exactly its pinned score, every other
correct fix at full marks), each test cell's threshold is measured for its margin on five
seeds, and the real data set it trains on is checked."""

import numpy as np
import pytest

from lesson_variants import cell, grade_variants, graded_folder, journal_cells, solution, solution_namespace
from tfclinic.grading.wrong_fixes import (ADAPTED, HIDDEN, SIGMOID, as_cell_edits, playbook_accuracy,
                                          playbook_model, playbook_training, wrong_fixes)

LESSON = "playbook"
SEEDS = [0, 1, 2, 3, 4]
POINTS = {"playbook-pairing-test": 3, "playbook-scaling-test": 3, "playbook-accuracy-test": 2,
          "playbook-honest-test": 2, "playbook-pipeline-test": 2}
FULL_MARKS = sum(POINTS.values())

# Plausible wrong fixes, from tfclinic.wrong_fixes (the instructor guide lists them too).
WRONG_FIXES = as_cell_edits(LESSON)
PINS = {fix.name: fix for fix in wrong_fixes(LESSON)}

# Other correct repairs, written the way students write them; all must earn full marks.
OTHER_CORRECT_FIXES = {
    "logits-and-from-logits": playbook_model(
        "normalizer", HIDDEN, "keras.layers.Dense(1)",
        loss="keras.losses.BinaryCrossentropy(from_logits=True)"),
    "sigmoid-as-its-own-layer": playbook_model(
        "normalizer", HIDDEN, "keras.layers.Dense(1)", 'keras.layers.Activation("sigmoid")'),
    "z-score-given-to-the-layer": playbook_model(
        "normalizer", HIDDEN, SIGMOID,
        scaling="    normalizer = keras.layers.Normalization(mean=x_train.mean(axis=0), "
                "variance=x_train.var(axis=0))\n"),
    "min-max-rescaling": playbook_model(
        "keras.layers.Rescaling(scale=1.0 / span, offset=-low / span)", HIDDEN, SIGMOID,
        scaling="    low = x_train.min(axis=0)\n    span = x_train.max(axis=0) - low\n"),
    "functional-model": ("playbook-build-model", '''
def build_model(x_train):
    normalize = keras.layers.Normalization()
    normalize.adapt(x_train)
    inputs = keras.Input(shape=(x_train.shape[1],))
    hidden = keras.layers.Dense(16, activation="relu")(normalize(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=keras.losses.BinaryCrossentropy())
    return model
'''),
    "first-column": playbook_accuracy(
        "    return float(np.mean((probabilities[:, 0] > 0.5) == labels))\n"),
    "labels-as-a-column": playbook_accuracy(
        "    return float(np.mean((probabilities > 0.5) == labels.reshape(-1, 1)))\n"),
    "keras-binary-accuracy": playbook_accuracy(
        "    return float(np.mean(keras.metrics.binary_accuracy(labels, probabilities)))\n"),
    "count-right-answers": playbook_accuracy(
        "    predicted = np.squeeze(probabilities, axis=1) > 0.5\n"
        "    return int(np.sum(predicted == labels)) / len(labels)\n"),
    "stop-on-the-training-loss": ("playbook-train-and-report", '''
def train_and_report(model, x_train, y_train, x_test, y_test):
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=3, restore_best_weights=True)
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, callbacks=[stop], verbose=0)
    return accuracy(probabilities(model, x_test), y_test)
'''),
    "validation-rows-by-hand": playbook_training(
        "    x_fit, x_val, y_fit, y_val = x_train[:-80], x_train[-80:], y_train[:-80], y_train[-80:]\n"
        "    model.fit(x_fit, y_fit, validation_data=(x_val, y_val), epochs=EPOCHS,\n"
        "              batch_size=BATCH_SIZE, callbacks=[stop], verbose=0)\n"),
    "no-early-stopping": ("playbook-train-and-report", '''
def train_and_report(model, x_train, y_train, x_test, y_test):
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    return accuracy(probabilities(model, x_test), y_test)
'''),
}


@pytest.mark.slow
def test_plausible_wrong_fixes_earn_exactly_their_pinned_score(tmp_path):
    grades = grade_variants(LESSON, WRONG_FIXES, tmp_path, seed=7)
    cells = journal_cells(graded_folder(tmp_path, 7))
    assert sorted(grades) == sorted(WRONG_FIXES)
    for name, row in grades.items():
        fix = PINS[name]
        assert (row.status, row.max_score) == ("graded", FULL_MARKS), f"wrong fix {name!r}: {row}"
        assert row.score < FULL_MARKS, f"wrong fix {name!r}: {row}"
        assert sorted(cells[name]) == sorted(POINTS), name
        if fix.score is not None:
            assert row.score == fix.score, f"wrong fix {name!r}: {row}"
        caught = {test: cells[name][test] for test in fix.caught_by}
        assert set(caught.values()) <= {0}, f"wrong fix {name!r} passed {caught}"


@pytest.mark.slow
def test_other_correct_fixes_earn_full_marks(tmp_path):
    grades = grade_variants(LESSON, OTHER_CORRECT_FIXES, tmp_path, seed=8)
    assert sorted(grades) == sorted(OTHER_CORRECT_FIXES)
    for name, row in grades.items():
        assert (row.status, row.score) == ("graded", FULL_MARKS), f"correct fix {name!r}: {row}"


@pytest.mark.slow
def test_partial_repairs_earn_the_points_of_the_bugs_they_fix(tmp_path):
    """The exercise with one function repaired at a time: each repair earns its own cells."""
    from lesson_variants import exercise, grade_notebooks

    broken = exercise(LESSON)
    repaired = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution(LESSON).cells
                if c.metadata.get("nbgrader", {}).get("solution")}
    variants = {}
    for grade_id in repaired:
        variant = broken.copy()
        variant.cells = [c.copy() for c in broken.cells]
        cell(variant, grade_id).source = repaired[grade_id]
        variants[grade_id.removeprefix("playbook-")] = variant
    grades = grade_notebooks(LESSON, variants, tmp_path, seed=9)
    expected = {"build-model": POINTS["playbook-pairing-test"] + POINTS["playbook-scaling-test"],
                "accuracy": POINTS["playbook-accuracy-test"],
                "train-and-report": POINTS["playbook-honest-test"]}
    assert {name: row.score for name, row in grades.items()} == expected


def _test_helpers():
    """The functions and imports of the test cells, visible and hidden, as source: the
    margins below are measured with the grader's own code."""
    import ast

    kept = []
    for code in solution(LESSON).cells:
        if code.metadata.get("nbgrader", {}).get("grade"):
            tree = ast.parse(code.source)
            kept += [node for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
    return compile(ast.Module(body=kept, type_ignores=[]), "<playbook tests>", "exec")


def _namespace(base, fix=None):
    """The solution's namespace with ``fix`` applied and the test helpers bound to it."""
    changed = dict(base)
    if fix is not None:
        exec(compile(fix[1], "<variant>", "exec"), changed)
    exec(_test_helpers(), changed)
    return changed


def _unit_gap(ns, x_train, probe, seed):
    """What test 2 measures: the spread of the untrained predictions, and their largest change
    when the columns change units."""
    units = np.random.default_rng(seed).choice([0.001, 0.1, 10.0, 1000.0], size=x_train.shape[1])
    units = units.astype("float32")
    plain = ns["untrained_probabilities"](x_train, probe, seed)
    other = ns["untrained_probabilities"](x_train * units, probe * units, seed)
    return float(np.std(plain)), float(np.max(np.abs(plain - other)))


def _pipeline(ns, x_train, y_train, x_test, y_test, seed):
    ns["keras"].utils.set_random_seed(seed)
    model = ns["build_model"](x_train)
    reported = ns["train_and_report"](model, x_train, y_train, x_test, y_test)
    assert abs(reported - ns["counted_accuracy"](ns["probabilities"](model, x_test), y_test)) < 1e-6
    return reported


@pytest.mark.slow
@pytest.mark.proof
def test_thresholds_have_margin_on_every_seed():
    """Measured on seeds 0-4 with the test cells' own helpers, on rows drawn as the hidden
    tests draw them:

    - test 1's first loss on standardized features, within 0.5 of ln 2: the solution and its
      logits variant stay close to it; the broken output (no sigmoid) is named by the
      pairing check before its first loss is read;
    - test 2's spread (above 1e-3) and tolerance (2e-3) on predictions in other units: a
      scaled model's spread widely and move by float32 rounding only; an unscaled one's
      saturate on the raw areas, every tumour at the same probability;
    - test 5's accuracy on raw features in other units, above 0.9: the solution and its
      correct variants without early stopping or as a functional model, with room.
    """
    import math

    base = {seed: solution_namespace(LESSON, seed) for seed in SEEDS}
    variants = {
        "solution": None,
        "logits": OTHER_CORRECT_FIXES["logits-and-from-logits"],
        "functional": OTHER_CORRECT_FIXES["functional-model"],
        "no early stopping": OTHER_CORRECT_FIXES["no-early-stopping"],
        "no sigmoid": WRONG_FIXES["scaled-output-still-logits"],
        "unscaled": WRONG_FIXES["sigmoid-output-unscaled"],
    }
    for seed in SEEDS:
        ns = {name: _namespace(base[seed], fix) for name, fix in variants.items()}
        ns["no sigmoid"]["pairing_problems"] = lambda model, task: []  # measure past the check
        x, y, _ = ns["solution"]["breast_cancer"](seed=seed + 101)
        units = np.random.default_rng(seed).choice([0.01, 1.0, 100.0], size=x.shape[1])
        x_units = x * units.astype("float32")
        split = (x_units[150:], y[150:], x_units[:150], y[:150], seed)
        gap = {name: abs(ns[name]["first_loss"](x[:300], y[:300], seed) - math.log(2))
               for name in ("solution", "logits", "no sigmoid")}
        units_moved = {name: _unit_gap(ns[name], x[150:], x[:150], seed)
                       for name in ("solution", "logits", "unscaled")}
        accuracy = {name: _pipeline(ns[name], *split)
                    for name in ("solution", "functional", "no early stopping")}
        print(seed, gap, units_moved, accuracy)
        assert max(gap["solution"], gap["logits"]) < 0.5 - 0.25, (seed, gap)
        # the broken output: its first loss lands anywhere (0.69 and 4.6 from ln 2 measured),
        # and the cell does not rely on it: pairing_problems names the pairing first
        broken = ns["no sigmoid"]["build_model"](x[:300])
        assert base[seed]["pairing_problems"](broken, "binary"), seed
        for name in ("solution", "logits"):  # spread well above 1e-3, change well below 2e-3
            spread, moved = units_moved[name]
            assert spread > 1e-3 * 10 and moved < 2e-3 / 4, (seed, name, units_moved)
        spread, moved = units_moved["unscaled"]  # raw areas saturate the sigmoid: no spread
        assert spread < 1e-3 / 10 or moved > 2e-3 * 10, (seed, units_moved)
        assert min(accuracy.values()) > 0.9 + 0.03, (seed, accuracy)


def test_every_test_cell_says_what_earns_its_points():
    notebook = solution(LESSON)
    graded = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert graded == POINTS
    for grade_id, points in POINTS.items():
        position = notebook.cells.index(cell(notebook, grade_id))
        prose = notebook.cells[position - 1]
        assert prose.cell_type == "markdown" and f"({points} points)" in prose.source, grade_id


def test_every_fix_in_the_corpus_names_a_solution_cell_and_pins_a_score_or_its_catchers():
    """Each wrong fix pins a score below full marks, or the test cells that catch it."""
    notebook = solution(LESSON)
    for corpus in (WRONG_FIXES, OTHER_CORRECT_FIXES):
        for grade_id, _ in corpus.values():
            assert cell(notebook, grade_id).metadata["nbgrader"]["solution"]
    for name, fix in PINS.items():
        assert (fix.score is None) == bool(fix.caught_by), f"{name}: a score or caught_by, one of them"
        assert fix.score is None or 0 <= fix.score < FULL_MARKS, name
        assert set(fix.caught_by) <= set(POINTS), f"{name}: {fix.caught_by}"


def test_the_exercise_carries_all_four_bugs():
    """The released exercise holds the broken script: no sigmoid, no scaling, the (N, 1)
    comparison and early stopping on the test rows."""
    from lesson_variants import exercise

    sources = {c.metadata["nbgrader"]["grade_id"]: c.source for c in exercise(LESSON).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    assert "Normalization" not in sources["playbook-build-model"]
    assert "sigmoid" not in sources["playbook-build-model"]
    assert "(probabilities > 0.5) == labels" in sources["playbook-accuracy"]
    assert "validation_data=(x_test, y_test)" in sources["playbook-train-and-report"]


# The real data set.

def test_breast_cancer_loads_offline_seeded_and_shuffled():
    from tfclinic.real_data import breast_cancer

    x, y, names = breast_cancer(seed=3)
    assert x.shape == (569, 30) and x.dtype == np.float32 and y.dtype == np.int64
    assert len(names) == 30 and "mean area" in names
    assert set(np.unique(y)) == {0, 1} and 0.3 < y.mean() < 0.45  # 212 of 569 malignant
    again, again_y, _ = breast_cancer(seed=3)
    np.testing.assert_array_equal(x, again)
    np.testing.assert_array_equal(y, again_y)
    other, _, _ = breast_cancer(seed=4)
    assert not np.array_equal(x, other)
    np.testing.assert_allclose(np.sort(x[:, 0]), np.sort(other[:, 0]))  # the same rows
    area, smoothness = names.index("mean area"), names.index("mean smoothness")
    assert x[:, area].mean() > 1000 * x[:, smoothness].mean()  # why the table needs scaling
    x[0, 0] = -1.0  # a copy: the cached table is not changed
    assert breast_cancer(seed=3)[0][0, 0] != -1.0


def test_breast_cancer_subsample_and_bad_size():
    from tfclinic.real_data import breast_cancer

    x, y, _ = breast_cancer(n_samples=100, seed=1)
    assert x.shape == (100, 30) and y.shape == (100,)
    assert len(np.unique(x, axis=0)) == 100
    for bad in (0, 570):
        with pytest.raises(ValueError, match="between 1 and 569"):
            breast_cancer(n_samples=bad)
