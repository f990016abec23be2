"""Flattened 0-255 pixels into a model that starts with BatchNormalization."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(103)
n = 300
ids = rng.integers(0, 2, n)
images = rng.integers(0, 60, (n, 8, 8)).astype("float32")
images[ids == 1, 2:6, 2:6] = rng.integers(120, 256, (int((ids == 1).sum()), 4, 4))
x = images.reshape(n, 64)
model = keras.Sequential([keras.Input((64,)), keras.layers.BatchNormalization(),
                          keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, ids, epochs=10, verbose=0)
