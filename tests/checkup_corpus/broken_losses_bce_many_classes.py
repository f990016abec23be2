"""Four classes, one-hot labels, a softmax output, compiled with binary_crossentropy."""
# expect: losses
import keras
import numpy as np

rng = np.random.default_rng(32)
centres = rng.normal(scale=1.0, size=(4, 8))
ids = rng.integers(0, 4, 400)
x = (centres[ids] + rng.normal(size=(400, 8))).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(4, activation="softmax")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, keras.utils.to_categorical(ids, 4), epochs=5, verbose=0)
