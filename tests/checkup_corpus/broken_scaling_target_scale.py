"""House prices in dollars as regression targets, with SGD."""
# expect: scaling
import keras
import numpy as np

rng = np.random.default_rng(20)
x = rng.normal(size=(300, 4)).astype("float32")
y = (250000 + 60000 * x[:, 0] + 20000 * x[:, 1]).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=5, verbose=0)
