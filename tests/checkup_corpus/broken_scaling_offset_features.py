"""Sensor readings of about 20000 that vary by a few tenths."""
# expect: scaling
import keras
import numpy as np

rng = np.random.default_rng(18)
signal = rng.normal(size=(400, 3))
x = (20000 + 0.2 * signal).astype("float32")
y = (signal[:, 0] - signal[:, 1] > 0).astype("float32")
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, verbose=0)
