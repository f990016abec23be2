"""A Keras callback that watches a training run and names what goes wrong as it happens."""

import math
import sys

import keras

from .checks_deep import judge_gradient_norms, layer_gradient_norms
from .findings import BOOK_BASE, ERROR, WARNING, Finding, Report

_LINK = f"{BOOK_BASE}losses.html#a-learning-rate-far-too-high-or-far-too-low"


class CheckupCallback(keras.callbacks.Callback):
    """Report a NaN or exploding loss, a loss that has stopped moving, and (given a sample
    batch) gradient norms that vanish or explode as training goes on.

    Findings go to ``self.report`` (a :class:`Report`) and are printed when they occur.

    Args:
        patience: epochs over which the loss must change by at least ``min_delta``.
        min_delta: smallest relative change of the loss over ``patience`` epochs (1e-3).
        explode_factor: an epoch loss this many times the lowest one so far is exploding.
        stop_on_error: stop training at a NaN or infinite loss.
        stream: where to print findings (default: stderr); None prints nothing.
        sample: optional ``(x, y)`` batch; at the end of each epoch the per-layer gradient
            norms on it are checked (one extra forward and backward pass).

    Example:
        >>> model.fit(x, y, epochs=20, callbacks=[CheckupCallback()])
    """

    def __init__(self, patience=3, min_delta=1e-3, explode_factor=10.0, stop_on_error=True,
                 stream=sys.stderr, sample=None):
        super().__init__()
        self.sample = sample
        self.patience, self.min_delta, self.explode_factor = patience, min_delta, explode_factor
        self.stop_on_error, self.stream = stop_on_error, stream
        self.report, self.losses = Report(), []

    def _add(self, code, severity, message, fix):
        if code in self.report.codes:
            return
        finding = Finding(code, severity, message, fix, _LINK)
        self.report.append(finding)
        if self.stream is not None:
            print(f"checkup: {finding}", file=self.stream)

    def on_train_begin(self, logs=None):
        self.report, self.losses = Report(), []

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._add("TRN003", ERROR, f"loss: expected a finite number, it became {float(loss)} "
                      f"at batch {batch} of epoch {len(self.losses)}",
                      "lower the learning rate, and check x and y for NaN or inf")
            if self.stop_on_error:
                self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.sample is not None:
            verdict = judge_gradient_norms(layer_gradient_norms(self.model, *self.sample))
            if verdict:
                self._add("TRN007", WARNING, f"epoch {epoch}: " + verdict[0], verdict[1])
        loss = (logs or {}).get("loss")
        if loss is None or not math.isfinite(float(loss)):
            return
        loss = float(loss)
        if self.losses and loss > self.explode_factor * min(self.losses):
            self._add("TRN004", WARNING, f"loss: expected to fall, it rose to {loss:.3g} at epoch "
                      f"{epoch}, {loss / min(self.losses):.3g} times its lowest {min(self.losses):.3g}",
                      "lower the learning rate (by a factor of 10), or clip gradients (clipnorm=1.0)")
        self.losses.append(loss)
        if len(self.losses) > self.patience:
            before = self.losses[-1 - self.patience]
            change = abs(loss - before) / max(abs(before), 1e-12)
            if change < self.min_delta:
                self._add("TRN005", WARNING, f"loss: expected to change by at least "
                          f"{self.min_delta:g} (relative) over {self.patience} epochs, it moved "
                          f"{change:.2g} (from {before:.4g} to {loss:.4g})",
                          "raise the learning rate, or run checkup(model, x, y, deep=True)")
