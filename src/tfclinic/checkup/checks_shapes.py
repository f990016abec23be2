"""Shapes: the data must have the shape the model declares (book/shapes.md)."""

from .findings import ERROR, INFO, check


def _fmt(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


@check("SHP001", "shapes", "the-classic-a-model-built-for-10-features-meets-5", needs_y=False)
def check_feature_count(ctx):
    """Each sample has the size the model's input declares (10 features for Input((10,)))."""
    expected = ctx.input_shape
    if expected is None or ctx.x.ndim != len(expected):
        return
    found = ctx.x.shape[1:]
    if any(e is not None and e != f for e, f in zip(expected[1:], found)):
        what = "features per sample" if ctx.x.ndim == 2 else "sample shape"
        yield (ERROR, f"{what}: the model expects {_fmt(expected[1:])}, x has {_fmt(found)} "
               f"(x.shape = {ctx.x.shape})",
               "select the columns the model was built for, or build the model with "
               f"keras.Input(shape={_fmt(found)})")


@check("SHP002", "shapes", "know-your-shapes-before-you-train", needs_y=False)
def check_input_rank(ctx):
    """x has as many axes as the model's input: a batch axis, and a channel axis for images."""
    expected = ctx.input_shape
    if expected is None or ctx.x.ndim == len(expected):
        return

    def fits(shape, declared):
        return len(shape) == len(declared) and all(d in (None, n) for d, n in zip(declared, shape))

    if fits(ctx.x.shape[1:], expected[1:-1]) and expected[-1] == 1:
        # Keras 3 adds a missing trailing axis of size 1 itself: the program trains.
        yield (INFO, f"missing channel axis: the model expects {_fmt(expected)}, x has shape "
               f"{ctx.x.shape}; keras.Input adds it quietly, a layer without one fails",
               "add the channel axis yourself: x[..., np.newaxis]")
    elif fits(ctx.x.shape, expected[1:]):
        if ctx.fit.get("source") == "tf.data":
            yield (ERROR, f"missing batch axis: the model expects {_fmt(expected)}, each element "
                   f"of the dataset has shape {ctx.x.shape} (one sample, not a batch)",
                   "batch the dataset before fit: dataset.batch(32)")
        else:
            yield (ERROR, f"missing batch axis: the model expects {_fmt(expected)}, x has shape "
                   f"{ctx.x.shape} (one sample)", "add the batch axis: x[np.newaxis]")
    else:
        yield (ERROR, f"the model expects inputs of rank {len(expected)} {_fmt(expected)}, "
               f"x has rank {ctx.x.ndim} {ctx.x.shape}",
               "reshape x to (samples, *input shape), or fix keras.Input(shape=...)")


def _squeeze(shape):
    return tuple(d for d in shape if d != 1)


@check("SHP003", "shapes", "the-silent-one-labels-n-against-predictions-n-1")
def check_label_shape(ctx):
    """Labels have the model output's trailing shape; (N,) against (N, 1) is fine."""
    output = ctx.output_shape
    if output is None or not ctx.numeric_y:
        return
    if ctx.loss == "sparse_categorical_crossentropy":
        # one class id per output position: (N,) for an output (None, K)
        expected, found = tuple(output[1:-1]), tuple(ctx.y.shape[1:])
        if None in expected or ctx.y.ndim == 2 and ctx.y.shape[1] == output[-1] and len(output) == 2:
            return  # one-hot labels: DTY005
        if _squeeze(found) != _squeeze(expected):
            flatten = len(output) > 2
            yield (ERROR, f"labels per sample: sparse_categorical_crossentropy reads one class id "
                   f"per output position; the model outputs {_fmt(output)}, so it needs labels of "
                   f"shape {_fmt(('N', *expected))}, y has shape {ctx.y.shape}",
                   "add keras.layers.Flatten() (or GlobalAveragePooling) before the last Dense"
                   if flatten else "reshape y to one class id per sample")
        return
    if ctx.loss == "categorical_crossentropy" and (ctx.y.ndim == 1 or ctx.y.shape[-1] == 1):
        return  # class ids against a one-hot loss: DTY004
    expected = tuple(output[1:])
    if None in expected:
        return
    if _squeeze(ctx.y.shape[1:]) != _squeeze(expected):
        flatten = len(expected) > 1 and len(_squeeze(ctx.y.shape[1:])) <= 1
        yield (ERROR, f"labels per sample: the model outputs {_fmt(expected)}, y has "
               f"{_fmt(tuple(ctx.y.shape[1:]))} (y.shape = {ctx.y.shape})",
               "add keras.layers.Flatten() before the last Dense layer" if flatten else
               "give the last layer as many units as each label has values, or reshape y")
