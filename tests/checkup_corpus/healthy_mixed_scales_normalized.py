"""Income in dollars next to age in years, standardised by a Normalization layer."""
# expect: none
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(122)
age = rng.uniform(18, 80, 500)
income = rng.lognormal(10.5, 0.5, 500)
x = np.column_stack([age, income, rng.normal(size=500) * 1e-3]).astype("float32")
y = ((age - 50) / 20 + (np.log(income) - 10.5) > 0).astype("float32")
norm = keras.layers.Normalization()
norm.adapt(x)
model = keras.Sequential([keras.Input((3,)), norm, keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=12, verbose=0)
