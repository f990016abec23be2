"""Read what a training call receives without consuming it, and the facts of the call.

``peek(x, y)`` returns arrays the checks can read: the arrays themselves, or one batch of a
``tf.data.Dataset``, a ``PyDataset`` (``ImageDataGenerator.flow`` and friends) or a Python
generator. Nothing is ever materialised: a dataset is read through a fresh iterator of one
element, a ``PyDataset`` by indexing its first batch (restoring NumPy's random state, so
augmentation draws the same numbers in the real run), and a generator's first batch is put
back in front of the rest (``Peek.x`` is what the training call must receive instead).
"""

import math
import types

import numpy as np

LISTS = (list, tuple)


class Peek:
    """What ``peek`` found: arrays for the checks, and the data to pass on to Keras."""

    def __init__(self, x, y, source, sampled, x_for_keras, n_samples=None, steps=None, note=None):
        self.x, self.y, self.source, self.sampled = x, y, source, sampled
        self.x_for_keras = x_for_keras
        self.n_samples, self.steps_per_epoch, self.note = n_samples, steps, note


def _split(element):
    """A batch as ``(x, y)``: a tuple (x, y[, weights]), or x alone."""
    if isinstance(element, tuple) and len(element) in (2, 3):
        return element[0], element[1]
    if isinstance(element, tuple) and len(element) == 1:
        return element[0], None
    return element, None


def _to_numpy(value):
    if value is None:
        return None
    if isinstance(value, dict):
        return value  # several named inputs: the checks stay silent (as_array refuses it)
    if hasattr(value, "numpy"):
        return value.numpy()
    return value


def _is_dataset(x):
    return hasattr(x, "element_spec") and hasattr(x, "take")


def _is_pydataset(x):
    return hasattr(x, "__getitem__") and hasattr(x, "__len__") and not isinstance(
        x, (np.ndarray, *LISTS, dict)) and not hasattr(x, "shape") and not hasattr(x, "to_numpy")


def peek(x, y=None):
    """One batch (or all, for arrays) of the training data, without consuming it.

    Returns:
        A :class:`Peek`, or None when ``x`` is of a kind the checkup does not read (then
        nothing was touched).
    """
    if _is_dataset(x):
        for element in x.take(1):
            bx, by = _split(element)
            cardinality = None
            try:
                cardinality = int(x.cardinality())
            except Exception:  # noqa: BLE001 - unknown cardinality
                pass
            return Peek(_to_numpy(bx), _to_numpy(by), "tf.data", True, x,
                        steps=cardinality if cardinality and cardinality > 0 else None)
        return None
    if isinstance(x, types.GeneratorType):
        try:
            first = next(x)
        except StopIteration:
            return Peek(None, None, "generator", True, iter(()), note="the generator is empty")

        def restored(first=first, rest=x):
            yield first
            yield from rest

        bx, by = _split(first)
        return Peek(_to_numpy(bx), _to_numpy(by), "generator", True, restored())
    if _is_pydataset(x):
        state = np.random.get_state()
        seen = getattr(x, "total_batches_seen", None)
        try:
            bx, by = _split(x[0])
            steps = len(x)
        finally:
            np.random.set_state(state)
            if seen is not None:
                x.total_batches_seen = seen
        return Peek(_to_numpy(bx), _to_numpy(by), "PyDataset", True, x, steps=steps)
    if isinstance(x, LISTS) or isinstance(y, LISTS):
        return Peek(x, y, "list", False, x)
    if isinstance(x, np.ndarray) or hasattr(x, "to_numpy") or (
            hasattr(x, "numpy") and hasattr(x, "shape")):
        return Peek(x, y, "arrays", False, x, n_samples=len(x) if hasattr(x, "__len__") else None)
    return None


def fit_facts(peeked, kwargs, defaults_epochs=1):
    """The facts of a ``fit`` call that the checks read: batch size, epochs, steps and splits."""
    epochs = kwargs.get("epochs", defaults_epochs) or 1
    initial = kwargs.get("initial_epoch", 0) or 0
    split = kwargs.get("validation_split", 0.0) or 0.0
    facts = {"source": peeked.source, "sampled": peeked.sampled, "epochs": int(epochs) - int(initial),
             "validation_split": float(split), "shuffle": kwargs.get("shuffle", True)}
    steps = kwargs.get("steps_per_epoch") or peeked.steps_per_epoch
    if peeked.source in ("arrays", "list"):
        batch = kwargs.get("batch_size") or 32
        facts["batch_size"] = int(batch)
        n = _length(peeked.x)
        if n is not None and not steps:
            steps = math.ceil(n * (1 - split) / batch)
    elif peeked.x is not None and hasattr(peeked.x, "shape"):
        facts["batch_size"] = int(peeked.x.shape[0]) if len(peeked.x.shape) else None
    facts["steps"] = int(steps) * facts["epochs"] if steps else None
    return facts


def _length(x):
    try:
        return len(x)
    except TypeError:
        return None
