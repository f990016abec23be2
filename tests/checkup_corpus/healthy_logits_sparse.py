"""Logits into SparseCategoricalCrossentropy(from_logits=True)."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(110)
centres = rng.normal(scale=3.0, size=(4, 8))
ids = rng.integers(0, 4, 400)
x = (centres[ids] + rng.normal(size=(400, 8))).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(4)])
model.compile(optimizer=keras.optimizers.Adam(0.01),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
model.fit(x, ids, epochs=10, verbose=0)
