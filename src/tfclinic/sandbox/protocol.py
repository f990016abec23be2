"""The messages between the trusted grader and a student process: data, never code.

A message is one ``.npz`` archive (read with ``allow_pickle=False``) behind an 8-byte length.
Its ``__meta__`` member is JSON; values inside it are tagged lists:

    ["py", v]          None, bool, int, float or str
    ["list", [...]]    ["tuple", [...]]    ["dict", [[key, value], ...]]
    ["array", name]    ["scalar", name]    ["tensor", name]     a NumPy array in the archive
    ["model", name]    a Keras model: the bytes of its ``.keras`` file, loaded with safe_mode
                       (a model the grader cannot rebuild faithfully goes as a handle instead)
    ["optimizer", c]   a Keras optimizer's config (grader to student only)
    ["handle", id]     an object that stays in the student process (a function, a closure...)
    ["student", name]  a name in the student's notebook
    ["library", module, name]  a tfclinic function, run in the student process

The student side turns functions, Keras and TensorFlow objects it cannot send as data into
handles, and refuses (``NotGradable``) other objects, which the grader has no faithful stand-in
for; ``crossing_problem`` is that rule, for the self-check too. The grader side accepts nothing
but the tags above, so what comes back from student code is plain data, whatever the
student's classes claim about themselves (``__eq__``, ``__float__``...).
"""

import io
import json
import os
import shutil
import struct
import tempfile
import zipfile

import numpy as np

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_PLAIN = (type(None), bool, int, float, str)


class ProtocolError(Exception):
    """A message that is not well formed, too big, or holds something that is not data."""


class NotGradable(ProtocolError):
    """Student code gave back a value the grader cannot receive; the message names its form."""


_ACCEPTED = ("return NumPy arrays, tensors, numbers, strings, or lists, tuples and dicts of "
             "them, Keras models or functions")


def crossing_problem(value):
    """Why ``value`` cannot go from student code to the grader, or None when it can.

    The one rule for both sides: it encodes ``value`` as the student process does, so the
    self-check (``tfclinic validate``) reports exactly what grading would refuse.
    """
    folder = tempfile.mkdtemp(prefix="tfclinic-crossing-")
    try:
        Encoder(store=id, folder=folder).encode(value)
    except NotGradable as error:
        return str(error)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return None


def _form(value):
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def send(fd, meta, arrays=()):
    """Write one message to the file descriptor ``fd``."""
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
             **dict(arrays))
    payload = buffer.getvalue()
    _write_all(fd, struct.pack(">Q", len(payload)) + payload)


def receive(fd, limit=MAX_MESSAGE_BYTES):
    """Read one message from ``fd``: ``(meta, arrays)``.

    Raises:
        EOFError: the other side closed the channel.
        ProtocolError: the message is larger than ``limit`` or not a data-only archive.
    """
    (size,) = struct.unpack(">Q", _read_exactly(fd, 8))
    if size > limit:
        raise ProtocolError(f"a message of {size} bytes is over the limit of {limit}")
    payload = _read_exactly(fd, size)
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            if sum(info.file_size for info in archive.infolist()) > limit:
                raise ProtocolError("a message unpacks to more than the limit")
        with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop("__meta__").tobytes())
    except ProtocolError:
        raise
    except Exception as error:
        raise ProtocolError(f"not a data message: {type(error).__name__}: {error}") from None
    return meta, arrays


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd, size):
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the channel was closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class Encoder:
    """Turns values into tagged JSON plus arrays, for one message.

    Args:
        store: called with an object that is not data; returns a handle id. ``None`` (the
            grader's side) makes such objects an error instead.
        folder: where Keras models are written on their way into the message.
        reference: called with each value; returns its tag when it stands for something in
            the other process (the grader's stand-ins for student functions), else None.
    """

    def __init__(self, store=None, folder=None, reference=None):
        self.arrays, self.models = {}, []
        self._store, self._folder, self._reference = store, folder, reference

    def _array(self, tag, value):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise NotGradable(f"an array of Python objects (dtype {array.dtype}) cannot be sent "
                              f"to the grader: {_ACCEPTED}")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = array
        return [tag, name]

    def encode(self, value):
        """The tagged form of ``value``."""
        tree = self._reference(value) if self._reference else None
        if tree is not None:
            return tree
        if type(value) in _PLAIN:
            return ["py", value]
        if isinstance(value, _PLAIN[1:]):   # subclasses: keep the plain value only
            return ["py", next(t for t in _PLAIN[1:] if isinstance(value, t))(value)]
        if isinstance(value, (list, tuple)):
            return ["tuple" if isinstance(value, tuple) else "list", [self.encode(v) for v in value]]
        if isinstance(value, dict):
            return ["dict", [[self.encode(k), self.encode(v)] for k, v in value.items()]]
        if isinstance(value, (np.ndarray, np.generic)):  # one of Python objects: NotGradable
            return self._array("scalar" if isinstance(value, np.generic) else "array", value)
        if getattr(value, "__module__", "").startswith(("tensorflow", "keras")) or \
                type(value).__module__.startswith(("tensorflow", "keras")):
            return self._encode_keras(value)
        if self._store is not None and not callable(value):
            raise NotGradable(f"a {_form(value)} cannot be sent to the grader: {_ACCEPTED}")
        return self._handle(value)

    def _encode_keras(self, value):
        import keras

        if isinstance(value, keras.Model):
            data = self._model_bytes(value)
            if data is None:
                return self._handle(value)
            self.models.append(value)
            return self._array("model", np.frombuffer(data, dtype=np.uint8))
        if isinstance(value, keras.optimizers.Optimizer) and self._store is None:
            return ["optimizer", keras.optimizers.serialize(value)]
        if hasattr(value, "numpy") and hasattr(value, "dtype") and hasattr(value, "shape"):
            return self._array("tensor", value.numpy())
        return self._handle(value)

    def _model_bytes(self, model):
        """The model's ``.keras`` file; on the student's side None when the grader could not
        rebuild it faithfully (``rebuild_problem``), so that it stays there as a handle."""
        path = tempfile.mktemp(suffix=".keras", dir=self._folder)
        try:
            model.save(path)
            with open(path, "rb") as handle:
                data = handle.read()
        except Exception:  # noqa: BLE001 - a loss such as functools.partial(...) cannot be saved
            if self._store is None:
                raise
            return None
        finally:
            if os.path.exists(path):
                os.unlink(path)
        if self._store is not None and rebuild_problem(model, data):
            return None
        return data

    def _handle(self, value):
        if self._store is None:
            raise ProtocolError(f"a {type(value).__name__} cannot be sent to student code")
        return ["handle", self._store(value)]


class Decoder:
    """Turns a tagged tree and its arrays back into values.

    Args:
        arrays: the message's arrays.
        resolve: called with a ``["handle", id]``, ``["student", name]`` or
            ``["library", module, name]`` tag; returns the value it stands for.
        folder: where model bytes are written to be loaded.
        safe_mode: passed to ``keras.saving.load_model``; always True on the grader's side.
    """

    def __init__(self, arrays, resolve, folder=None, safe_mode=True):
        self.arrays, self.models = arrays, []
        self._resolve, self._folder, self._safe_mode = resolve, folder, safe_mode

    def decode(self, tree):
        """The value ``tree`` stands for."""
        if not isinstance(tree, list) or not tree or not isinstance(tree[0], str):
            raise ProtocolError(f"not a tagged value: {str(tree)[:80]}")
        tag, rest = tree[0], tree[1:]
        if tag == "py" and len(rest) == 1 and type(rest[0]) in _PLAIN:
            return rest[0]
        if tag in ("list", "tuple") and len(rest) == 1 and isinstance(rest[0], list):
            items = [self.decode(v) for v in rest[0]]
            return tuple(items) if tag == "tuple" else items
        if tag == "dict" and len(rest) == 1 and isinstance(rest[0], list):
            return {self._key(pair[0]): self.decode(pair[1]) for pair in rest[0]}
        if tag in ("array", "scalar", "tensor", "model") and len(rest) == 1 and rest[0] in self.arrays:
            array = self.arrays[rest[0]]
            if tag == "scalar":
                return array[()]
            if tag == "tensor":
                import tensorflow as tf

                return tf.constant(array)
            if tag == "model":
                return self._load_model(array)
            return array
        if tag == "optimizer" and len(rest) == 1:
            import keras

            return keras.optimizers.deserialize(rest[0])
        if tag in ("handle", "student", "library"):
            return self._resolve(tree)
        raise ProtocolError(f"unknown or malformed tag {tag!r}")

    def _key(self, tree):
        key = self.decode(tree)
        hash(key)  # a list or dict cannot be a key
        return key

    def _load_model(self, data):
        import keras

        path = tempfile.mktemp(suffix=".keras", dir=self._folder)
        try:
            with open(path, "wb") as handle:
                handle.write(data.tobytes())
            model = keras.saving.load_model(path, safe_mode=self._safe_mode)
        except Exception as error:
            raise ProtocolError(f"the model could not be loaded safely: {type(error).__name__}: "
                                f"{str(error)[:300]}") from None
        finally:
            if os.path.exists(path):
                os.unlink(path)
        self.models.append(model)
        return model


# The Keras modules whose functions a saved model may name by their name alone.
_FUNCTION_MODULES = ("activations", "losses", "metrics", "initializers", "regularizers", "constraints")


def rebuild_problem(model, data):
    """Why the grader, loading ``data`` (the ``.keras`` file of ``model``) with safe_mode and
    Keras alone, would not get the same model back; None when it would.

    The grader has no class or function of the student's: every object the file names must be
    Keras's own (a registered custom layer or ``Loss`` subclass is not, a ``Lambda`` layer holds
    code), and a function that the file names only by its name must be Keras's function of that
    name, not a student's function that happens to share it.
    """
    import keras

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        config = json.loads(archive.read("config.json"))
    for entry in _serialized_objects(config):
        name, module = str(entry.get("class_name")), str(entry.get("module"))
        if name == "function":
            function = entry.get("config")
            if not any(hasattr(getattr(keras, m), str(function)) for m in _FUNCTION_MODULES):
                return f"the function {function!r} is not one of Keras's own"
        elif name in ("Lambda", "__lambda__"):
            return "a Lambda layer holds Python code"
        elif name.startswith("__") and name.endswith("__"):  # Keras's own data: tensors, bytes...
            continue
        elif not (module == "keras" or module.startswith("keras.")) or ">" in str(entry.get("registered_name")):
            return f"{name} is a class of your own"
    for function in _model_functions(model):
        if not str(getattr(function, "__module__", "")).startswith("keras"):
            return f"{getattr(function, '__name__', function)!r} is a function of your own"
    return None


def _serialized_objects(tree):
    if isinstance(tree, dict):
        if "class_name" in tree:
            yield tree
        for value in tree.values():
            yield from _serialized_objects(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _serialized_objects(value)


def _model_functions(model):
    """The plain functions a model holds: its loss (or the one a Keras loss wraps) and the
    activations of its layers."""
    loss = getattr(model, "loss", None)
    losses = list(loss) if isinstance(loss, (list, tuple)) else \
        list(loss.values()) if isinstance(loss, dict) else [loss]
    found = [getattr(loss, "fn", loss) for loss in losses]
    found += [getattr(layer, "activation", None) for layer in model._flatten_layers()]
    return [f for f in found if callable(f) and not isinstance(f, type) and hasattr(f, "__code__")]
