"""A Keras callback that watches a training run and names what goes wrong as it happens."""

import math
import sys

import keras

from .checks_deep import judge_gradient_norms, layer_gradient_norms
from .checks_training import Run, label_entropy
from .findings import BOOK_BASE, RUN_REGISTRY, Finding, Report, run_all

_LINK = f"{BOOK_BASE}losses.html#a-learning-rate-far-too-high-or-far-too-low"
# Judged at each epoch's end; the others only once training ends (a run stopped early
# would otherwise look too short).
_LIVE = {"TRN003", "TRN004"}


class CheckupCallback(keras.callbacks.Callback):
    """Report a NaN or exploding loss as it happens and, when training ends, what the run's
    losses say: a loss that never moved, one stuck at the label-entropy floor, a learning rate
    far too low, a run stopped while the loss still fell fast; given a sample batch, gradient
    norms that vanish or explode as training goes on.

    Findings go to ``self.report`` (a :class:`Report`) and are printed when they occur.

    Args:
        stop_on_error: stop training at a NaN or infinite loss.
        stream: where to print findings (default: stderr); None prints nothing.
        sample: optional ``(x, y)`` batch; at the end of each epoch the per-layer gradient
            norms on it are checked (one extra forward and backward pass), and its labels
            give the label-entropy floor of a classifier.
        labels: optional training labels, for the label-entropy floor when no sample is given.

    Example:
        >>> model.fit(x, y, epochs=20, callbacks=[CheckupCallback()])
    """

    def __init__(self, stop_on_error=True, stream=sys.stderr, sample=None, labels=None, **_):
        super().__init__()
        self.sample, self.labels = sample, labels
        self.stop_on_error, self.stream = stop_on_error, stream
        self.report, self.losses = Report(), []
        self.start, self.steps, self.nonfinite = None, 0, None

    def _add(self, finding):
        if finding.code in self.report.all_codes:
            return
        self.report.append(finding)
        if self.stream is not None:
            print(f"checkup: {finding}", file=self.stream)

    def on_train_begin(self, logs=None):
        self.report, self.losses = Report(), []
        self.start, self.steps, self.nonfinite = None, 0, None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if self.start is None and math.isfinite(loss):
            self.start = loss
        if not math.isfinite(loss) and self.nonfinite is None:
            self.nonfinite = f"batch {batch} of epoch {len(self.losses)}"
            self._judge(_LIVE)
            if self.stop_on_error:
                self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.sample is not None:
            verdict = judge_gradient_norms(layer_gradient_norms(self.model, *self.sample))
            if verdict:
                severity, message, fix = verdict
                self._add(Finding("TRN007", severity, f"epoch {epoch}: {message}", fix, _LINK))
        loss = (logs or {}).get("loss")
        if loss is not None and math.isfinite(float(loss)):
            self.losses.append(float(loss))
        self._judge(_LIVE)

    def on_train_end(self, logs=None):
        self._judge(None)

    def run(self):
        """The run so far, as the run checks read it."""
        from tfclinic.training import output_and_loss

        run = Run(curve=list(self.losses), start=self.start if self.start is not None
                  else float("nan"), steps=self.steps, nonfinite=self.nonfinite)
        try:
            run.loss = output_and_loss(self.model)["loss"]
        except Exception:  # noqa: BLE001 - an exotic model: no label-entropy floor
            run.loss = None
        optimizer = getattr(self.model, "optimizer", None)
        run.optimizer = type(optimizer).__name__ if optimizer is not None else None
        try:
            run.learning_rate = float(optimizer.learning_rate)
        except (AttributeError, TypeError, ValueError):
            run.learning_rate = None
        labels = self.labels if self.labels is not None else (
            self.sample[1] if self.sample is not None else None)
        if labels is not None:
            import numpy as np

            run.entropy = label_entropy(run.loss, np.asarray(labels))
        return run

    def _judge(self, codes):
        if self.start is None and self.nonfinite is None:
            return
        registry = [c for c in RUN_REGISTRY if codes is None or c.code in codes]
        for finding in run_all(registry, self.run()):
            self._add(finding)
