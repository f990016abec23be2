"""An endless Python generator of shuffled batches, with steps_per_epoch."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(112)
x = rng.normal(size=(320, 5)).astype("float32")
y = (x[:, 0] + x[:, 2] > 0).astype("float32")


def batches():
    while True:
        order = rng.permutation(len(x))
        for start in range(0, len(x), 32):
            take = order[start:start + 32]
            yield x[take], y[take]


model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(batches(), steps_per_epoch=10, epochs=10, verbose=0)
