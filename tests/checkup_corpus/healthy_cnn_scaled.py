"""Grey images scaled to [0, 1] with a channel axis, into a small CNN."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(101)
n = 256
ids = rng.integers(0, 2, n)
images = rng.integers(0, 80, (n, 12, 12, 1)).astype("uint8")
images[ids == 1, 3:9, 3:9, :] = 250
x = images.astype("float32") / 255
model = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, ids, epochs=10, verbose=0)
