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
    # Read by the notebooks' setup cell (tfclinic.course.setup_cell): validate, the grader and the
    # book build run notebooks where tfclinic is installed and no network is allowed.
    "TFCLINIC_NO_INSTALL": "1",
}


def quiet_environment():
    """Return the environment of a process tfclinic runs notebooks in: TensorFlow's startup
    logs kept off stderr, and the setup cell told not to install anything."""
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
    global _VERSIONS_TOLD
    if not _VERSIONS_TOLD:
        _VERSIONS_TOLD = True
        note = version_note({"tensorflow": tf.__version__, "keras": keras.__version__})
        if note:
            print(note)
    return seed


_VERSIONS_TOLD = False  # begin() says it once per process, however often a notebook calls it


def pinned_versions():
    """The versions the course pins, ``{"tensorflow": SpecifierSet, "keras": SpecifierSet}``,
    read from tfclinic's installed metadata (its ``cpu`` and ``gpu`` extras); ``{}`` when
    tfclinic has no metadata (a source tree on ``sys.path``)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    try:
        requirements = [Requirement(line) for line in requires("tfclinic") or []]
    except PackageNotFoundError:
        return {}
    pins = {}
    for requirement in requirements:
        name = "tensorflow" if requirement.name in ("tensorflow", "tensorflow-cpu") else requirement.name
        if name in ("tensorflow", "keras") and requirement.specifier:
            pins.setdefault(name, requirement.specifier)
    return pins


def version_note(running, pins=None):
    """One line saying the running TensorFlow or Keras differ from the pinned ones, or ``None``.

    Args:
        running: ``{"tensorflow": "2.19.0", "keras": "3.8.0"}``, the versions in this process.
        pins: the pins; by default :func:`pinned_versions`.

    Example:
        >>> from packaging.specifiers import SpecifierSet
        >>> version_note({"tensorflow": "2.19.0", "keras": "3.15.1"},
        ...              {"tensorflow": SpecifierSet("==2.21.*"), "keras": SpecifierSet("==3.15.*")})
        'tfclinic: this runtime has TensorFlow 2.19.0 and Keras 3.15.1; the book was built with TensorFlow ==2.21.* and Keras ==3.15.*, so results may differ from the book.'
    """
    pins = pinned_versions() if pins is None else pins
    names = {"tensorflow": "TensorFlow", "keras": "Keras"}
    checked = [name for name in names if name in pins and name in running]
    if all(pins[name].contains(running[name], prereleases=True) for name in checked):
        return None
    have = " and ".join(f"{names[name]} {running[name]}" for name in checked)
    built = " and ".join(f"{names[name]} {pins[name]}" for name in checked)
    return (f"tfclinic: this runtime has {have}; the book was built with {built}, "
            "so results may differ from the book.")
