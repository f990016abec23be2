"""Ratings 1..5 as class ids for a five-unit softmax: 5 is out of range."""
# expect: losses
import keras
import numpy as np

rng = np.random.default_rng(15)
x = rng.normal(size=(250, 6)).astype("float32")
y = np.clip(np.round(3 + 1.5 * x[:, 0]), 1, 5).astype("int64")
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(5, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=3, verbose=0)
