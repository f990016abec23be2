"""Unstandardised features (scale ~30) with SGD at a rate fit for standardised ones."""
# expect: learning_rate
import keras
import numpy as np

rng = np.random.default_rng(23)
x = (30 * rng.normal(size=(256, 4))).astype("float32")
y = (x @ np.array([0.1, -0.2, 0.05, 0.3], dtype="float32")).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
model.fit(x, y, epochs=5, verbose=0)
