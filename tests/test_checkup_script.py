"""``tfclinic checkup script.py``: the hooks never consume, materialise or break the program."""

import io
import time

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from tfclinic.checkup import REGISTRY, Report  # noqa: E402
from tfclinic.checkup.checks_training import Run  # noqa: E402
from tfclinic.checkup.findings import RUN_REGISTRY, run_all  # noqa: E402
from tfclinic.checkup.script import run_script  # noqa: E402


def run(tmp_path, source, deep=False):
    script = tmp_path / "train.py"
    script.write_text(source)
    stream = io.StringIO()
    keras.utils.set_random_seed(0)
    try:
        status, error = run_script(script, deep=deep, stream=stream), None
    except Exception as raised:  # noqa: BLE001 - the checkup re-raises the script's errors
        status, error = None, raised
    return status, error, stream.getvalue()


HEAD = """
import keras
import numpy as np
rng = np.random.default_rng(0)
x = rng.normal(size=(128, 4)).astype("float32")
y = (x[:, 0] > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
"""


def test_a_crash_is_explained_noted_on_the_exception_and_re_raised(tmp_path):
    status, error, out = run(tmp_path, HEAD + "model.fit(x[:, :3], y, epochs=1, verbose=0)\n")
    assert isinstance(error, ValueError) and status is None
    assert "SHP001 [error]" in out  # the static check, at the fit
    assert "SHP101 [error]" in out and "shapes.html#" in out  # the crash, explained
    assert any("SHP101" in note for note in getattr(error, "__notes__", []))
    assert keras.Model.fit.__name__ == "fit" and "tfclinic" not in keras.Model.fit.__module__


def test_a_crash_outside_any_training_call_is_explained(tmp_path):
    source = HEAD + """
import tensorflow as tf
labels = tf.constant([1, 0, 1])
print(labels - tf.constant([0.9, 0.2, 0.6]))
"""
    _, error, out = run(tmp_path, source)
    assert error is not None and "DTY102 [error]" in out


def test_a_generator_keeps_its_first_batch(tmp_path):
    source = HEAD + """
seen = []
def batches():
    for i in range(4):
        seen.append(i)
        yield x[32 * i:32 * (i + 1)], y[32 * i:32 * (i + 1)]
model.fit(batches(), steps_per_epoch=4, epochs=1, verbose=0)
print("SEEN", seen)
assert model.optimizer.iterations.numpy() == 4, model.optimizer.iterations.numpy()
"""
    status, error, out = run(tmp_path, source)
    assert error is None and status == 0, out
    assert "the generator's first batch" in out


def test_a_huge_pydataset_is_read_one_batch_only(tmp_path):
    source = HEAD + """
reads = []
class Endless(keras.utils.PyDataset):
    def __len__(self):
        return 10 ** 5                      # np.asarray would read every one
    def __getitem__(self, index):
        reads.append(index)
        return x[:32], y[:32]
model.fit(Endless(), steps_per_epoch=3, epochs=1, verbose=0)
assert len(reads) <= 10, len(reads)  # ours (index 0) and what Keras reads ahead for 3 steps
"""
    started = time.perf_counter()
    status, error, out = run(tmp_path, source, deep=True)
    assert error is None and status == 0, out
    assert "one batch of the Endless" in out
    assert time.perf_counter() - started < 60


def test_train_on_batch_is_checked_and_judged(tmp_path):
    source = HEAD + """
model.compile(optimizer=keras.optimizers.SGD(1e-7), loss="binary_crossentropy")
for step in range(120):
    model.train_on_batch(x[:32], y[:32])
"""
    status, error, out = run(tmp_path, source)
    assert error is None, out
    assert "first train_on_batch" in out
    assert "TRN010 [warning]" in out  # the run's losses: a rate far too low


def test_a_failing_check_becomes_an_internal_note(tmp_path):
    index = next(i for i, e in enumerate(REGISTRY) if e.code == "SCL001")
    entry = REGISTRY[index]

    def broken(ctx):
        raise RuntimeError("boom")

    REGISTRY[index] = type(entry)(broken, entry.code, entry.link, False, False)
    try:
        status, error, out = run(tmp_path, HEAD + "model.fit(x, y, epochs=1, verbose=0)\n")
    finally:
        REGISTRY[index] = entry
    assert error is None and status == 0, out
    assert "SCL001 could not run (RuntimeError: boom)" in out


def test_the_deep_trial_keeps_to_its_budget(tmp_path, monkeypatch):
    import tfclinic.checkup as checkup_module

    monkeypatch.setattr(checkup_module, "DEEP_BUDGET_S", 0.0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    from tfclinic.checkup.context import Context

    report = checkup_module.run_checks(Context(model, x, (x[:, 0] > 0).astype("float32")),
                                       deep=True, budget_s=0.0)
    assert "TRN014" in report.all_codes and "TRN014" not in report.codes


def test_watch_outside_a_script_checks_the_first_batch_only():
    import tfclinic.checkup

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.zeros((8, 5), "float32")
    stream = io.StringIO()
    assert tfclinic.checkup.watch(model, x, np.zeros(8), 1.0, stream=stream)
    assert tfclinic.checkup.watch(model, x, np.zeros(8), 1.0, stream=stream) is None
    assert stream.getvalue().count("SHP001 [error]") == 1
    assert tfclinic.checkup.watch_report(model) is not None  # two steps recorded


def judged(**fields):
    return run_all(RUN_REGISTRY, Run(**fields)).codes


@pytest.mark.parametrize("fields, code", [
    (dict(curve=[0.69, 0.69, 0.69, 0.69], start=0.70, steps=200, loss="binary_crossentropy",
          entropy=0.69), "TRN009"),
    (dict(curve=[0.70, 0.70, 0.70], start=0.70, steps=120, learning_rate=1e-6, optimizer="SGD"),
     "TRN010"),
    (dict(curve=[2.3, 1.9, 1.5], start=2.3, steps=16, loss="sparse_categorical_crossentropy",
          entropy=2.3), "TRN011"),
    (dict(curve=[1.0, 0.5, 8.0, 30.0], start=1.0, steps=400), "TRN004"),
    (dict(curve=[5.0, 5.0, 5.0], start=5.0, steps=300, learning_rate=1e-3, optimizer="Adam"),
     "TRN005"),
])
def test_run_checks_name_what_went_wrong(fields, code):
    assert code in judged(**fields)


@pytest.mark.parametrize("fields", [
    dict(curve=[0.5, 0.2, 0.1, 0.05], start=0.69, steps=200, loss="binary_crossentropy", entropy=0.69),
    dict(curve=[11.7, 3.0, 1.05], start=9.96, steps=60),  # an epoch mean above the first batch
    dict(curve=[0.9, 0.3], start=2.3, steps=20, loss="sparse_categorical_crossentropy", entropy=2.3),
    dict(curve=[0.06, 0.05, 0.05], start=0.7, steps=150, loss="binary_crossentropy", entropy=0.056),
])
def test_run_checks_stay_quiet_on_healthy_runs(fields):
    assert judged(**fields) == []


def test_report_counts_notes_apart():
    from tfclinic.checkup import Finding

    report = Report([Finding("DTY002", "info", "m", "f", "dtypes.html#a")])
    assert report.problems == [] and report.codes == [] and report.all_codes == ["DTY002"]
    assert str(report).startswith("checkup: no problems found (1 note(s)).")
