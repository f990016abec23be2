"""Two-unit softmax with binary cross-entropy on one-hot labels: Keras 3 trains it."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(106)
x = rng.normal(size=(400, 6)).astype("float32")
y = keras.utils.to_categorical((x[:, 0] + x[:, 1] > 0).astype(int), 2)
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=10, verbose=0)
