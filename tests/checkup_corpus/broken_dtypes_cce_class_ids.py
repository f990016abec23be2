"""categorical_crossentropy given class ids instead of one-hot rows."""
# expect: dtypes
import keras
import numpy as np

rng = np.random.default_rng(8)
x = rng.normal(size=(240, 6)).astype("float32")
y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0).astype(int)
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(4, activation="softmax")])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=3, verbose=0)
