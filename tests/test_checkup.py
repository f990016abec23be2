"""The checkup names each lesson's failure, and stays quiet on the fixed version."""

import sys
import time

import numpy as np
import pytest

from tfclinic import data

keras = pytest.importorskip("keras")

from tfclinic.checkup import REGISTRY, Report, checkup  # noqa: E402


def dense(n_inputs, units=1, activation=None, loss="mse", preprocessing=(), hidden=8,
          optimizer=None):
    shape = n_inputs if isinstance(n_inputs, tuple) else (n_inputs,)
    model = keras.Sequential([keras.Input(shape=shape), *preprocessing,
                              *([keras.layers.Flatten()] if len(shape) > 1 else []),
                              keras.layers.Dense(hidden, activation="relu"),
                              keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-2), loss=loss)
    return model


def errors(report):
    return [f.code for f in report if f.severity == "error"]


def blobs(n_classes=3):
    return data.class_blobs(n_samples=400, n_classes=n_classes, seed=1)


# (name, build) -> (model, x, y, validation_data); each broken case names the code it must get.
def shapes_broken():
    x, y, _ = data.linear_regression(n_samples=200, n_features=5)
    return dense(10), x, y, None


def shapes_fixed():
    x, y, _ = data.linear_regression(n_samples=200, n_features=10)
    return dense(10), x, y, None


def channel_broken():
    images, labels = data.digit_like_images(n_samples=64)
    return dense((12, 12, 1), activation="sigmoid", loss="bce"), images, labels, None


def channel_fixed():
    images, labels = data.digit_like_images(n_samples=64)
    return dense((12, 12, 1), activation="sigmoid", loss="bce"), images[..., None], labels, None


def label_shape_broken():
    x, y, _ = data.linear_regression(n_samples=200)
    return dense(10, units=1), x, np.stack([y, y, y], axis=1), None


def label_shape_fixed():
    x, y, _ = data.linear_regression(n_samples=200)
    return dense(10, units=1), x, y[:, None], None


def object_broken():
    x, y, _ = data.linear_regression(n_samples=100, n_features=3)
    return dense(3), x.astype(str).astype(object), y, None


def int_features_broken():
    x, y = data.integer_classification(n_samples=200)
    return dense(10, activation="sigmoid", loss="binary_crossentropy"), x, y, None


def int_features_fixed():
    x, y = data.integer_classification(n_samples=200)
    x = x.astype("float32")
    return dense(10, activation="sigmoid", loss="binary_crossentropy"), (x - x.mean(0)) / x.std(0), y, None


def uint8_broken():
    images, labels = data.bar_position_images(n_samples=200)
    return dense((12, 12), units=10, activation="softmax",
                 loss="sparse_categorical_crossentropy"), images, labels, None


def uint8_fixed():
    images, labels = data.bar_position_images(n_samples=200)
    return dense((12, 12), units=10, activation="softmax", loss="sparse_categorical_crossentropy",
                 preprocessing=[keras.layers.Rescaling(1 / 255)]), images, labels, None


def uint8_fixed_by_hand():
    images, labels = data.bar_position_images(n_samples=200)
    return dense((12, 12), units=10, activation="softmax",
                 loss="sparse_categorical_crossentropy"), images.astype("float32") / 255, labels, None


def int_labels_categorical_broken():
    x, y = blobs()
    return dense(8, units=3, activation="softmax", loss="categorical_crossentropy"), x, y, None


def int_labels_categorical_fixed():
    x, y = blobs()
    return (dense(8, units=3, activation="softmax", loss="categorical_crossentropy"), x,
            keras.utils.to_categorical(y, 3), None)


def one_hot_sparse_broken():
    x, y = blobs()
    return (dense(8, units=3, activation="softmax", loss="sparse_categorical_crossentropy"), x,
            keras.utils.to_categorical(y, 3), None)


def sparse_fixed():
    x, y = blobs()
    return dense(8, units=3, activation="softmax", loss="sparse_categorical_crossentropy"), x, y, None


def scales_broken():
    x, y = data.mixed_scale_regression(n_samples=400)
    return dense(4), x, y, None


def scales_fixed():
    x, y = data.mixed_scale_regression(n_samples=400)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    return dense(4, preprocessing=[norm]), x, y, None


def target_broken():
    x, y, _ = data.linear_regression(n_samples=200)
    return dense(10), x, 1000 * y + 5000, None


def duplicates_broken():
    table, y = data.customer_churn(n_samples=600, at_prediction_time=True)
    x = np.column_stack(list(table.values()))
    x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1)
    return dense(7, activation="sigmoid", loss="bce"), x[:400], y[:400], (x[400:], y[400:])


def duplicates_fixed():
    table, y = data.customer_churn(n_samples=600, duplicate_fraction=0.0, at_prediction_time=True)
    x = np.column_stack(list(table.values()))
    x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1)
    return dense(7, activation="sigmoid", loss="bce"), x[:400], y[:400], (x[400:], y[400:])


def label_feature_broken():
    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    leak = y + 0.01 * np.random.default_rng(0).normal(size=len(y))
    return dense(9, activation="sigmoid", loss="bce"), np.column_stack([x, leak]), y, None


def binary_fixed():
    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    return dense(8, activation="sigmoid", loss="bce"), x, y, None


def linear_bce_broken():
    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    return dense(8, loss="binary_crossentropy"), x, y, None


def logits_fixed():
    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    return dense(8, loss=keras.losses.BinaryCrossentropy(from_logits=True)), x, y, None


def softmax_one_unit_broken():
    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    return dense(8, activation="softmax", loss="bce"), x, y, None


def bce_labels_broken():
    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    return dense(8, activation="sigmoid", loss="bce"), x, 2 * y - 1, None


def sparse_labels_broken():
    x, y = blobs(n_classes=4)
    return dense(8, units=3, activation="softmax", loss="sparse_categorical_crossentropy"), x, y, None


def learning_rate_broken():
    x, y, _ = data.linear_regression(n_samples=200)
    return dense(10, optimizer=keras.optimizers.Adam(10.0)), x, y, None


def cce_one_unit_broken():
    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    return dense(8, activation="sigmoid", loss="categorical_crossentropy"), x, y[:, None], None


def accuracy_on_regression_broken():
    x, y, _ = data.linear_regression(n_samples=200)
    model = dense(10)
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    return model, x, y, None


def mse_classifier_broken():
    x, y = blobs()
    return dense(8, units=3, activation="softmax", loss="mse"), x, keras.utils.to_categorical(y, 3), None


def sigmoid_regression_broken():
    x, y, _ = data.linear_regression(n_samples=200)
    return dense(10, activation="sigmoid"), x, 50 + 10 * y, None


def offset_features_broken():
    x, y, _ = data.linear_regression(n_samples=200)
    return dense(10), 20_000 + 0.1 * x, y, None


def missing_flatten_broken():
    images, labels = data.bar_position_images(n_samples=64)
    model = keras.Sequential([keras.Input((12, 12)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, images.astype("float32") / 255, labels, None


def softmax_two_units_bce_fixed():
    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    return (dense(8, units=2, activation="softmax", loss="bce"), x,
            keras.utils.to_categorical(y, 2), None)


def sigmoid_cce_fixed():
    x, y = blobs()
    return (dense(8, units=3, activation="sigmoid", loss="categorical_crossentropy"), x,
            keras.utils.to_categorical(y, 3), None)


def batchnorm_pixels_fixed():
    images, labels = data.bar_position_images(n_samples=200)
    return dense((12, 12), units=10, activation="softmax", loss="sparse_categorical_crossentropy",
                 preprocessing=[keras.layers.BatchNormalization()]), images.astype("float32"), labels, None


def rare_positives_broken():
    """One row in ten positive, the output bias left at zero: a note (LOS011)."""
    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    keep = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:20]])
    return dense(8, activation="sigmoid", loss="bce"), x[keep], y[keep], None


def rare_class_broken():
    x, y = data.class_blobs(n_samples=600, n_classes=3, seed=2)
    keep = np.concatenate([np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:15]])
    return (dense(8, units=3, activation="softmax", loss="sparse_categorical_crossentropy"),
            x[keep], y[keep], None)


def rare_positives_fixed():
    """The same data with the output bias at the prior: no note."""
    import math

    model, x, y, _ = rare_positives_broken()
    share = float(np.mean(y))
    model.layers[-1].bias.assign([math.log(share / (1 - share))])
    return model, x, y, None


BROKEN = {
    "LOS008": cce_one_unit_broken, "LOS009": accuracy_on_regression_broken,
    "LOS006": mse_classifier_broken, "LOS007": sigmoid_regression_broken,
    "SCL004": offset_features_broken, "SHP003-flatten": missing_flatten_broken,
    "SHP001": shapes_broken, "SHP003": label_shape_broken, "DTY001": object_broken,
    "DTY004": int_labels_categorical_broken, "DTY005": one_hot_sparse_broken,
    "SCL001": scales_broken, "SCL002": uint8_broken, "SCL003": target_broken,
    "LEK001": duplicates_broken, "LEK002": label_feature_broken,
    "LOS001": linear_bce_broken, "LOS002": softmax_one_unit_broken,
    "LOS003": bce_labels_broken, "LOS003-sparse": sparse_labels_broken,
    "LOS004": learning_rate_broken,
}
# Programs that train, with something worth a note (never counted as a problem).
NOTED = {"SHP002": channel_broken, "DTY002": int_features_broken, "DTY003": uint8_broken,
         "LOS011": rare_positives_broken, "LOS011-sparse": rare_class_broken}
FIXED = [shapes_fixed, channel_fixed, label_shape_fixed, int_features_fixed, uint8_fixed,
         uint8_fixed_by_hand, int_labels_categorical_fixed, sparse_fixed, scales_fixed,
         duplicates_fixed, binary_fixed, logits_fixed, softmax_two_units_bce_fixed,
         sigmoid_cce_fixed, batchnorm_pixels_fixed, rare_positives_fixed]


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(0)


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_broken_example_is_flagged_with_its_code(code):
    model, x, y, validation = BROKEN[code]()
    report = checkup(model, x, y, validation_data=validation)
    assert code.split("-")[0] in report.codes, str(report)


@pytest.mark.parametrize("code", sorted(NOTED))
def test_noted_example_gets_a_note_not_a_problem(code):
    model, x, y, validation = NOTED[code]()
    report = checkup(model, x, y, validation_data=validation)
    code = code.split("-")[0]
    assert code in report.all_codes and code not in report.codes, str(report)


@pytest.mark.parametrize("build", FIXED, ids=lambda f: f.__name__)
def test_fixed_example_is_clean(build):
    model, x, y, validation = build()
    report = checkup(model, x, y, validation_data=validation)
    assert report.problems == [], str(report)


def test_an_output_bias_at_the_prior_silences_the_note_and_balanced_labels_never_get_it():
    for build in (rare_positives_fixed, binary_fixed, sparse_fixed):
        model, x, y, _ = build()
        assert "LOS011" not in checkup(model, x, y).all_codes, build.__name__
    model, x, y, _ = rare_positives_broken()
    note = next(f for f in checkup(model, x, y) if f.code == "LOS011")
    assert "label entropy" in note.message and "Constant(" in note.fix
    assert note.link == "playbook.html#output-bias-at-the-class-prior"


def test_deep_checkup_notes_a_model_that_learns_only_the_label_balance():
    """Labels shuffled apart from their rows: the trial's loss still falls, to the label
    balance and no lower, so TRN015 notes it; a model that learns its features does not."""
    from tfclinic.checkup import run_checks
    from tfclinic.checkup.context import Context

    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    y = np.concatenate([np.zeros(340), np.ones(60)]).astype("float32")
    y = np.random.default_rng(0).permutation(y)
    model = dense(8, activation="sigmoid", loss="bce", optimizer=keras.optimizers.Adam(0.05))
    report = run_checks(Context(model, x, y), deep=True, budget_s=60)
    assert "TRN015" in report.all_codes and report.problems == [], str(report)
    model, x, y, _ = binary_fixed()
    assert "TRN015" not in run_checks(Context(model, x, y), deep=True, budget_s=60).all_codes


def test_report_renders_escaped_html_and_plain_text():
    model, x, y, _ = linear_bce_broken()
    report = checkup(model, x, y)
    assert "<table>" in report._repr_html_() and "LOS001" in str(report)
    assert "losses.html#binary-cross-entropy-on-a-linear-output" in report._repr_html_()
    tricky = Report([report[0].__class__("X001", "error", "<b>&</b>", "fix", "a.html#b")])
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in tricky._repr_html_() and "<b>" not in tricky._repr_html_()
    assert str(Report()) == "checkup: no problems found."
    assert "no problems" in Report()._repr_html_()


def test_every_check_has_a_unique_code_and_a_book_link():
    codes = [entry.code for entry in REGISTRY]
    assert len(codes) == len(set(codes))
    for entry in REGISTRY:
        assert entry.code[:3] in {"SHP", "DTY", "SCL", "LEK", "LOS", "TRN"}
        assert ".html#" in entry.link and entry.function.__doc__


def test_mismatched_lengths_raise_a_clear_error():
    model, x, y, _ = shapes_fixed()
    with pytest.raises(ValueError, match=r"len\(y\) == 199"):
        checkup(model, x, y[:-1])
    with pytest.raises(ValueError, match="validation"):
        checkup(model, x, y, validation_data=(x[:5], y[:4]))
    with pytest.raises(TypeError, match="dict"):
        checkup(model, {"a": x}, y)


def test_checkup_is_the_package_attribute():
    import tfclinic

    model, x, y, _ = shapes_broken()
    assert tfclinic.checkup(model, x, y).codes == ["SHP001"]


def test_static_checks_are_fast_on_a_large_table():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100_000, 100)).astype("float32")
    y = rng.normal(size=100_000).astype("float32")
    model = dense(100)
    checkup(model, x[:10], y[:10])  # first-call costs (imports) aside
    start = time.perf_counter()
    report = checkup(model, x, y, validation_data=(x[:2000] + 1, y[:2000]))
    seconds = time.perf_counter() - start
    print(f"static checkup, 100000 x 100: {seconds:.3f} s", file=sys.stderr)
    assert report.problems == [] and seconds < 1.0


def test_deep_checkup_is_clean_on_a_fixed_model_and_leaves_it_unchanged():
    model, x, y, _ = sparse_fixed()
    weights = [w.copy() for w in model.get_weights()]
    start = time.perf_counter()
    report = checkup(model, x, y, deep=True)
    seconds = time.perf_counter() - start
    print(f"deep checkup: {seconds:.2f} s", file=sys.stderr)
    assert report.problems == [], str(report)
    assert seconds < 10
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert model.optimizer.iterations.numpy() == 0


def test_deep_report_shows_its_measurements_and_no_finding_for_a_healthy_model():
    """A clean deep report still shows what it measured: the first loss next to ln K, the
    trial's loss, the one-batch overfit and each layer's gradient norm, as text and HTML."""
    import math

    from tfclinic.checkup import run_checks
    from tfclinic.checkup.context import Context

    model, x, y, _ = sparse_fixed()
    report = run_checks(Context(model, x, y), deep=True, budget_s=60)
    assert report.problems == [], str(report)
    rows = {m.name: m for m in report.measurements}
    first = rows["first loss"]
    k = model.output_shape[-1]
    assert f"ln {k} = {math.log(k):.3g}" in first.expected
    assert abs(float(first.found) - math.log(k)) < 1.0  # the number is the model's, near ln K
    trained = next(m for name, m in rows.items() if name.startswith("loss after"))
    before, after = (float(v) for v in trained.found.split(" -> "))
    assert after < before
    assert rows["one batch of 32 (overfit test)"].found.startswith("not needed")
    baseline = float(rows["loss of the trained copy on all-zero inputs (baseline)"].found)
    assert baseline > after  # it uses its inputs
    norms = {name.removeprefix("gradient norm, layer "): float(m.found)
             for name, m in rows.items() if name.startswith("gradient norm")}
    assert sorted(norms) == sorted(layer.name for layer in model.layers if layer.trainable_weights)
    assert all(value > 0 for value in norms.values())
    text, page = str(report), report._repr_html_()
    assert text.startswith("checkup: no problems found") and "measured on a copy" in text
    assert f"first loss: {first.found}" in text
    assert "tfclinic-measurements" in page and "<td>first loss</td>" in page
    assert "no problems found" in page


def test_measurements_only_with_deep_and_a_stalled_model_still_gets_its_finding():
    model, x, y, _ = sparse_fixed()
    assert checkup(model, x, y).measurements == []
    assert "measured on a copy" not in str(checkup(model, x, y))
    from tfclinic.checkup import run_checks
    from tfclinic.checkup.context import Context

    x2, y2 = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    frozen = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
    frozen.layers[-1].trainable = False
    frozen.compile(optimizer="adam", loss="bce")
    report = run_checks(Context(frozen, x2, y2), deep=True, budget_s=60)
    assert "TRN001" in report.codes
    rows = {m.name: m for m in report.measurements}
    one_batch = next(m for name, m in rows.items() if name.startswith("one batch"))
    start, end = (float(v) for v in one_batch.found.split(" -> "))
    assert end > 0.98 * start  # the measurement shows the stall the finding names


def test_deep_checkup_flags_a_model_that_cannot_learn():
    x, y = data.class_blobs(n_samples=400, n_classes=2, seed=2)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].trainable = False  # a frozen model: nothing can change its loss
    model.compile(optimizer="adam", loss="bce")
    from tfclinic.checkup import run_checks
    from tfclinic.checkup.context import Context

    # a generous time budget: this asks whether the trial names a frozen model, not how fast
    report = run_checks(Context(model, x, y), deep=True, budget_s=60)
    assert "TRN001" in report.codes, str(report)


@pytest.mark.parametrize("build", [shapes_fixed, sparse_fixed, binary_fixed, scales_fixed],
                         ids=lambda f: f.__name__)
def test_deep_checkup_is_clean_with_the_default_optimizer(build):
    model, x, y, _ = build()
    model.compile(optimizer="adam", loss=model.loss)
    report = checkup(model, x, y, deep=True)
    assert report.problems == [], str(report)


def test_nan_in_the_data_is_an_error_before_any_training():
    x, y, _ = data.linear_regression(n_samples=200)
    y[3] = np.nan  # a NaN feature can vanish in a relu; a NaN label cannot
    assert "DTY008" in checkup(dense(10), x, y).codes


def test_deep_checkup_flags_a_loss_that_overflows():
    x, y, _ = data.linear_regression(n_samples=200)
    report = checkup(dense(10, optimizer=keras.optimizers.SGD(1e3)), 1e3 * x, y, deep=True)
    assert "TRN002" in report.codes, str(report)


def test_deep_checkup_flags_a_first_loss_far_from_ln_k():
    x, y = blobs(n_classes=3)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(
        3, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(stddev=20))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert "LOS005" in checkup(model, x, y, deep=True).codes


SCRIPT = """
import sys
import keras
from tfclinic import data

x, y, _ = data.linear_regression(n_samples=64, n_features={features})
model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=1, verbose=0)
print("trained", sys.argv[1:])
"""


@pytest.mark.parametrize("features, strict, status, trained", [
    (10, True, 0, True), (5, False, None, False), (5, True, 1, False)])
def test_run_script_checks_the_first_fit(tmp_path, capsys, features, strict, status, trained):
    from tfclinic.checkup.script import run_script

    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(features=features))
    fit = keras.Model.fit
    try:
        result = run_script(script, ["--epochs", "1"], strict=strict)
    except ValueError:  # without --strict the broken script goes on, and fit itself fails
        result = None
    out = capsys.readouterr().out
    assert keras.Model.fit is fit
    assert result == status
    assert ("no problems found" in out) == (features == 10)
    assert ("SHP001" in out) == (features != 10)
    assert ("trained ['--epochs', '1']" in out) == trained


def test_callback_reports_nan_and_a_stalled_loss():
    from tfclinic.checkup import CheckupCallback

    x, y, _ = data.linear_regression(n_samples=64)
    bad = y.copy()
    bad[0] = np.nan
    watcher = CheckupCallback(stream=None)
    dense(10).fit(x, bad, epochs=3, verbose=0, callbacks=[watcher])
    assert watcher.report.codes == ["TRN003"]
    watcher = CheckupCallback(stream=None)
    dense(10, optimizer=keras.optimizers.SGD(1e-9)).fit(x, y, epochs=4, verbose=0, callbacks=[watcher])
    assert watcher.report.codes == ["TRN010"]  # a learning rate far too low
    watcher = CheckupCallback(stream=None)
    dense(10).fit(x, y, epochs=30, verbose=0, callbacks=[watcher])
    assert watcher.report.problems == [], str(watcher.report)


def _gradient_net(layers, activation="relu", init="glorot_uniform", bias="zeros"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input(shape=(8,))]
        + [keras.layers.Dense(32, activation=activation, kernel_initializer=init,
                              bias_initializer=bias) for _ in range(layers)]
        + [keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    x, y = data.class_blobs(n_samples=256, n_features=8, n_classes=2, seed=0)[:2]
    return model, ((x - x.mean(0)) / x.std(0)).astype("float32"), y.astype("float32")


GRADIENT_CASES = {
    "dead relus": dict(layers=3, bias=keras.initializers.Constant(-100.0)),
    "vanishing through 12 sigmoids": dict(layers=12, activation="sigmoid"),
    "exploding initialisation": dict(layers=4, init=keras.initializers.RandomNormal(stddev=3.0)),
}


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_deep_checkup_names_bad_gradients_at_initialisation(case):
    model, x, y = _gradient_net(**GRADIENT_CASES[case])
    report = checkup(model, x, y, deep=True)
    assert "TRN006" in report.all_codes, str(report)
    # exactly zero is a warning; vanishing or exploding norms only a note (healthy nets too)
    assert ("TRN006" in report.codes) == (case == "dead relus")


def test_deep_checkup_finds_healthy_gradients_clean():
    model, x, y = _gradient_net(layers=3)
    assert checkup(model, x, y, deep=True).codes == []


def test_callback_watches_gradient_norms_during_training():
    from tfclinic.checkup import CheckupCallback

    model, x, y = _gradient_net(**GRADIENT_CASES["vanishing through 12 sigmoids"])
    watch = CheckupCallback(sample=(x[:32], y[:32]), stream=None)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[watch])
    assert "TRN007" in watch.report.all_codes
    healthy, x, y = _gradient_net(layers=3)
    watch = CheckupCallback(sample=(x[:32], y[:32]), stream=None)
    healthy.fit(x, y, epochs=2, verbose=0, callbacks=[watch])
    assert "TRN007" not in watch.report.all_codes


def test_deep_trial_keeps_the_normalization_the_model_was_adapted_with():
    """Keras 3.15's clone_model + set_weights leaves a Normalization layer passing raw values."""
    from tfclinic.checkup.checks_deep import trial
    from tfclinic.checkup.context import Context

    model, x, y, _ = scales_fixed()
    assert max(trial(Context(model, x, y, None))["norms"].values()) < 100


def test_validation_split_on_sorted_classes_is_flagged_and_shuffled_is_not():
    from tfclinic.checkup import run_checks
    from tfclinic.checkup.context import Context

    x, y = blobs()
    order = np.argsort(y, kind="stable")
    model = dense(8, units=3, activation="softmax", loss="sparse_categorical_crossentropy")
    facts = {"validation_split": 0.2}
    assert "LEK003" in run_checks(Context(model, x[order], y[order], fit=facts)).codes
    assert "LEK003" not in run_checks(Context(model, x, y, fit=facts)).codes


def test_python_lists_are_an_error_and_arrays_are_not():
    from tfclinic.checkup import run_checks
    from tfclinic.checkup.context import Context

    x, y, _ = data.linear_regression(n_samples=50)
    model = dense(10)
    listed = run_checks(Context(model, x.tolist(), y.tolist(), fit={"source": "list"}))
    assert listed.codes.count("DTY006") == 2
    assert "DTY006" not in run_checks(Context(model, x, y)).codes


def test_a_regression_on_small_integer_counts_is_not_called_a_classifier():
    x, _, _ = data.linear_regression(n_samples=300)
    y = np.clip(np.round(4 + 2 * x[:, 0]), 0, 8)
    report = checkup(dense(10), x, y)
    assert report.problems == [], str(report)
