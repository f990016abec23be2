"""Three output units, labels one-hot encoded over four classes (a class id off by one)."""
# expect: shapes
import keras
import numpy as np

rng = np.random.default_rng(1)
x = rng.normal(size=(200, 5)).astype("float32")
ids = 1 + (x[:, 0] > 0) + (x[:, 1] > 0)  # 1..3, one-hot with num_classes = max + 1 = 4
y = keras.utils.to_categorical(ids)
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer="adam", loss="categorical_crossentropy")
model.fit(x, y, epochs=2, verbose=0)
