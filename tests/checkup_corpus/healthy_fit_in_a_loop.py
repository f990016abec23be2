"""fit called once per epoch in a loop, evaluating after each."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(119)
x = rng.normal(size=(400, 5)).astype("float32")
y = (x[:, 0] + x[:, 3] > 0).astype("float32")
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
for epoch in range(10):
    model.fit(x[:320], y[:320], epochs=1, verbose=0)
    model.evaluate(x[320:], y[320:], verbose=0)
