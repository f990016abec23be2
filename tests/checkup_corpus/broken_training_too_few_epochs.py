"""Two epochs of a 10-class problem: the loss is still falling fast when training stops."""
# expect: training
import keras
import numpy as np

rng = np.random.default_rng(28)
centres = rng.normal(scale=1.5, size=(10, 16))
ids = rng.integers(0, 10, 512)
x = (centres[ids] + rng.normal(size=(512, 16))).astype("float32")
model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, ids, epochs=2, batch_size=64, verbose=0)
