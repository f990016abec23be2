"""Token ids (0..199) into an Embedding: ids are not scaled."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(117)
x = rng.integers(0, 200, (400, 64))
y = (np.isin(x, np.arange(10)).sum(axis=1) > 3).astype("float32")
model = keras.Sequential([keras.Input((64,)), keras.layers.Embedding(200, 8),
                          keras.layers.GlobalAveragePooling1D(),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=12, verbose=0)
