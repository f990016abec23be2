"""Training works; predicting one sample passes it without its batch axis."""
# expect: shapes
import keras
import numpy as np

rng = np.random.default_rng(2)
x = rng.normal(size=(256, 4)).astype("float32")
y = x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
model.fit(x, y, epochs=40, verbose=0)
print(model.predict(x[0], verbose=0))
