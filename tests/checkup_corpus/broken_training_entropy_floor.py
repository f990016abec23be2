"""Hidden ReLUs initialised dead: only the output bias learns, the class frequencies."""
# expect: training
import keras
import numpy as np

rng = np.random.default_rng(29)
x = rng.normal(size=(400, 6)).astype("float32")
y = (x[:, 0] > 0.3).astype("float32")
model = keras.Sequential([
    keras.Input((6,)),
    keras.layers.Dense(16, activation="relu", bias_initializer=keras.initializers.Constant(-20.0)),
    keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=12, verbose=0)
