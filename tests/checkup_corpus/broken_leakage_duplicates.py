"""Rows appended twice to a table before it was split into training and validation."""
# expect: leakage
import keras
import numpy as np

rng = np.random.default_rng(22)
x = rng.normal(size=(300, 5)).astype("float32")
y = (x[:, 0] > 0).astype("float32")
x, y = np.concatenate([x, x[:120]]), np.concatenate([y, y[:120]])
order = rng.permutation(len(x))
x, y = x[order], y[order]
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x[:320], y[:320], epochs=5, validation_data=(x[320:], y[320:]), verbose=0)
