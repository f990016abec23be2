"""Practice checks for the leakage notebook: other customers, other sizes."""

import numpy as np

from . import draw_excluding

FUNCTIONS = ("choose_features", "split_rows", "fit_model")


def check_choose_features_on_other_customers(ns, rng):
    from tfclinic.data import customer_churn

    n = draw_excluding(rng, 120, 700, [1000])
    table, churned = customer_churn(n_samples=n, seed=int(rng.integers(10_000, 20_000)))
    x = np.asarray(ns["choose_features"](table))
    if x.shape != (len(churned), len(table) - 1):
        return f"choose_features on {len(churned)} customers returned shape {x.shape}, expected {(len(churned), len(table) - 1)}"
    refund = np.asarray(table["refund_issued"], "float64")
    for j in range(x.shape[1]):
        if np.std(x[:, j]) > 0 and abs(np.corrcoef(x[:, j], refund)[0, 1]) > 0.95:
            return f"column {j} of choose_features is refund_issued, known only after a customer left"
    return None


def check_split_rows_on_other_data(ns, rng):
    from tfclinic.leakage import shared_rows

    n, fraction = draw_excluding(rng, 80, 400, []), float(rng.choice([0.2, 0.3, 0.4]))
    x = rng.integers(0, 5, size=(n, 3)).astype("float32")  # few values: many duplicate rows
    y = (x.sum(axis=1) > 6).astype("int32")
    x_train, x_test, y_train, y_test = ns["split_rows"](x, y, test_fraction=fraction, seed=int(rng.integers(100)))
    if len(shared_rows(np.asarray(x_train), np.asarray(x_test))):
        return f"with test_fraction={fraction}, {len(shared_rows(np.asarray(x_train), np.asarray(x_test)))} rows occur in both parts"
    distinct = len(np.unique(x, axis=0))
    share = len(np.unique(np.asarray(x_test), axis=0)) / distinct
    if abs(share - fraction) > 0.1:
        return f"asked for test_fraction={fraction}, the test part holds {share:.2f} of the distinct rows"
    return None


CHECKS = (check_choose_features_on_other_customers, check_split_rows_on_other_data)
