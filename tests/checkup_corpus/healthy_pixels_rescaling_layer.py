"""0-255 pixels, rescaled by the model's first layer."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(102)
n = 256
ids = rng.integers(0, 3, n)
images = rng.integers(0, 60, (n, 12, 12)).astype("uint8")
for i, k in enumerate(ids):
    images[i, 4 * k:4 * k + 4, :] = 255
model = keras.Sequential([keras.Input((12, 12)), keras.layers.Rescaling(1 / 255),
                          keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(images, ids, epochs=10, verbose=0)
