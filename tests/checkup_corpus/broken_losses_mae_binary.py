"""A binary classifier with a sigmoid output, compiled with mean absolute error."""
# expect: losses
import keras
import numpy as np

rng = np.random.default_rng(11)
x = rng.normal(size=(400, 8)).astype("float32")
y = (x[:, :3].sum(axis=1) > 0).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="mae", metrics=["accuracy"])
model.fit(x, y, epochs=5, verbose=0)
