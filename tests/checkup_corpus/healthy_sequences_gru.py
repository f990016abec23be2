"""Sequences (N, 20 steps, 3 channels) into a GRU regression."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(118)
x = rng.normal(size=(256, 20, 3)).astype("float32")
y = x[:, -5:, 0].mean(axis=1).astype("float32")
model = keras.Sequential([keras.Input((20, 3)), keras.layers.GRU(8), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
model.fit(x, y, epochs=8, verbose=0)
