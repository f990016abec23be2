"""Training: judge what a run did, from its losses (book/losses.md).

A static check reads the planned budget of optimizer steps; the run checks read a finished
run (a ``fit``, a loop of ``train_on_batch`` or ``watch`` calls), summarised as a :class:`Run`,
and name learning rates far too high or too low, a loss stuck at the label-entropy floor,
a loss that never moved and a run stopped while the loss was still falling fast.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .context import CROSSENTROPIES
from .findings import ERROR, INFO, WARNING, check, run_check

FEW_STEPS = 30          # a planned run of fewer optimizer steps is noted before training
SHORT_RUN = 300         # a run this short that stops while the loss falls fast is too short
STILL_FALLING = 0.10    # ... falling by more than this share over its last tenth
FAR_FROM_DONE = 0.6     # ... and still above this share of where it started (or of the floor)
NO_PROGRESS = 0.97      # a best loss above this share of the first one: nothing was learned
ENTROPY_BAND = 0.02     # a loss within 2% of the label entropy sits on the floor
EXPLODED = 10.0         # a loss this many times its lowest value has diverged
LOW_RATE = {"SGD": 1e-4}
LOW_ADAPTIVE_RATE = 1e-5


@check("TRN008", "losses", "a-learning-rate-far-too-high-or-far-too-low", needs_y=False)
def check_planned_steps(ctx):
    """A training call plans enough optimizer steps (epochs x batches per epoch) to learn."""
    steps = ctx.fit.get("steps")
    if steps is not None and 0 < steps < FEW_STEPS:
        yield (INFO, f"training budget: this fit takes {steps} optimizer steps "
               f"({ctx.fit.get('epochs')} epoch(s)); most models need hundreds",
               "train for more epochs, or with a smaller batch_size")


@dataclass
class Run:
    """What a training run did: its loss curve and the facts the run checks read.

    Attributes:
        curve: losses in order, one per epoch (fit) or per chunk of steps (loops).
        start: the loss of the first batch.
        steps: optimizer steps taken.
        nonfinite: where the loss stopped being finite ("batch 3 of epoch 0"), or None.
        loss: the loss's name; entropy: the loss of predicting the class frequencies (None
        for regression); learning_rate, optimizer: the optimizer's.
    """

    curve: list
    start: float
    steps: int
    nonfinite: str = None
    loss: str = None
    entropy: float = None
    learning_rate: float = None
    optimizer: str = None
    how: str = "fit"
    notes: list = field(default_factory=list)

    @property
    def best(self):
        return min(self.curve) if self.curve else self.start

    @property
    def end(self):
        return self.curve[-1] if self.curve else self.start

    @property
    def flat(self):
        """The run is long enough to judge and its best loss is hardly below the first."""
        long_enough = len(self.curve) >= 3 or self.steps >= 100
        return long_enough and self.start > 0 and self.best > NO_PROGRESS * self.start


def label_entropy(loss, y):
    """The loss of always predicting the class frequencies of ``y``, or None."""
    if loss not in CROSSENTROPIES or y is None or y.dtype.kind not in "biuf" or y.size == 0:
        return None
    y = np.asarray(y, dtype="float64")
    y = y[np.all(np.isfinite(y.reshape(len(y), -1)), axis=1)]
    if y.size == 0:
        return None
    if loss == "binary_crossentropy":
        p = np.clip(np.mean(y), 1e-7, 1 - 1e-7)
        return float(-(p * np.log(p) + (1 - p) * np.log(1 - p)))
    if y.ndim == 2 and y.shape[1] > 1:
        counts = y.sum(axis=0)
    else:
        ids = y.ravel()
        if np.any(ids < 0) or np.any(ids != np.round(ids)):
            return None
        counts = np.bincount(ids.astype("int64"))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _rate_fix():
    return "lower the learning rate by a factor of 10 (Adam: 1e-3), or clip gradients (clipnorm=1.0)"


@run_check("TRN003", "losses", "a-learning-rate-far-too-high-or-far-too-low")
def run_nonfinite(run):
    """The loss stays a finite number for the whole run."""
    if run.nonfinite:
        yield (ERROR, f"loss: expected a finite number, it became NaN or inf at {run.nonfinite}",
               "look for NaN or inf in x and y (np.isfinite(x).all()), then " + _rate_fix())


@run_check("TRN004", "losses", "a-learning-rate-far-too-high-or-far-too-low")
def run_diverged(run):
    """The loss falls, or at least does not climb far above its start: else the rate is too high."""
    if run.nonfinite or len(run.curve) < 2 or run.best <= 0:
        return
    lowest, peak = run.start, run.start
    for value in run.curve:  # a climb above a lower value seen before it
        if value > EXPLODED * lowest:
            peak = max(peak, value)
        lowest = min(lowest, value)
    if peak > run.start or (run.end > 1.5 * run.start and run.end > 1.5 * run.best):
        peak = max(peak, run.end)
        yield (WARNING, f"loss: expected to fall, it rose from {run.start:.3g} to {peak:.3g} "
               f"(lowest {run.best:.3g}, last {run.end:.3g}): the learning rate "
               f"{_rate(run)} is too high for this data", _rate_fix())


def _rate(run):
    return f"{run.learning_rate:g}" if run.learning_rate is not None else "(a schedule)"


@run_check("TRN009", "losses", "the-initial-loss-sanity-check")
def run_entropy_floor(run):
    """A classifier's loss goes below the label entropy: on it, it predicts class frequencies."""
    floor = run.entropy
    if floor is None or floor < 0.05 or run.nonfinite or not (len(run.curve) >= 3 or run.steps >= 100):
        return
    half = run.curve[len(run.curve) // 2:] or [run.end]
    settled = max(half) - min(half) <= ENTROPY_BAND * floor
    if (run.best >= (1 - ENTROPY_BAND) * floor and run.end <= (1 + ENTROPY_BAND) * floor + 0.01
            and settled):
        yield (WARNING, f"loss: expected to go below {floor:.3g}, the loss of predicting the "
               f"class frequencies; it stayed at {run.end:.3g} over {run.steps} steps, so the "
               "model ignores x and predicts the same probabilities for every sample",
               "check the pairing of output, loss and labels, scale the inputs, and try a "
               "learning rate 10 times higher or lower")


@run_check("TRN010", "losses", "a-learning-rate-far-too-high-or-far-too-low")
def run_rate_too_low(run):
    """A loss that does not move under a tiny learning rate: the rate is too low."""
    if run.nonfinite or run.learning_rate is None or not run.flat:
        return
    low = LOW_RATE.get(run.optimizer, LOW_ADAPTIVE_RATE)
    if run.learning_rate <= low:
        yield (WARNING, f"loss: expected to fall, it went from {run.start:.3g} to {run.end:.3g} "
               f"in {run.steps} steps; the learning rate {run.learning_rate:g} is too low for "
               f"{run.optimizer}", "raise the learning rate (Adam: 1e-3, SGD: 1e-2) and sweep "
               "by factors of 10")


@run_check("TRN005", "losses", "a-learning-rate-far-too-high-or-far-too-low")
def run_flat(run):
    """The loss falls below its first value over a run long enough to tell."""
    if run.nonfinite or not run.flat:
        return
    floor = run.entropy
    if floor is not None and floor >= 0.05 and run.end <= (1 + ENTROPY_BAND) * floor + 0.01:
        return  # TRN009 says more
    if run.learning_rate is not None and run.learning_rate <= LOW_RATE.get(run.optimizer,
                                                                          LOW_ADAPTIVE_RATE):
        return  # TRN010
    yield (WARNING, f"loss: expected to fall, its best {run.best:.4g} is within "
           f"{1 - NO_PROGRESS:.0%} of its first {run.start:.4g} after {run.steps} steps",
           "check that the output, loss and labels pair up and that gradients reach every "
           "layer (checkup --deep), then sweep the learning rate")


@run_check("TRN011", "losses", "a-learning-rate-far-too-high-or-far-too-low")
def run_too_short(run):
    """A short run ends once the loss has levelled off, not while it still falls fast."""
    if run.nonfinite or run.steps >= SHORT_RUN or len(run.curve) < 2 or run.start <= 0:
        return
    tail = max(1, len(run.curve) // 10)
    before, end = run.curve[-1 - tail], run.end
    reference = run.entropy if run.entropy and run.entropy >= 0.05 else run.start
    if before > 0 and (before - end) / before > STILL_FALLING and end > FAR_FROM_DONE * reference:
        yield (WARNING, f"training budget: the loss was still falling fast when training "
               f"stopped ({before:.3g} to {end:.3g} over the last {tail} of {len(run.curve)} "
               f"{'epochs' if run.how == 'fit' else 'stretches'}), after only {run.steps} "
               "optimizer steps", "train for more epochs (10 times as many, with "
               "keras.callbacks.EarlyStopping to stop when it levels off)")


def summarise(losses, start=None, steps=None, chunks=20):
    """A curve of at most ``chunks`` means from per-step losses (a loop's)."""
    values = [float(v) for v in losses]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return []
    size = max(1, math.ceil(len(finite) / chunks))
    return [float(np.mean(finite[i:i + size])) for i in range(0, len(finite), size)]
