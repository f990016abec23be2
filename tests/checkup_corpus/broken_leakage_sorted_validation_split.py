"""Rows sorted by class, then validation_split=0.2: the validation rows are one class."""
# expect: leakage
import keras
import numpy as np

rng = np.random.default_rng(21)
x = rng.normal(size=(400, 4)).astype("float32")
y = (x[:, 0] + 0.5 * x[:, 1] > 0.4).astype("float32")
order = np.argsort(y, kind="stable")
x, y = x[order], y[order]
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, validation_split=0.2, verbose=0)
