"""Standardised features, a linear target with noise, Adam at its default rate."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(108)
x = rng.normal(size=(512, 8)).astype("float32")
y = (x @ rng.normal(size=8) + 0.1 * rng.normal(size=512)).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=25, verbose=0)
