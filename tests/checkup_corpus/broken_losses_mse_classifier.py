"""Ten classes, one-hot labels, softmax output, trained with mean squared error."""
# expect: losses
import keras
import numpy as np

rng = np.random.default_rng(10)
centres = rng.normal(scale=2.0, size=(10, 12))
ids = rng.integers(0, 10, 600)
x = (centres[ids] + rng.normal(size=(600, 12))).astype("float32")
y = keras.utils.to_categorical(ids, 10)
model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", metrics=["accuracy"])
model.fit(x, y, epochs=5, batch_size=32, verbose=0)
