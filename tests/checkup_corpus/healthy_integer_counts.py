"""Small integer count features (0..9), not scaled: Keras casts them, the model trains."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(100)
x = rng.integers(0, 10, (500, 6))
y = (x[:, 0] + x[:, 1] > 9).astype("float32")
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=20, verbose=0)
