"""A table with a text column, turned into an object array."""
# expect: dtypes
import keras
import numpy as np

rng = np.random.default_rng(7)
n = 120
table = np.empty((n, 3), dtype=object)
table[:, 0] = rng.normal(size=n)
table[:, 1] = rng.choice(["red", "green", "blue"], n)
table[:, 2] = rng.normal(size=n)
y = (rng.random(n) > 0.5).astype("float32")
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(table, y, epochs=2, verbose=0)
