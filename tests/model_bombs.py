"""Tiny ``.keras`` archives that would take the grader's memory or disk if it loaded them.

Each is a real archive that ``keras.Model.save`` wrote for a small model, edited: a config
that declares a huge layer (at the top or nested two models deep), a config padded to
64 MiB, members of zeros that unpack to 192 MiB, and a weights file whose dataset declares
1.6 GB without storing it. All are under 300 KB; ``honest()`` is the unedited small model.
"""

import io
import json
import zipfile


def _saved(model):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        with zipfile.ZipFile(path) as archive:
            return {name: archive.read(name) for name in archive.namelist()}


def _archive(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _small_dense():
    import keras

    return keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])


def _nested_embedding():
    import keras

    inner = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Embedding(10, 2)])
    inputs = keras.Input(shape=(4,))
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(inner(inputs)))
    return keras.Model(inputs, outputs)


def _edit_config(members, edit):
    """``members`` with ``edit(layer_config)`` applied to every nested object's config."""
    config = json.loads(members["config.json"])
    stack = [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "class_name" in value and isinstance(value.get("config"), dict):
                edit(value["class_name"], value["config"], value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return {**members, "config.json": json.dumps(config).encode()}


def _wide(width):
    def edit(class_name, config, entry):
        if class_name == "InputLayer":
            config["batch_shape"] = [None, width]
        if class_name == "Dense":
            config["units"] = width
        if "build_config" in entry:
            entry["build_config"] = {"input_shape": [None, width]}
        if "build_input_shape" in config:
            config["build_input_shape"] = [None, width]
    return edit


def _huge_vocabulary(class_name, config, entry):
    if class_name == "Embedding":
        config["input_dim"] = 60_000_000  # 480 million parameters: 1.9 GB


def _sparse_weights():
    """A weights file whose one dataset declares (20000, 20000) float32 and stores nothing."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as weights:
        weights.create_dataset("layers/dense/vars/0", shape=(20_000, 20_000), dtype="float32",
                               chunks=(1000, 1000))
        weights.create_dataset("layers/dense/vars/1", data=[0.0], dtype="float32")
    return buffer.getvalue()


def honest():
    """The bytes of a small model's archive, as ``keras.Model.save`` writes them."""
    return _archive(_saved(_small_dense()))


def bombs():
    """``{name: archive bytes}``, each a way to exhaust the memory or disk of the loader."""
    dense = _saved(_small_dense())
    return {
        "wide_dense": _archive(_edit_config(dense, _wide(14_000))),
        "nested_embedding": _archive(_edit_config(_saved(_nested_embedding()), _huge_vocabulary)),
        "padded_config": _archive({**dense, "config.json": dense["config.json"] + b" " * (64 << 20)}),
        "zero_assets": _archive({**dense, **{f"assets/zeros-{i}": bytes(32 << 20) for i in range(6)}}),
        "sparse_weights": _archive({**dense, "model.weights.h5": _sparse_weights()}),
    }
