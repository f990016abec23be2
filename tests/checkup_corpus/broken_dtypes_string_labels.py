"""Class names as labels, never mapped to ids."""
# expect: dtypes
import keras
import numpy as np

rng = np.random.default_rng(6)
x = rng.normal(size=(150, 4)).astype("float32")
y = np.where(x[:, 0] > 0, "setosa", np.where(x[:, 1] > 0, "virginica", "versicolor"))
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=3, verbose=0)
