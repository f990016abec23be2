"""SGD with learning_rate=1e-5: after ten epochs the loss has not moved."""
# expect: learning_rate
import keras
import numpy as np

rng = np.random.default_rng(25)
x = rng.normal(size=(256, 6)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("float32")
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.SGD(1e-5), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=10, verbose=0)
