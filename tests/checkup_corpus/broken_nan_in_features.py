"""A missing value left as NaN in the features."""
# expect: nan
import keras
import numpy as np

rng = np.random.default_rng(30)
x = rng.normal(size=(200, 5)).astype("float32")
y = (x[:, 1] + x[:, 2]).astype("float32")
x[17, 3] = np.nan
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3, verbose=0)
