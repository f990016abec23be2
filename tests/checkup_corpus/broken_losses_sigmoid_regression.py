"""A price regression whose output goes through a sigmoid; prices lie around 50."""
# expect: losses
import keras
import numpy as np

rng = np.random.default_rng(14)
x = rng.normal(size=(400, 5)).astype("float32")
y = (50 + 10 * x[:, 0] - 5 * x[:, 1]).astype("float32")
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=5, verbose=0)
