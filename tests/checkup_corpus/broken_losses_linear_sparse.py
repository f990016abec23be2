"""Logits (no activation) into sparse_categorical_crossentropy without from_logits."""
# expect: losses
import keras
import numpy as np

rng = np.random.default_rng(12)
x = rng.normal(size=(300, 6)).astype("float32")
y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(3)])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, verbose=0)
