"""A binary classifier whose single output unit goes through a softmax."""
# expect: losses
import keras
import numpy as np

rng = np.random.default_rng(13)
x = rng.normal(size=(300, 4)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="softmax")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, verbose=0)
