"""One place that prepares a Python process for a lesson: quiet logs and a fixed seed.

Every notebook and book chapter starts with ``SEED = begin()``. The grader chooses the seed
through the ``TFCLINIC_SEED`` environment variable, so hidden tests can run a student's
functions on data nobody has seen before while every run stays reproducible.
"""

import os
import warnings

SEED_VARIABLE = "TFCLINIC_SEED"
FULL_TRACEBACKS_VARIABLE = "TFCLINIC_FULL_TRACEBACKS"  # "1": IPython's stock tracebacks
DEFAULT_SEED = 42

# TensorFlow reads these when it is first imported; they must be set before that import.
_QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # C++ INFO/WARNING/ERROR lines on stderr
    "TF_ENABLE_ONEDNN_OPTS": "0",  # the oneDNN banner, and bit-identical CPU results
}


def quiet_environment():
    """Return the environment variables that keep TensorFlow's startup logs off stderr."""
    return dict(_QUIET_ENVIRONMENT)


def lesson_seed():
    """Return the seed chosen by the grader (``TFCLINIC_SEED``), or the default one.

    Raises:
        ValueError: if the variable is set but is not an integer.
    """
    raw = os.environ.get(SEED_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_SEED
    try:
        return int(raw)
    except ValueError:
        raise ValueError(
            f"{SEED_VARIABLE} must be an integer, received {raw!r}. "
            f"Unset it to use the default seed {DEFAULT_SEED}."
        ) from None


def begin(seed=None):
    """Quiet TensorFlow, import Keras and seed Python, NumPy and TensorFlow.

    Under IPython it also shows errors the readable way (:mod:`tfclinic.display`): the
    frames of the notebook's own cells, then the error type and its full message, without
    library internals or machine paths (``%tb`` still prints every frame); warnings show as
    ``Category: message``. Set ``TFCLINIC_FULL_TRACEBACKS=1`` to keep IPython's own.

    Args:
        seed: the seed to use; by default ``lesson_seed()``.

    Returns:
        The seed that was set, so notebooks can pass it on to the data generators.

    Example:
        >>> from tfclinic.runtime import begin
        >>> SEED = begin()
    """
    for name, value in _QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import keras  # imported here so that the variables above are in place first
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    if os.environ.get(FULL_TRACEBACKS_VARIABLE, "").strip() != "1":
        from .display import install

        install()
    seed = lesson_seed() if seed is None else int(seed)
    keras.utils.set_random_seed(seed)
    return seed
