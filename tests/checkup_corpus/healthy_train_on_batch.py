"""A train_on_batch loop over shuffled batches."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(114)
x = rng.normal(size=(512, 6)).astype("float32")
y = (x[:, 0] * 2 - x[:, 1]).astype("float32")
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
for epoch in range(8):
    order = rng.permutation(512)
    for start in range(0, 512, 64):
        take = order[start:start + 64]
        model.train_on_batch(x[take], y[take])
