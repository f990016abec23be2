"""Rows read from a CSV file into Python lists, handed to fit as they are."""
# expect: dtypes
import keras
import numpy as np

rng = np.random.default_rng(5)
rows = rng.normal(size=(200, 3)).round(3).tolist()
labels = [1.0 if r[0] + r[1] > 0 else 0.0 for r in rows]
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(rows, labels, epochs=3, verbose=0)
