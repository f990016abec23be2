"""A short run that stops early once the validation loss levels off."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(123)
x = rng.normal(size=(600, 4)).astype("float32")
y = (x[:, 0] > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
stop = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
model.fit(x, y, epochs=40, validation_split=0.25, callbacks=[stop], verbose=0)
