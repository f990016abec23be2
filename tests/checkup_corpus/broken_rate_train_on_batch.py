"""A train_on_batch loop whose SGD rate makes the loss overflow."""
# expect: learning_rate
import keras
import numpy as np

rng = np.random.default_rng(26)
x = (10 * rng.normal(size=(512, 6))).astype("float32")
y = (x[:, 0] * 3 + x[:, 1]).astype("float32")
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
for epoch in range(3):
    for start in range(0, 512, 64):
        loss = model.train_on_batch(x[start:start + 64], y[start:start + 64])
