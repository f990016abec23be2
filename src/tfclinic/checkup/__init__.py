"""The automatic checkup: name what is wrong with a model and its data before training.

Example:
    >>> import tfclinic
    >>> report = tfclinic.checkup(model, x_train, y_train, validation_data=(x_val, y_val))
    >>> report          # a table in a notebook, plain text in a terminal
    >>> report.codes    # e.g. ['SHP001']

Each check is a small function in ``checks_<chapter>.py`` registered in
``findings.REGISTRY``; see ``findings.check``.
"""

import sys
import types

from . import checks_dtypes, checks_leakage, checks_losses, checks_scaling, checks_shapes  # noqa: F401
from . import checks_deep  # noqa: F401  (registered last: it runs only when nothing is broken)
from .context import Context
from .findings import BOOK_BASE, ERROR, REGISTRY, WARNING, Finding, Report

__all__ = ["BOOK_BASE", "ERROR", "REGISTRY", "WARNING", "CheckupCallback", "Finding", "Report",
           "checkup"]


def checkup(model, x, y, validation_data=None, deep=False):
    """Inspect a compiled Keras model and its training data; list what will go wrong.

    Args:
        model: a Keras model, compiled (loss and optimizer checks need ``compile``).
        x: training features, one array (NumPy, pandas or a tensor).
        y: training labels, one per sample.
        validation_data: optional ``(x_val, y_val)``, checked for rows shared with x.
        deep: also run the model: its first loss, and whether a clone of it can overfit one
            batch of 32 samples without NaN (a few seconds). Deep checks run only when the
            static ones found no error. The model's weights are never changed.

    Returns:
        A :class:`Report` (a list of :class:`Finding`, errors first), empty when nothing is
        wrong.

    Raises:
        ValueError: when x and y (or the validation pair) hold different numbers of samples.
        TypeError: when x or y is not an array (a dict of inputs, a tf.data.Dataset).
    """
    ctx = Context(model, x, y, validation_data)
    findings = []
    for entry in REGISTRY:
        if entry.deep and (not deep or any(f.severity == ERROR for f in findings)):
            continue
        for severity, message, fix in entry.function(ctx) or ():
            findings.append(entry.finding(severity, message, fix))
    findings.sort(key=lambda f: f.severity != ERROR)
    return Report(findings)


def __getattr__(name):
    if name == "CheckupCallback":
        from .callback import CheckupCallback

        return CheckupCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """Importing ``tfclinic.checkup.script`` makes ``tfclinic.checkup`` this module; calling
    it still runs the checkup, so ``tfclinic.checkup(model, x, y)`` always works."""

    def __call__(self, *args, **kwargs):
        return checkup(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
