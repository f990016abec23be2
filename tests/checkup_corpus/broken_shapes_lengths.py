"""Rows were filtered out of x but not out of y."""
# expect: shapes
import keras
import numpy as np

rng = np.random.default_rng(3)
x = rng.normal(size=(300, 4)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")
keep = x[:, 3] > -1.5
x = x[keep]
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(x, y, epochs=2, verbose=0)
