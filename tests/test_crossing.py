"""What can go from student code to the grader: data as data, models the grader can rebuild
as .keras files, other models and functions as handles that run in the student process, and
nothing else; the self-check (tfclinic validate) refuses what grading refuses, in the same words."""

import functools
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from tfclinic.sandbox.protocol import Encoder, NotGradable, crossing_problem, rebuild_problem
from tfclinic.sandbox.remote import StudentObject
from tfclinic.sandbox.runner import student_environment
from tfclinic.sandbox.student import StudentCodeError, StudentProcess


def test_objects_without_a_stand_in_are_refused_in_one_sentence_naming_their_form():
    assert crossing_problem({0, 1}).startswith("a set cannot be sent to the grader: return NumPy")
    assert crossing_problem(x for x in ()).startswith("a generator cannot be sent")
    assert crossing_problem([1, np.array([object()])]).startswith("an array of Python objects")
    with pytest.raises(NotGradable, match="a set cannot be sent"):
        Encoder(store=id).encode({"labels": {0, 1}})


def test_data_functions_and_callable_objects_cross():
    class Scaler:
        def __call__(self, features):
            return features

    for value in ([1, (2.0, "x")], {"a": np.zeros(3)}, np.float32(1), len, lambda: 1, Scaler()):
        assert crossing_problem(value) is None, value


def _model(*layers, loss="mse", activation=None):
    import keras

    inputs = keras.Input(shape=(3,))
    hidden = inputs
    for layer in layers:
        hidden = layer(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1, activation=activation)(hidden))
    model.compile(optimizer="adam", loss=loss)
    return model


def _student_side(model):
    """The tag the student process sends for ``model``."""
    return Encoder(store=lambda value: 1).encode(model)[0]


def test_models_of_keras_alone_go_as_files_and_the_others_stay_as_handles():
    import keras

    @keras.saving.register_keras_serializable(package="test_crossing")
    class Registered(keras.layers.Layer):
        def call(self, inputs):
            return inputs

    class Unregistered(keras.layers.Layer):
        def call(self, inputs):
            return inputs

    class OwnLoss(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.ops.mean((y_true - y_pred) ** 2)

    def binary_crossentropy(y_true, y_pred):  # shares the name of Keras's function
        return keras.ops.mean(y_true - y_pred)

    as_files = {"built-ins": _model(keras.layers.Dense(4, activation="relu")),
                "loss object": _model(loss=keras.losses.BinaryCrossentropy(from_logits=True)),
                "normalization": _model(keras.layers.Normalization(mean=[0.0] * 3, variance=[1.0] * 3))}
    as_handles = {"registered layer": _model(Registered()),
                  "unregistered layer": _model(Unregistered()),
                  "Loss subclass": _model(loss=OwnLoss()),
                  "own function with a Keras name": _model(loss=binary_crossentropy),
                  "partial": _model(loss=functools.partial(keras.losses.binary_crossentropy,
                                                           from_logits=True)),
                  "Lambda layer": _model(keras.layers.Lambda(lambda t: 2 * t))}
    assert {name: _student_side(m) for name, m in as_files.items()} == dict.fromkeys(as_files, "model")
    assert {name: _student_side(m) for name, m in as_handles.items()} == dict.fromkeys(as_handles, "handle")
    assert all(crossing_problem(m) is None for m in [*as_files.values(), *as_handles.values()])


def test_rebuild_problem_names_the_class_or_function(tmp_path):
    import keras

    class Shift(keras.layers.Layer):
        def call(self, inputs):
            return inputs + 1

    def my_loss(y_true, y_pred):
        return keras.ops.mean(y_true - y_pred)

    for model, expected in ((_model(Shift()), "Shift is a class of your own"),
                            (_model(loss=my_loss), "the function 'my_loss' is not one of Keras's own")):
        path = tmp_path / f"{id(model)}.keras"
        model.save(path)
        with open(path, "rb") as handle:
            assert rebuild_problem(model, handle.read()) == expected


STUDENT_CELL = '''
import functools
import keras
import numpy as np

@keras.saving.register_keras_serializable(package="student")
class Double(keras.layers.Layer):
    def call(self, inputs):
        return 2 * inputs

def build(n_features):
    inputs = keras.Input(shape=(n_features,))
    outputs = keras.layers.Dense(1)(Double()(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=functools.partial(keras.losses.binary_crossentropy, from_logits=True))
    return model

def labels():
    return {0, 1}
'''


def handle_checks(workdir):
    """Run in a fresh Python (see the test below): a student process forked after TensorFlow
    has run ops in its parent can hang, so the parent here has imported Keras only."""
    import keras  # noqa: F401 - imported before the fork, as the grader does

    student = StudentProcess(workdir, student_environment(workdir, seed=0), call_timeout=30)
    try:
        _use_a_model_held_by_handle(student)
    finally:
        student.stop()


def _use_a_model_held_by_handle(student):
    from tfclinic.training import output_and_loss, pairing_problems

    assert student.run_cell(STUDENT_CELL)[1] is None
    model = student.call(["student", "build"], [4], {})
    assert isinstance(model, StudentObject)
    x, y = np.ones((8, 4), "float32"), np.ones(8, "float32")
    history = model.fit(x, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert np.asarray(model(x, training=False)).shape == (8, 1)
    assert model.input_shape == (None, 4)
    assert np.isclose(float(model.optimizer.learning_rate), 0.01)
    assert output_and_loss(model)["from_logits"] is True
    assert pairing_problems(model, "binary") == []
    with pytest.raises(AttributeError, match="no_such_thing"):
        model.no_such_thing
    with pytest.raises(AttributeError):
        model._private  # private and special names stay here: NumPy sees a plain object
    with pytest.raises(StudentCodeError, match="NotGradable: a set cannot be sent to the grader"):
        student.call(["student", "labels"], [], {})


@pytest.mark.slow
def test_a_model_held_by_handle_is_used_as_in_a_notebook(tmp_path):
    """Fit, call, read attributes and check the pairing of a model with a registered layer of
    the student's and a partial loss: one the grader cannot rebuild."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    code = f"import test_crossing; test_crossing.handle_checks({str(workdir)!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _cell(source, **nbgrader):
    code = nbformat.v4.new_code_cell(source)
    if nbgrader:
        code.metadata["nbgrader"] = {"locked": False, "schema_version": 3, "points": 1,
                                     "solution": False, "grade": False, **nbgrader}
    return code


@pytest.mark.slow
def test_validate_fails_what_the_grader_cannot_receive_in_the_graders_words(tmp_path):
    from tfclinic.validate import validate

    notebook = nbformat.v4.new_notebook(cells=[
        _cell("def labels():\n    return {0, 1}\n\n\ndef count():\n    return len(labels())",
              solution=True, grade_id="t-solution"),
        _cell("assert labels() == {0, 1}", grade=True, grade_id="t-set"),
        _cell("assert count() == 2", grade=True, grade_id="t-inner-call"),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "crossing.ipynb"
    nbformat.write(notebook, path)
    results, stopped = validate(path)
    assert stopped is None
    by_id = {r.grade_id: r for r in results}
    assert not by_id["t-set"].passed
    assert by_id["t-set"].message == f"NotGradable: {crossing_problem({0, 1})}"
    assert by_id["t-inner-call"].passed, by_id["t-inner-call"]  # a call inside student code
