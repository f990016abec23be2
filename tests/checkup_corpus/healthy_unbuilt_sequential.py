"""A Sequential model declared without an input shape: fit builds it from the data."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(125)
x = rng.normal(size=(400, 6)).astype("float32")
y = (x[:, 0] - x[:, 1] > 0).astype("float32")
model = keras.Sequential([keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=10, verbose=0)
