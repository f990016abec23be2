"""Practice checks for the scaling notebook: other column counts and other units."""

import numpy as np

from . import draw_excluding

FUNCTIONS = ("make_pipeline",)


def _model_inputs(prepare, model, x):
    """What the first Dense layer of ``model`` receives for raw features ``x``."""
    import keras

    values = np.asarray(prepare(x), dtype="float32")
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            break
        values = np.asarray(layer(values))
    return values


def check_pipeline_scales_other_columns(ns, rng):
    n_features = draw_excluding(rng, 2, 9, [4])
    scales = 10.0 ** rng.uniform(-3, 4, size=n_features)
    offsets = rng.normal(size=n_features) * scales * 5
    x_train = (rng.normal(size=(300, n_features)) * scales + offsets).astype("float32")
    prepare, model = ns["make_pipeline"](x_train)
    if tuple(model.input_shape) != (None, n_features):
        return f"make_pipeline on {n_features} columns built a model for inputs {tuple(model.input_shape)}"
    seen = _model_inputs(prepare, model, x_train)
    spread = seen.std(axis=0)
    if not (np.all(spread > 0.05) and np.all(spread < 20) and np.all(np.abs(seen.mean(axis=0)) < 20)):
        return (f"on columns with scales {np.round(scales, 3).tolist()}, the network still sees "
                f"columns with standard deviations {np.round(spread, 3).tolist()}")
    return None


def check_pipeline_uses_the_rows_it_is_given(ns, rng):
    n_features = draw_excluding(rng, 2, 9, [4])
    x_train = (rng.normal(size=(200, n_features)) * 50 + 1000).astype("float32")
    first = _model_inputs(*ns["make_pipeline"](x_train), x_train[:5])
    shifted = np.concatenate([x_train, x_train[:1] * 0 + 1e6])  # one far-off row added
    second = _model_inputs(*ns["make_pipeline"](x_train), x_train[:5])
    if not np.allclose(first, second, atol=1e-3):
        return "make_pipeline gave two different scalings for the same training rows"
    third = _model_inputs(*ns["make_pipeline"](shifted), x_train[:5])
    if np.allclose(first, third, atol=1e-3):
        return "the scaling did not change when the training rows changed: are its statistics fixed numbers?"
    return None


CHECKS = (check_pipeline_scales_other_columns, check_pipeline_uses_the_rows_it_is_given)
