"""Flattened 0-255 grey images into a small MLP trained with SGD."""
# expect: scaling
import keras
import numpy as np

rng = np.random.default_rng(17)
n = 400
ids = rng.integers(0, 4, n)
images = rng.integers(0, 60, (n, 16, 16)).astype("float32")
for i, k in enumerate(ids):
    images[i, 4 * k:4 * k + 4, :] = 255.0
x = images.reshape(n, 256)
model = keras.Sequential([keras.Input((256,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(4, activation="softmax")])
model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, ids, epochs=5, verbose=0)
