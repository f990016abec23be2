"""Small synthetic data sets: fast to make, seeded, and with a known right answer.

Every generator takes a ``seed`` and returns float32 NumPy arrays, so a lesson can show a
failure on one draw and a hidden test can check the fix on another.
"""

import numpy as np


def linear_regression(n_samples=512, n_features=10, noise=0.1, seed=0):
    """Draw ``y = x @ w + noise`` with standard-normal features.

    Args:
        n_samples: rows to draw.
        n_features: columns of ``x``.
        noise: standard deviation of the Gaussian noise added to ``y``.
        seed: seed of the generator.

    Returns:
        ``(x, y, w)``: ``x`` of shape (n_samples, n_features), ``y`` of shape (n_samples,)
        and the true weights ``w`` of shape (n_features,), all float32.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_samples, n_features)).astype("float32")
    w = rng.normal(size=n_features).astype("float32")
    y = (x @ w + noise * rng.normal(size=n_samples)).astype("float32")
    return x, y, w


def sensor_table(n_samples=512, n_sensors=10, noise=0.1, seed=0):
    """A table of named sensor columns and a target that depends linearly on them.

    This is the raw form data often arrives in: one 1-D array per column, as from a CSV
    reader or a dict of pandas columns, which the learner must turn into a feature matrix.

    Returns:
        ``(table, y)``: ``table`` maps ``"sensor_00"``... to arrays of shape (n_samples,),
        in column order; ``y`` has shape (n_samples,).
    """
    x, y, _ = linear_regression(n_samples, n_sensors, noise, seed)
    table = {f"sensor_{j:02d}": x[:, j].copy() for j in range(n_sensors)}
    return table, y


def digit_like_images(n_samples=256, size=12, seed=0):
    """Grey-scale images (no channel axis) of a bright horizontal or vertical bar.

    Returns:
        ``(images, labels)``: images of shape (n_samples, size, size) with values in [0, 1],
        and integer labels of shape (n_samples,): 0 for a horizontal bar, 1 for a vertical one.
    """
    rng = np.random.default_rng(seed)
    images = 0.1 * rng.random((n_samples, size, size)).astype("float32")
    labels = rng.integers(0, 2, size=n_samples)
    positions = rng.integers(1, size - 1, size=n_samples)
    for image, label, position in zip(images, labels, positions):
        if label == 0:
            image[position, :] = 1.0
        else:
            image[:, position] = 1.0
    return images, labels.astype("int64")


CHURN_COLUMNS = ("tenure_months", "monthly_fee", "support_calls", "logins_per_week",
                 "late_payments", "discount_percent", "refund_issued")


def customer_churn(n_samples=1000, duplicate_fraction=0.25, at_prediction_time=False, seed=0):
    """A customer table as a CRM export gives it, with the label ``churned`` (0 or 1).

    Three things in it leak, as they do in real exports:

    - ``duplicate_fraction`` of the rows are exact copies of other rows, label included
      (the same customer exported twice), in random positions.
    - ``refund_issued`` is filled in *after* a customer cancels: it is 1 for most churned
      customers and 0 for all others. At prediction time nobody has cancelled yet, so with
      ``at_prediction_time=True`` the column is 0 for everyone, as it is in use.
    - The other six columns are on very different scales (months, euros, counts).

    The label depends on the six honest columns through a noisy logistic model, so the best
    possible accuracy without ``refund_issued`` is about 0.8.

    Args:
        n_samples: rows, copies included.
        duplicate_fraction: share of the rows that are copies of other rows, in [0, 1).
        at_prediction_time: give ``refund_issued`` the value it has when predicting (0).
        seed: seed of the generator.

    Returns:
        ``(table, churned)``: ``table`` maps the names in ``CHURN_COLUMNS`` to float32
        arrays of shape (n_samples,); ``churned`` is int64 of shape (n_samples,).
    """
    if not 0 <= duplicate_fraction < 1:
        raise ValueError(f"duplicate_fraction must be in [0, 1), received {duplicate_fraction}.")
    rng = np.random.default_rng(seed)
    n_unique = n_samples - int(round(duplicate_fraction * n_samples))
    z = rng.normal(size=(n_unique, 6))
    tenure = np.clip(np.round(np.exp(2.8 + 0.9 * z[:, 0])), 1, 120)
    fee = np.round(25 + 60 / (1 + np.exp(-z[:, 1])), 2)
    calls = rng.poisson(np.exp(0.4 + 0.6 * z[:, 2]))
    logins = np.round(np.exp(1.5 + 0.7 * z[:, 3]), 1)
    late = rng.poisson(np.exp(-0.5 + 0.8 * z[:, 4]))
    discount = np.round(np.clip(10 + 8 * z[:, 5], 0, 40))
    logit = (-1.2 * (np.log(tenure) - 2.8) / 0.9 + 0.5 * (fee - 55) / 15
             + 0.6 * (calls - 1.8) / 1.5 - 0.7 * (np.log(logins) - 1.5) / 0.7
             + 0.5 * (late - 0.8) / 0.9 - 0.3 * (discount - 10) / 8)
    churned = (rng.random(n_unique) < 1 / (1 + np.exp(-1.5 * logit))).astype("int64")
    refund = churned * (rng.random(n_unique) < 0.85)
    if at_prediction_time:
        refund = np.zeros(n_unique)
    rows = np.column_stack([tenure, fee, calls, logins, late, discount, refund]).astype("float32")
    copies = rng.integers(0, n_unique, size=n_samples - n_unique)
    order = rng.permutation(n_samples)
    rows = np.concatenate([rows, rows[copies]])[order]
    churned = np.concatenate([churned, churned[copies]])[order]
    return {name: rows[:, j].copy() for j, name in enumerate(CHURN_COLUMNS)}, churned


def sensor_days(n_days=1100, seed=0):
    """A machine's daily output, in time order, from four sensor readings and a hidden drift.

    The sensors wander slowly (an AR(1) process with coefficient 0.97), and so does a part of
    the output that no sensor measures (wear, coefficient 0.98). Neighbouring days are
    therefore near-copies of each other, features and label alike: a random split puts a
    near-copy of almost every test day into the training set.

    Returns:
        ``(x, y)``: float32 sensors of shape (n_days, 4) and output of shape (n_days,),
        row ``t`` being day ``t``.
    """
    rng = np.random.default_rng(seed)
    sensors, wear = np.zeros((n_days, 4)), np.zeros(n_days)
    for t in range(1, n_days):
        sensors[t] = 0.97 * sensors[t - 1] + np.sqrt(1 - 0.97**2) * rng.normal(size=4)
        wear[t] = 0.98 * wear[t - 1] + np.sqrt(1 - 0.98**2) * rng.normal()
    y = sensors @ np.array([1.0, -0.5, 0.5, 0.0]) + wear + 0.2 * rng.normal(size=n_days)
    return sensors.astype("float32"), y.astype("float32")


def integer_classification(n_samples=1000, n_features=10, high=100, seed=0):
    """Integer features and 0/1 labels, both int32, as a CSV of counts would give them.

    The label says whether a fixed weighted sum of the (centred) features is positive, so a
    small network can learn it; the features are whole numbers in ``[0, high)``.

    Returns:
        ``(x, y)``: ``x`` int32 of shape (n_samples, n_features), ``y`` int32 of shape
        (n_samples,) holding 0 or 1.
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(0, high, size=(n_samples, n_features))
    w = rng.normal(size=n_features)
    y = ((x - (high - 1) / 2) @ w > 0).astype("int32")
    return x.astype("int32"), y


def camera_frames(n_samples=256, size=8, seed=0):
    """Raw uint8 camera data: two exposures of each scene, and labels as a text file gives them.

    Each scene is dark noise (0 to 60 per exposure) with one bright 2x2 spot (150 to 230 per
    exposure), so adding the two exposures of a spot pixel goes past 255. The label is 1
    when the spot lies in the top half of the image and 0 when it lies in the bottom half.

    Returns:
        ``(frames, labels)``: ``frames`` uint8 of shape (n_samples, 2, size, size) and
        ``labels`` float64 of shape (n_samples,) holding 0.0 or 1.0 (the dtype ``np.loadtxt``
        gives a column of class ids).
    """
    if size < 4 or size % 2:
        raise ValueError(f"camera_frames needs an even size of at least 4, received {size}.")
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 60, size=(n_samples, 2, size, size), endpoint=True).astype("uint8")
    half = size // 2
    labels = rng.integers(0, 2, size=n_samples)
    rows = np.where(labels == 1, rng.integers(0, half - 1, size=n_samples),
                    rng.integers(half, size - 1, size=n_samples))
    cols = rng.integers(0, size - 1, size=n_samples)
    for frame, row, col in zip(frames, rows, cols):
        frame[:, row:row + 2, col:col + 2] = rng.integers(150, 230, size=(2, 2, 2), endpoint=True)
    return frames, labels.astype("float64")


def class_blobs(n_samples=512, n_features=8, n_classes=3, separation=4.0, seed=0):
    """Balanced classes, each a Gaussian cloud around its own centre, features standardized.

    Every class has the same number of samples (give or take one), so an untrained
    classifier that spreads its probability evenly starts at a cross-entropy of
    ``ln(n_classes)``. The noise around each centre has unit variance and, when
    ``n_classes <= n_features``, every two centres are ``separation`` apart (before
    standardizing), so ``separation`` alone sets how hard the classes are to tell apart.

    Returns:
        ``(x, labels)``: standardized float32 features of shape (n_samples, n_features) and
        int64 class labels in ``0 .. n_classes - 1`` of shape (n_samples,).
    """
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(max(n_classes, n_features), n_features))
    if n_classes <= n_features:  # orthonormal directions: equal distances between centres
        directions = np.linalg.qr(directions.T)[0].T
    directions = directions[:n_classes] / np.linalg.norm(directions[:n_classes], axis=1,
                                                         keepdims=True)
    labels = np.arange(n_samples) % n_classes
    rng.shuffle(labels)
    centres = separation / np.sqrt(2) * directions
    x = centres[labels] + rng.normal(size=(n_samples, n_features))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x.astype("float32"), labels.astype("int64")


def mixed_scale_regression(n_samples=800, scales=(0.01, 1.0, 100.0, 10000.0), offsets=None,
                           noise=0.1, seed=0):
    """Features measured in units whose ranges differ by orders of magnitude, and a target
    that depends on every one of them equally.

    Column ``j`` is ``offsets[j] + scales[j] * z[:, j]`` with ``z`` standard normal, and
    ``y = sum_j (-1)**j * z[:, j] + noise``. Standardized, every feature explains the same
    share of ``y``; in raw units the right weight for column ``j`` is ``(-1)**j / scales[j]``.

    Args:
        n_samples: rows to draw.
        scales: the standard deviation of each column, in its own units.
        offsets: the mean of each column; by default ``5 * scales`` (positive readings).
        noise: standard deviation of the Gaussian noise added to ``y``.
        seed: seed of the generator.

    Returns:
        ``(x, y)``: float32 features of shape (n_samples, len(scales)) and a float32 target of
        shape (n_samples,).
    """
    scales = np.asarray(scales, dtype="float64")
    offsets = 5.0 * scales if offsets is None else np.asarray(offsets, dtype="float64")
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n_samples, len(scales)))
    signs = np.where(np.arange(len(scales)) % 2 == 0, 1.0, -1.0)
    y = z @ signs + noise * rng.normal(size=n_samples)
    return (offsets + scales * z).astype("float32"), y.astype("float32")


def bar_position_images(n_samples=500, size=12, n_classes=10, noise=0.5, seed=0):
    """Noisy grey-scale images as they come from disk: ``uint8`` pixels from 0 to 255.

    Each image holds one faint vertical bar on a noisy background; the label is the bar's
    column, one of ``n_classes`` (which must be at most ``size - 2``).

    Returns:
        ``(images, labels)``: ``uint8`` images of shape (n_samples, size, size) and integer
        labels of shape (n_samples,).
    """
    if not 1 <= n_classes <= size - 2:
        raise ValueError(f"n_classes must be between 1 and size - 2 = {size - 2}, received {n_classes}.")
    rng = np.random.default_rng(seed)
    images = noise * rng.random((n_samples, size, size))
    labels = rng.integers(0, n_classes, size=n_samples)
    images[np.arange(n_samples), :, labels + 1] += 0.5
    return np.round(np.clip(images, 0.0, 1.0) * 255).astype("uint8"), labels.astype("int64")
