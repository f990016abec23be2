"""A functional model with two named inputs, trained on a dict of arrays."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(120)
a = rng.normal(size=(300, 3)).astype("float32")
b = rng.normal(size=(300, 2)).astype("float32")
y = (a[:, 0] + b[:, 0] > 0).astype("float32")
ia, ib = keras.Input((3,), name="a"), keras.Input((2,), name="b")
h = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([ia, ib]))
model = keras.Model([ia, ib], keras.layers.Dense(1, activation="sigmoid")(h))
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
model.fit({"a": a, "b": b}, y, epochs=10, verbose=0)
