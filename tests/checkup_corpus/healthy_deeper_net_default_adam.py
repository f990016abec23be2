"""A five-layer network at Adam's default rate: it learns, but needs many steps to overfit."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(116)
x = rng.normal(size=(512, 10)).astype("float32")
y = (np.sin(x[:, 0]) + x[:, 1] * x[:, 2] > 0).astype("float32")
model = keras.Sequential([keras.Input((10,))] + [keras.layers.Dense(32, activation="relu")
                                                 for _ in range(4)]
                         + [keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=20, verbose=0)
