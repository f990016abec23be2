"""Sigmoid outputs with categorical cross-entropy: the loss reads the logits, it trains."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(107)
x = rng.normal(size=(400, 6)).astype("float32")
ids = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(3, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, keras.utils.to_categorical(ids, 3), epochs=10, verbose=0)
