"""One positive in a hundred, separable by the first feature."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(105)
x = rng.normal(size=(3000, 4)).astype("float32")
y = (x[:, 0] > 2.33).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
model.fit(x, y, epochs=6, batch_size=64, verbose=0)
