"""A Python generator of batches with labels -1/+1 for a sigmoid and binary cross-entropy."""
# expect: losses
import keras
import numpy as np

rng = np.random.default_rng(16)
x = rng.normal(size=(320, 5)).astype("float32")
y = np.where(x[:, 0] > 0, 1.0, -1.0).astype("float32")


def batches():
    while True:
        for start in range(0, len(x), 32):
            yield x[start:start + 32], y[start:start + 32]


model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(batches(), steps_per_epoch=10, epochs=3, verbose=0)
