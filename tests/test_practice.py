"""Practice checks (``tfclinic validate --fresh``, ``tfclinic.practice.check``): the
solutions pass every one, and a repair tuned to the notebook's own numbers fails one."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lesson_variants import tuned_build_model
from tfclinic.practice import LESSONS, check, guess_lesson, run_checks

TFCLINIC = str(Path(sys.executable).with_name("tfclinic"))

# One repair per lesson that passes the visible tests with the notebook's numbers only.
TUNED = {
    "shapes": ("build_model", "def build_model(n_features):\n"
               "    inputs = keras.Input(shape=(8,))\n"
               "    return keras.Model(inputs, keras.layers.Dense(1)(inputs))\n"),
    "dtypes": ("preprocess", "_solved = preprocess\n"
               "def preprocess(frames, labels):\n"
               "    features, ids = _solved(frames, labels)\n"
               "    return tf.reshape(features, (-1, 64)), ids\n"),
    "scaling": ("make_pipeline", "def make_pipeline(x_train):\n"
                "    mean, std = x_train[:200].mean(axis=0), x_train[:200].std(axis=0)\n"
                "    mean, std = mean.copy(), std.copy()\n"
                "    return (lambda x: (x - mean) / std), build_model(4)\n"),
    "leakage": ("choose_features", "def choose_features(table):\n"
                "    return np.stack([np.asarray(v, 'float32') for v in table.values()], axis=1)\n"),
    "losses": ("expected_initial_loss", "def expected_initial_loss(n_classes):\n"
               "    return {2: 0.6931, 4: 1.3863}.get(n_classes, 1.0)\n"),
}


def solution_namespace(project, lesson):
    """The solution notebook's cells, test cells left out, run in this process."""
    notebook = nbformat.read(project / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
    namespace = {"__name__": "__main__"}
    for cell in notebook.cells:
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
            exec(compile(cell.source, f"<{lesson}>", "exec"), namespace)  # noqa: S102 - our notebook
    return namespace


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_the_solution_passes_every_practice_check_and_a_tuned_repair_fails(project, lesson, capsys):
    namespace = solution_namespace(project, lesson)
    assert guess_lesson(namespace) == lesson
    for seed in (1, 2):
        found, outcomes = run_checks(namespace, seed=seed)
        assert found == lesson
        assert all(o.passed for o in outcomes), [o for o in outcomes if not o.passed]
    name, source = TUNED[lesson]
    exec(source, namespace)  # noqa: S102 - a wrong fix of our own corpus
    assert not check(namespace, seed=3)
    report = capsys.readouterr().out
    assert "FAIL" in report and "not the hidden tests" in report, report


@pytest.mark.slow
def test_validate_fresh_fails_a_build_model_tuned_to_the_notebook(project, tmp_path):
    notebook = tuned_build_model()
    path = tmp_path / "shapes.ipynb"
    nbformat.write(notebook, path)
    visible = subprocess.run([TFCLINIC, "validate", str(path)], capture_output=True, text=True)
    assert "Visible tests: 5/5 test cells passed (10/10 points)" in visible.stdout, visible.stdout
    assert "passes all the tests" not in visible.stdout and "Hidden tests" in visible.stdout
    fresh = subprocess.run([TFCLINIC, "validate", "--fresh", str(path)], capture_output=True, text=True)
    assert fresh.returncode == 1, fresh.stdout + fresh.stderr
    assert "FAIL build_model_for_other_feature_counts: build_model(" in fresh.stdout, fresh.stdout
    assert "PASS make_features_on_other_sizes" in fresh.stdout
