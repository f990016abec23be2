"""Images go straight into Dense(10): the output keeps the image axes, the labels do not."""
# expect: shapes
import keras
import numpy as np

rng = np.random.default_rng(0)
x = rng.random((128, 14, 14)).astype("float32")
y = rng.integers(0, 10, 128)
model = keras.Sequential([keras.Input((14, 14)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=2, verbose=0)
