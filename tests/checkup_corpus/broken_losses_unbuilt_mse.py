"""A Sequential model declared without an input shape, a softmax classifier trained with MSE."""
# expect: losses
import keras
import numpy as np

rng = np.random.default_rng(31)
centres = rng.normal(scale=2.0, size=(5, 6))
ids = rng.integers(0, 5, 400)
x = (centres[ids] + rng.normal(size=(400, 6))).astype("float32")
model = keras.Sequential([keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(5, activation="softmax")])
model.compile(optimizer="sgd", loss="mean_squared_error", metrics=["accuracy"])
model.fit(x, keras.utils.to_categorical(ids, 5), epochs=5, verbose=0)
