"""A share in (0, 1) as regression target: a sigmoid output is right here."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(109)
x = rng.normal(size=(400, 4)).astype("float32")
y = (1 / (1 + np.exp(-(x[:, 0] - x[:, 1])))).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
model.fit(x, y, epochs=15, verbose=0)
