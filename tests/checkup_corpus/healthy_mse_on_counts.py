"""Regression of a small integer count (0..8) with mean squared error."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(124)
x = rng.normal(size=(500, 5)).astype("float32")
y = np.clip(np.round(4 + 1.5 * x[:, 0] + x[:, 1]), 0, 8).astype("float32")
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
model.fit(x, y, epochs=15, verbose=0)
