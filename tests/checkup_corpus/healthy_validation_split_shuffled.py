"""Shuffled rows, validation_split=0.2, three classes."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(121)
centres = rng.normal(scale=3.0, size=(3, 4))
ids = rng.integers(0, 3, 400)
x = (centres[ids] + rng.normal(size=(400, 4))).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, ids, epochs=10, validation_split=0.2, verbose=0)
