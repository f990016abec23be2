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

A model from student code is loaded in the grader, which has no limits of its own, so its
archive is checked before Keras reads it (``check_model_archive``: only the members
``Model.save`` writes, each within a size and a compression ratio, a bounded config and a
weights file whose datasets are sized from their HDF5 headers), its weights are counted
while Keras builds it from the config, each before it is allocated, and the load runs under a
lower memory limit (``_guarded_load``). A model that fails any of these is a
``ProtocolError``, which the test that received it reports.
"""

import contextlib
import io
import json
import math
import os
import shutil
import struct
import tempfile
import zipfile
from pathlib import PurePosixPath

import numpy as np

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_PLAIN = (type(None), bool, int, float, str)

# A model from student code: 5 million parameters is 20 MB of float32 weights, a hundred
# times the largest model of the lessons; the weights file may hold those and an optimizer's
# slots. Members are what ``keras.Model.save`` writes (Keras stores them uncompressed).
MAX_MODEL_PARAMETERS = 5_000_000
MAX_WEIGHT_BYTES = 16 * MAX_MODEL_PARAMETERS
_MEMBER_BYTES = {"config.json": 1 << 20, "metadata.json": 64 << 10, "model.weights.h5": MAX_MESSAGE_BYTES}
MAX_ASSET_BYTES = 8 << 20          # all of assets/ together (vocabularies of lookup layers)
MAX_MODEL_MEMBERS = 64
MAX_EXPANSION = 100                # unpacked / stored bytes, for a member over 1 MiB
MAX_CONFIG_OBJECTS = 10_000        # serialized objects in config.json: layers, initializers...
MAX_WEIGHT_OBJECTS = 100_000       # groups and datasets in the weights file
LOAD_HEADROOM_BYTES = 512 << 20    # memory a load may add to the grader's before it fails


class ProtocolError(Exception):
    """A message that is not well formed, too big, or holds something that is not data."""


class NotGradable(ProtocolError):
    """Student code gave back a value the grader cannot receive; the message names its form."""


ACCEPTED = ("return NumPy arrays, tensors, numbers, strings, or lists, tuples and dicts of "
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
                              f"to the grader: {ACCEPTED}")
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
            raise NotGradable(f"a {_form(value)} cannot be sent to the grader: {ACCEPTED}")
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
            payload = data.tobytes()
            if self._safe_mode:  # the grader's side: student code made these bytes
                check_model_archive(payload)
            with open(path, "wb") as handle:
                handle.write(payload)
            with _guarded_load() if self._safe_mode else contextlib.nullcontext():
                model = keras.saving.load_model(path, safe_mode=self._safe_mode)
        except Exception as error:
            reason = str(error) if isinstance(error, ProtocolError) else f"{type(error).__name__}: {error}"
            raise ProtocolError(f"the model could not be loaded safely: {reason[:300]}") from None
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


def check_model_archive(data):
    """Refuse the bytes of a ``.keras`` file that are not what ``keras.Model.save`` writes.

    Reads the zip directory, ``config.json`` (at most 1 MiB) and the HDF5 headers of the
    weights file, never the weights: a few milliseconds for a lesson's model.

    Raises:
        ProtocolError: naming the first problem (a member Keras does not write, a size, a
            compression ratio, a link or an oversized dataset in the weights file...).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_members(archive.infolist())
            _check_config(archive.read("config.json"))
            if "model.weights.h5" in archive.namelist():
                _check_weights(archive.read("model.weights.h5"))
    except ProtocolError:
        raise
    except Exception as error:
        raise ProtocolError(f"not a Keras archive: {type(error).__name__}: {str(error)[:200]}") from None


def _check_members(infos):
    names = [info.filename for info in infos]
    if len(names) > MAX_MODEL_MEMBERS or len(set(names)) != len(names) or "config.json" not in names:
        raise ProtocolError(f"a Keras archive has config.json once and at most {MAX_MODEL_MEMBERS} "
                            f"distinct members; this one has {len(names)}")
    assets = 0
    for info in infos:
        limit = _MEMBER_BYTES.get(info.filename)
        if limit is None:
            if not _is_asset(info.filename):
                raise ProtocolError(f"the archive holds {info.filename[:80]!r}, which Keras does not write")
            assets += info.file_size
            limit = MAX_ASSET_BYTES
        if info.file_size > limit or assets > MAX_ASSET_BYTES:
            raise ProtocolError(f"{info.filename[:80]!r} unpacks to {info.file_size:,} bytes, over the "
                                f"limit of {limit:,}")
        if info.file_size > 1 << 20 and info.file_size > MAX_EXPANSION * info.compress_size:
            raise ProtocolError(f"{info.filename[:80]!r} unpacks to {info.file_size:,} bytes from "
                                f"{info.compress_size:,}: a decompression bomb")


def _is_asset(name):
    parts = PurePosixPath(name).parts
    return (len(parts) >= 2 and parts[0] == "assets" and not name.startswith("/")
            and not any(part in ("..", ".") or "\\" in part or "\0" in part for part in parts))


def _check_config(text):
    """Parse the config (at most 1 MiB by then) and count its serialized objects."""
    stack, objects = [json.loads(text)], 0
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            objects += "class_name" in value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        if objects > MAX_CONFIG_OBJECTS:
            raise ProtocolError(f"the model's config holds more than {MAX_CONFIG_OBJECTS:,} objects")


def _check_weights(data):
    """Read the weights file's headers (h5py's low-level calls: a millisecond or two): hard
    links only, no external or virtual datasets, no strings or references, and at most
    ``MAX_WEIGHT_BYTES`` declared by datasets and attributes together. A dataset's header
    declares its shape, and reading it allocates that much, whatever the file stores."""
    import h5py
    from h5py import h5d, h5l, h5o, h5t

    with h5py.File(io.BytesIO(data), "r") as weights:
        root, links = weights.id, []
        root.links.visit(lambda name, info: links.append(info.type) if len(links) <= MAX_WEIGHT_OBJECTS else 1,
                         info=True)
        if len(links) > MAX_WEIGHT_OBJECTS:
            raise ProtocolError(f"the weights file holds more than {MAX_WEIGHT_OBJECTS:,} objects")
        if any(kind != h5l.TYPE_HARD for kind in links):
            raise ProtocolError("the weights file holds a soft or external link")
        declared = [_attribute_bytes(root, h5o.get_info(root).num_attrs)]

        def visit(name, info):
            if info.type == h5o.TYPE_DATASET:
                dataset = h5d.open(root, name)
                plist, kind = dataset.get_create_plist(), dataset.get_type()
                if plist.get_layout() == h5d.VIRTUAL or plist.get_external_count() or \
                        kind.get_class() in (h5t.STRING, h5t.VLEN, h5t.REFERENCE):
                    raise ProtocolError(f"the weights file holds {name[:40]!r}, which is not an array of numbers")
                declared.append(dataset.get_space().get_simple_extent_npoints() * kind.get_size())
            if info.num_attrs:
                declared.append(_attribute_bytes(h5o.open(root, name), info.num_attrs))
            if sum(declared) > MAX_WEIGHT_BYTES:
                raise ProtocolError(f"the weights file declares more than {MAX_WEIGHT_BYTES:,} bytes")

        h5o.visit(root, visit, info=True)


def _attribute_bytes(item, count):
    from h5py import h5a

    return sum(h5a.open(item, index=i).get_storage_size() for i in range(count))


@contextlib.contextmanager
def _guarded_load():
    """Load a student's model in the grader with a parameter budget and a memory limit.

    Keras builds every layer from the config before it reads the weights file, so a config
    that declares ``Dense(14000)`` on 14000 inputs would allocate 784 MB there, whatever the
    file holds. ``keras.Layer.add_weight`` is counted while the model is built, and refuses the
    weight that takes it past ``MAX_MODEL_PARAMETERS``, before allocating it. What is not a
    layer weight (a lookup table, an RNN's state) is held by the memory limit: the soft
    ``RLIMIT_DATA`` is lowered to what the grader uses plus ``LOAD_HEADROOM_BYTES``, so an
    allocation past it fails (a ``MemoryError``) instead of taking the machine's memory, and
    raised back afterwards (a soft limit may go back up to the hard one). The backend starts
    first: its thread pools' stacks would count against the limit of the first load.
    """
    import keras

    build = keras.Layer.add_weight
    counted = 0

    def add_weight(layer, *args, **kwargs):
        nonlocal counted
        shape = kwargs.get("shape", args[0] if args else None)
        with contextlib.suppress(TypeError, ValueError):  # a malformed shape: Keras says why
            counted += math.prod(int(d) for d in (shape or ()))
        if counted > MAX_MODEL_PARAMETERS:
            raise ProtocolError(f"the model has more than {MAX_MODEL_PARAMETERS:,} parameters")
        return build(layer, *args, **kwargs)

    keras.ops.zeros(())  # the backend's runtime and its thread stacks exist before the limit
    keras.Layer.add_weight = add_weight
    try:
        with _memory_limit(LOAD_HEADROOM_BYTES):
            yield
    finally:
        keras.Layer.add_weight = build


@contextlib.contextmanager
def _memory_limit(headroom):
    """Lower the soft ``RLIMIT_DATA`` to the data this process maps now plus ``headroom``
    (Linux: ``VmData`` in ``/proc/self/status``); elsewhere, or when the limit is lower
    already, nothing changes."""
    try:
        import resource

        with open("/proc/self/status") as status:
            used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmData:"))
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    except (ImportError, OSError, StopIteration, ValueError):
        yield
        return
    limit = used + headroom if hard == resource.RLIM_INFINITY else min(used + headroom, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        yield
        return
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
