"""Practice checks for the losses notebook: other feature and class counts."""

import math

import numpy as np

from . import draw_excluding

FUNCTIONS = ("build_binary_classifier", "prepare_labels", "build_multiclass_classifier",
             "expected_initial_loss", "build_regressor")


def _builder_for_other_sizes(ns, rng, name, task):
    """Build ``name`` for a feature count the notebook never uses; check its input and pairing."""
    from tfclinic.training import pairing_problems

    n = draw_excluding(rng, 2, 20, [8])
    model = ns[name](n)
    if tuple(model.input_shape) != (None, n):
        return f"{name}({n}) expects inputs {tuple(model.input_shape)}"
    problems = pairing_problems(model, task)
    return "; ".join(problems) if problems else None


def check_binary_classifier_for_other_sizes(ns, rng):
    return _builder_for_other_sizes(ns, rng, "build_binary_classifier", "binary")


def check_multiclass_for_other_class_counts(ns, rng):
    from tfclinic.training import pairing_problems

    n, k = draw_excluding(rng, 2, 20, [8]), draw_excluding(rng, 3, 12, [4])
    labels = np.asarray(ns["prepare_labels"](rng.integers(0, k, size=50), k))
    kind = "categorical" if labels.ndim == 2 and labels.shape[1] == k else "sparse"
    model = ns["build_multiclass_classifier"](n, k)
    if tuple(model.output_shape) != (None, k):
        return f"build_multiclass_classifier({n}, {k}) has outputs {tuple(model.output_shape)}, expected (None, {k})"
    problems = pairing_problems(model, kind)
    return f"with {k} classes and {kind} labels {labels.shape}: " + "; ".join(problems) if problems else None


def check_initial_loss_for_other_class_counts(ns, rng):
    for k in (draw_excluding(rng, 3, 30, [4]), draw_excluding(rng, 31, 500, [100])):
        value = float(ns["expected_initial_loss"](k))
        if not math.isclose(value, math.log(k), rel_tol=1e-4):
            return f"expected_initial_loss({k}) returned {value:.4f}; an untrained model scores about {math.log(k):.4f}"
    return None


def check_regressor_for_other_sizes(ns, rng):
    return _builder_for_other_sizes(ns, rng, "build_regressor", "regression")


CHECKS = (check_binary_classifier_for_other_sizes, check_multiclass_for_other_class_counts,
          check_initial_loss_for_other_class_counts, check_regressor_for_other_sizes)
