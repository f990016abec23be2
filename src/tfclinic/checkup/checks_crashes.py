"""Crashes: name the errors the book covers when a program raises them.

Each explainer is registered with ``@crash(code, page, anchor, pattern)``: when the text of an
exception matches ``pattern`` (a regular expression), ``function(match, ctx)`` returns
``(message, fix)``: what was expected and what was found, in the program's own terms. ``ctx``
is the checkup's :class:`~tfclinic.checkup.context.Context` when the error came from a
training call the checkup saw (``fit``, ``train_on_batch``, ``evaluate``, ``predict``), else
None, and the explanation falls back on what the message itself says.
"""

import re
from dataclasses import dataclass

from .findings import ERROR, Finding, link

CRASHES = []


@dataclass(frozen=True)
class Crash:
    function: object
    code: str
    link: str
    pattern: re.Pattern


def crash(code, page, anchor, pattern):
    """Register ``function(match, ctx)`` as the explanation of errors matching ``pattern``."""
    def register(function):
        if any(c.code == code for c in CRASHES):
            raise ValueError(f"crash code {code} is registered twice")
        CRASHES.append(Crash(function, code, link(page, anchor), re.compile(pattern, re.S)))
        return function
    return register


def _plain(text):
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def explain(error, ctx=None, where=None):
    """The :class:`Finding` that names ``error``, or None when it is not one the book covers."""
    seen, chain = set(), []
    while error is not None and id(error) not in seen:  # the error and what caused it
        seen.add(id(error))
        chain.append(error)
        error = error.__cause__ or error.__context__
    for item in chain:
        text = _plain(f"{type(item).__name__}: {item}")
        for entry in CRASHES:
            match = entry.pattern.search(text)
            if match is None:
                continue
            try:
                explained = entry.function(match, ctx)
            except Exception:  # noqa: BLE001 - an explanation must never hide the error
                explained = None
            if explained:
                message, fix = explained
                if where:
                    message = f"{where}: {message}"
                return Finding(entry.code, ERROR, message, fix, entry.link)
    return None


def _model_input(ctx):
    shape = ctx.input_shape if ctx is not None else None
    return f"keras.Input(shape={tuple(shape[1:])})" if shape else None


def _data_shape(ctx):
    if ctx is None:
        return None
    return f"x has shape {ctx.x.shape}" + (" (one batch)" if ctx.sampled else "")


@crash("SHP101", "shapes", "the-classic-a-model-built-for-10-features-meets-5",
       r"expected axis (-?\d+) of input shape to have value (\d+), but received input with "
       r"shape \(([^)]*)\)")
def crash_feature_count(match, ctx):
    axis, expected, received = match.group(1), match.group(2), match.group(3)
    found = received.split(",")[int(axis)].strip() if received else "?"
    where = f"; {_data_shape(ctx)}" if ctx is not None else ""
    return (f"shape mismatch: a layer expects {expected} values on axis {axis} of each batch, "
            f"it received shape ({received}), {found} values{where}",
            f"decide which side is wrong: build the model for {found} (keras.Input(shape="
            f"(..., {found}))), or give it the {expected} columns it was built for")


@crash("SHP102", "shapes", "know-your-shapes-before-you-train",
       r"expected (?:min_)?ndim=(\d+), found ndim=(\d+)(?:\. Full shape received: \(([^)]*)\))?")
def crash_rank(match, ctx):
    expected, found, shape = match.group(1), match.group(2), match.group(3)
    hint = ("add the channel axis: x[..., np.newaxis]" if int(expected) == int(found) + 1 else
            "reshape the data to (samples, *input shape), or fix keras.Input(shape=...)")
    model = _model_input(ctx)
    return (f"rank mismatch: a layer expects inputs of rank {expected} (batch axis included), "
            f"it received rank {found}" + (f" ({shape})" if shape else "")
            + (f"; the model starts with {model}" if model else ""), hint)


@crash("SHP103", "shapes", "a-missing-batch-axis-predicting-one-sample",
       r"Expected shape \(([^)]*)\), but input has incompatible shape \(([^)]*)\)")
def crash_input_shape(match, ctx):
    expected, found = match.group(1), match.group(2)
    e = [p for p in expected.split(",") if p.strip()]
    f = [p for p in found.split(",") if p.strip()]
    if len(f) == len(e) - 1:
        return (f"missing batch axis: the model expects ({expected}), it received ({found}), "
                "one sample without the batch axis", "add the batch axis: x[np.newaxis] "
                "(or model.predict(x[i:i + 1]) for one sample)")
    return (f"input shape: the model expects ({expected}), it received ({found})",
            "reshape the data to (samples, *input shape), or fix keras.Input(shape=...)")


@crash("SHP104", "shapes", "the-silent-one-labels-n-against-predictions-n-1",
       r"Argument `output` must have rank \(ndim\) `target\.ndim - 1`\. Received: "
       r"target\.shape=\(([^)]*)\), output\.shape=\(([^)]*)\)")
def crash_sparse_rank(match, ctx):
    target, output = match.group(1), match.group(2)
    t = [p for p in target.split(",") if p.strip()]
    o = [p for p in output.split(",") if p.strip()]
    if len(o) > len(t) + 1:
        return (f"labels against output: sparse_categorical_crossentropy reads one class id per "
                f"output position; the model outputs ({output}) per batch, the labels are "
                f"({target}): the output keeps axes it should have flattened",
                "add keras.layers.Flatten() (or GlobalAveragePooling2D()) before the last Dense")
    return (f"labels against output: sparse_categorical_crossentropy expects class ids of "
            f"shape (N,), the labels have shape ({target}), one-hot rows",
            "use loss='categorical_crossentropy', or pass y.argmax(axis=1)")


@crash("SHP105", "shapes", "the-silent-one-labels-n-against-predictions-n-1",
       r"Arguments `target` and `output` must have the same (rank \(ndim\)|shape)\. Received: "
       r"target\.shape=\(([^)]*)\), output\.shape=\(([^)]*)\)")
def crash_label_shape(match, ctx):
    target, output = match.group(2), match.group(3)
    t = [p.strip() for p in target.split(",") if p.strip()]
    o = [p.strip() for p in output.split(",") if p.strip()]
    if len(t) == 1 and len(o) == 2:
        return (f"labels against output: the loss expects labels shaped like the output "
                f"({output}), the labels have shape ({target}), class ids",
                "use loss='sparse_categorical_crossentropy' for class ids, or one-hot the "
                "labels with keras.utils.to_categorical(y, num_classes)")
    return (f"labels against output: the loss expects labels of the output's shape ({output}), "
            f"the labels have shape ({target})",
            "give the last layer as many units as each label has values (or Flatten before "
            "it), or reshape y")


@crash("SHP106", "shapes", "the-silent-one-labels-n-against-predictions-n-1",
       r"(Incompatible shapes: \[([^\]]*)\] vs\. \[([^\]]*)\]|Shapes \(([^)]*)\) and \(([^)]*)\) "
       r"are incompatible|logits and labels must have the same first dimension[^\n]*)")
def crash_incompatible(match, ctx):
    return (f"shapes of labels and predictions disagree: {match.group(1)}",
            "print y.shape and model.output_shape: one label per output unit (or one class id "
            "per sample for a sparse loss)")


@crash("SHP107", "shapes", "know-your-shapes-before-you-train",
       r"Data cardinality is ambiguous.*?'x' sizes: (\d+).*?'y' sizes: (\d+)")
def crash_lengths(match, ctx):
    return (f"x and y must hold one label per sample: x has {match.group(1)} samples, y has "
            f"{match.group(2)}", "check how x and y were split or filtered: the same rows must "
            "be kept from both")


@crash("DTY101", "dtypes", "integer-meets-float-the-error-and-which-side-to-cast",
       r"(Invalid dtype: (object|str\d*|<U\d+|bytes\d*)|Failed to convert a NumPy array to a "
       r"Tensor[^\n]*|could not convert string to float[^\n]*|Unsupported object type[^\n]*)")
def crash_object_dtype(match, ctx):
    return (f"data type: Keras needs numeric arrays, it received {match.group(1)}",
            "encode text columns and class names as numbers, then x = np.asarray(x, "
            "dtype='float32')")


@crash("DTY102", "dtypes", "integer-meets-float-the-error-and-which-side-to-cast",
       r"(cannot compute (\w+) as input #(\d+)\(zero-based\) was expected to be a (\w+) tensor "
       r"but is a (\w+) tensor|Tensor conversion requested dtype (\w+) for Tensor with dtype "
       r"(\w+)|Cannot convert [^\n]* to EagerTensor of dtype (\w+))")
def crash_dtype_mismatch(match, ctx):
    if match.group(2):
        return (f"data types: {match.group(2)} received a {match.group(5)} tensor where it "
                f"expected {match.group(4)} (the dtype of its other input); TensorFlow never "
                "converts between them", f"cast the labels (or the integer side) to the "
                f"predictions' dtype before the arithmetic: tf.cast(y, tf.float32)")
    return (f"data types: {match.group(1)}", "cast explicitly with tf.cast(value, tf.float32) "
            "before mixing integers and floats")


@crash("DTY103", "dtypes", "integer-meets-float-the-error-and-which-side-to-cast",
       r"Unrecognized data type: x=")
def crash_python_list(match, ctx):
    return ("data type: Keras 3 fit expects NumPy arrays (or a tf.data.Dataset), it received a "
            "Python list, which it reads as several inputs", "x = np.asarray(x, "
            "dtype='float32'); y = np.asarray(y)")


@crash("LOS101", "losses", "the-pairings-that-work",
       r"Received a label value of (-?\d+) which is outside the valid range of \[0, (\d+)\)")
def crash_label_range(match, ctx):
    value, units = int(match.group(1)), int(match.group(2))
    return (f"labels: sparse_categorical_crossentropy reads class ids 0..{units - 1} (one per "
            f"output unit), a label is {value}", f"give the last layer one unit per class "
            f"(y.max() + 1 = {max(value + 1, units)}?) or relabel the classes as 0..K-1")


@crash("LOS102", "losses", "the-pairings-that-work",
       r"No gradients provided for any variable")
def crash_no_gradients(match, ctx):
    return ("gradients: none reached any weight, so the loss does not depend on them",
            "compute the loss from the model's output inside the GradientTape, without NumPy "
            "calls or casts to integers in between")


@crash("TRN101", "losses", "a-learning-rate-far-too-high-or-far-too-low",
       r"(Tensor had (NaN|Inf) values|Found Inf or NaN|NaN values? (found|detected)|is not finite)")
def crash_nan(match, ctx):
    return (f"NaN: a tensor stopped being finite ({match.group(1)})",
            "look for NaN or inf in x and y (np.isfinite(x).all()), then lower the learning "
            "rate by a factor of 10")
