"""Survey answers on a 1..5 scale: many respondents answer alike, on both sides of the split."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(104)
x = rng.integers(1, 6, (600, 3)).astype("float32")
y = (x[:, 0] + x[:, 1] + rng.normal(scale=0.5, size=600) > 6).astype("float32")
xs = (x - 3) / 1.4
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(xs[:450], y[:450], epochs=12, validation_data=(xs[450:], y[450:]), verbose=0)
