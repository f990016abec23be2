"""Adam with learning_rate=1.0: the first epoch's loss explodes, accuracy lags."""
# expect: learning_rate
import keras
import numpy as np

rng = np.random.default_rng(24)
x = rng.normal(size=(300, 8)).astype("float32")
y = (x[:, 0] - x[:, 2] > 0).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(1.0), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, verbose=0)
