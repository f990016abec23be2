"""The automatic checkup: name what is wrong with a model and its data before training.

Example:
    >>> import tfclinic
    >>> report = tfclinic.checkup(model, x_train, y_train, validation_data=(x_val, y_val))
    >>> report          # a table in a notebook, plain text in a terminal
    >>> report.codes    # e.g. ['SHP001']

Each check is a small function in ``checks_<chapter>.py`` registered in
``findings.REGISTRY``; see ``findings.check``. Errors a program raises are explained by the
crash registry in ``checks_crashes.py``. ``tfclinic checkup script.py`` (``script.py``) runs a
program unchanged and checks each way it trains; ``watch`` is the one-line hook for a
custom training loop.
"""

import sys
import types

from . import checks_dtypes, checks_leakage, checks_losses, checks_scaling, checks_shapes  # noqa: F401
from . import checks_training  # noqa: F401
from . import checks_deep  # noqa: F401  (registered last: it runs only when nothing is broken)
from .context import Context
from .findings import BOOK_BASE, ERROR, INFO, REGISTRY, WARNING, Finding, Report, run_all

__all__ = ["BOOK_BASE", "ERROR", "INFO", "REGISTRY", "WARNING", "CheckupCallback", "Finding",
           "Report", "checkup", "watch", "watch_report"]

# The deep trial stops after this many seconds of training and says so (a note), so the
# checkup never holds up a program for long.
DEEP_BUDGET_S = 1.5


def run_checks(ctx, deep=False, budget_s=DEEP_BUDGET_S):
    """Run every registered check on ``ctx``; an internal failure becomes a note in
    ``report.internal``, never an exception."""
    ctx.budget_s = budget_s

    def skip(entry, findings):
        if entry.deep and (not deep or any(f.severity == ERROR for f in findings)):
            return True
        return entry.needs_y and ctx.y is None

    report = run_all(REGISTRY, ctx, skip)
    if deep:
        report.measurements = checks_deep.measurements(ctx)
    return report


def checkup(model, x, y, validation_data=None, deep=False):
    """Inspect a compiled Keras model and its training data; list what will go wrong.

    Args:
        model: a Keras model, compiled (loss and optimizer checks need ``compile``).
        x: training features, one array (NumPy, pandas, a tensor or a Python list).
        y: training labels, one per sample.
        validation_data: optional ``(x_val, y_val)``, checked for rows shared with x.
        deep: also run the model on a copy of it: its first loss, a short training run at
            its own learning rate on batches drawn across the data (loss rising, NaN, dead
            units), and whether it can learn one batch at all; capped at ``DEEP_BUDGET_S``
            seconds of training (a note says when the cap cut it short). Deep checks run only
            when the static ones found no error. The model's weights are never changed.

    Returns:
        A :class:`Report` (a list of :class:`Finding`, errors first, notes last); its
        ``problems`` (errors and warnings) are empty when nothing is wrong.

    Raises:
        ValueError: when x and y (or the validation pair) hold different numbers of samples.
        TypeError: when x or y is not an array (a dict of inputs, a tf.data.Dataset).
    """
    ctx = Context(model, x, y, validation_data)
    return run_checks(ctx, deep=deep)


def watch(model, x, y=None, loss=None, deep=False, stream=None):
    """The one-line hook for a custom training loop: call it at every step.

    The first call for a model checks it on this batch and prints the report; every call
    records ``loss``, and when the loop ends (at the end of ``tfclinic checkup script.py``,
    or from ``watch_report(model)``) the recorded losses are judged like a ``fit``'s.

    Example:
        >>> for x_batch, y_batch in dataset:
        ...     loss = train_step(x_batch, y_batch)
        ...     tfclinic.checkup.watch(model, x_batch, y_batch, loss)

    Returns:
        The report of the first call for this model, else None.
    """
    from .script import SESSION

    return SESSION.observe_step(model, x, y, loss, deep=deep, stream=stream)


def watch_report(model):
    """The report on the losses ``watch`` recorded for ``model`` (None before any step)."""
    from .script import SESSION

    return SESSION.run_report(model)


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
