"""The graders' corpus of wrong fixes: plausible repairs of each exercise that still get it wrong.

One source, two readers:

- the lesson tests (``tests/test_<lesson>.py``, graded by ``tests/test_lessons.py`` for the
  lessons that share one contract) grade every fix here as an edit of the solution notebook
  and assert that it earns less than full marks, exactly its ``score`` where one is given,
  and nothing in the test cells named by ``caught_by``;
- the instructor guide (the ``{wrong-fixes}`` directive of :mod:`tfclinic.course.sphinx_lessons`)
  lists, per exercise, the three fixes marked ``common``, with their ``mistake`` in words.

``common`` ranks 1 to 3 the fixes the course's authors expect to see most often in a class:
each makes the symptom the chapter teaches (the error message, the flat loss, the score that
is too good) go away with a small edit, and leaves its cause in place. It is a judgment
recorded here, not a count: tfclinic keeps no statistics of what students hand in.

The fixes are wrong by design and no solution cell is here: those stay in ``solutions/``.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class WrongFix:
    """One plausible wrong repair of one solution cell of a lesson."""

    name: str  # unique within its lesson, used as the student's name when graded
    cell: str  # nbgrader grade_id of the solution cell whose source it replaces
    mistake: str  # what it gets wrong, as the instructor guide says it
    source: str  # the cell's new source
    common: int = None  # 1, 2, 3: the three the guide lists for the exercise, most likely first
    score: int = None  # the exact points its lesson's tests require, where they pin one
    # The test cells that must fail it on every seed. A fix gets these instead of a ``score``
    # where another of its cells passes on some seeds and fails on others: the pin then names
    # the tests that catch the mistake, and leaves the rest to the data.
    caught_by: tuple = ()


# The losses corpus edits one cell at a time; these templates are the solution's cells with
# the choices left open. tests/test_losses.py builds its correct fixes with them too.

_BINARY = '''
def build_binary_classifier(n_features):
    inputs = keras.Input(shape=(n_features,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    outputs = keras.layers.Dense(1, activation={activation})(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer={optimizer}, loss={loss})
    return model
'''

_MULTICLASS = '''
def prepare_labels(labels, n_classes):
    return {labels}


def build_multiclass_classifier(n_features, n_classes):
    inputs = keras.Input(shape=(n_features,))
    hidden = keras.layers.Dense(32, activation="relu")(inputs)
    outputs = keras.layers.Dense(n_classes, activation={activation})(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer={optimizer}, loss={loss})
    return model
'''

_REGRESSOR = '''
def build_regressor(n_features):
    inputs = keras.Input(shape=(n_features,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    outputs = keras.layers.Dense(1, activation={activation})(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer={optimizer}, loss={loss})
    return model
'''

_INITIAL = '''
def expected_initial_loss(n_classes):
    return {formula}


def initial_loss_is_sane(model, x, labels, n_classes, tolerance=1.0):
    first = model.evaluate(x, labels, verbose=0, return_dict=True)["loss"]
    return abs(first - expected_initial_loss(n_classes)) < tolerance
'''

ADAM = "keras.optimizers.Adam(learning_rate=0.01)"
INTEGERS = "np.asarray(labels)"
ONE_HOT = "keras.utils.to_categorical(labels, n_classes)"


def binary(activation, optimizer, loss):
    """``(grade_id, source)`` of a binary classifier with these choices."""
    return ("losses-binary", _BINARY.format(activation=activation, optimizer=optimizer, loss=loss))


def multiclass(labels, activation, optimizer, loss):
    """``(grade_id, source)`` of label preparation and a multiclass classifier."""
    return ("losses-multiclass", _MULTICLASS.format(labels=labels, activation=activation,
                                                    optimizer=optimizer, loss=loss))


def regressor(activation, optimizer, loss='"mse"'):
    """``(grade_id, source)`` of a regressor with these choices."""
    return ("losses-regressor", _REGRESSOR.format(activation=activation, optimizer=optimizer,
                                                  loss=loss))


def initial(formula):
    """``(grade_id, source)`` of the initial-loss check with this expected loss."""
    return ("losses-initial-loss", _INITIAL.format(formula=formula))


def picker(body):
    """``(grade_id, source)`` of ``pick_learning_rate`` with this body."""
    return ("losses-pick-learning-rate", "def pick_learning_rate(final_losses):\n" + body)


def _losses(name, cell_and_source, mistake, common=None):
    cell, source = cell_and_source
    return WrongFix(name, cell, mistake, source, common=common)


# The playbook corpus edits one of the capstone's three functions; its build_model fixes
# share this template, the solution's cell with the scaling, the output and the loss open.

_PLAYBOOK_MODEL = '''
def build_model(x_train):
    n_features = x_train.shape[1]
{scaling}    model = keras.Sequential([
        keras.Input(shape=(n_features,)),
        {layers},
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss={loss})
    return model
'''

ADAPTED = "    normalizer = keras.layers.Normalization()\n    normalizer.adapt(x_train)\n"
HIDDEN = 'keras.layers.Dense(16, activation="relu")'
SIGMOID = 'keras.layers.Dense(1, activation="sigmoid")'


def playbook_model(*layers, loss='"binary_crossentropy"', scaling=ADAPTED):
    """``(grade_id, source)`` of the capstone's ``build_model``: ``scaling`` lines, then the
    ``layers`` after ``keras.Input`` (each a string), compiled with ``loss``."""
    return ("playbook-build-model", _PLAYBOOK_MODEL.format(
        scaling=scaling, layers=",\n        ".join(layers), loss=loss))


def _playbook(name, cell_and_source, mistake, common=None, score=None, caught_by=()):
    cell, source = cell_and_source
    return WrongFix(name, cell, mistake, source, common=common, score=score,
                    caught_by=tuple(f"playbook-{test}-test" for test in caught_by))


def playbook_accuracy(body):
    """``(grade_id, source)`` of the capstone's ``accuracy`` with this body."""
    return ("playbook-accuracy", "def accuracy(probabilities, labels):\n" + body)


def playbook_training(fit, report="accuracy(probabilities(model, x_test), y_test)",
                      restore=True):
    """``(grade_id, source)`` of ``train_and_report``: early stopping (restoring the best
    weights or not), then ``fit`` (lines), then the returned ``report``."""
    return ("playbook-train-and-report",
            "def train_and_report(model, x_train, y_train, x_test, y_test):\n"
            "    stop = keras.callbacks.EarlyStopping(monitor=\"val_loss\", patience=3"
            + (", restore_best_weights=True)\n" if restore else ")\n")
            + fit + f"    return {report}\n")


# The leakage corpus' fit_model fixes share the solution's cell with the adapted rows, the
# early stopping and the fit's held-out rows left open.

def leakage_fit(adapt_on, stop, held_out):
    """``(grade_id, source)`` of ``fit_model``: adapt on ``adapt_on``, stop early with the
    ``stop`` callback's arguments, and fit with ``held_out`` (keyword arguments, as text)."""
    return ("leakage-fit-model", f'''
def fit_model(x_train, y_train, x_test, y_test):
    normalize = keras.layers.Normalization()
    normalize.adapt({adapt_on})
    stop = keras.callbacks.EarlyStopping({stop})
    model = keras.Sequential([keras.Input(shape=(x_train.shape[1],)), normalize,
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=20, batch_size=64, verbose=0,
              {held_out}, callbacks=[stop])
    return model
''')


_leakage = _losses  # the same wrapper: a WrongFix from a template's (grade_id, source)


CORPUS = {
    "shapes": (
        WrongFix("reshape-instead-of-stack", "shapes-make-features",
                 "Reshapes the stacked columns to (samples, features): the shape is right, the "
                 "values are scrambled, because a reshape is not a transpose.", '''
def make_features(table):
    columns = [np.asarray(values, dtype="float32") for values in table.values()]
    return np.stack(columns).reshape(len(columns[0]), len(columns))
''', common=2),
        WrongFix("hard-coded-eight", "shapes-build-model",
                 "Types the feature count of the notebook's data into keras.Input: the error "
                 "goes away, and comes back with the next table.", '''
def build_model(n_features):
    inputs = keras.Input(shape=(8,))
    outputs = keras.layers.Dense(1)(inputs)
    return keras.Model(inputs, outputs)
''', common=1),
        WrongFix("dense-n-features", "shapes-build-model",
                 "Gives the output layer one unit per feature instead of one prediction per "
                 "sample.", '''
def build_model(n_features):
    inputs = keras.Input(shape=(n_features,))
    outputs = keras.layers.Dense(n_features)(inputs)
    return keras.Model(inputs, outputs)
'''),
        WrongFix("reshape-to-column", "shapes-predict-one",
                 "Reshapes the sample to a column (N, 1): N samples of one feature, not a batch "
                 "of one sample.", '''
def predict_one(model, sample):
    sample = np.asarray(sample, dtype="float32")
    return float(model.predict(sample.reshape(-1, 1), verbose=0)[0, 0])
'''),
        WrongFix("expand-dims-wrong-axis", "shapes-loss",
                 "Adds the missing axis to the labels in front: (1, N) against (N, 1) still "
                 "broadcasts to (N, N).", '''
def mean_squared_error(y_true, y_pred):
    y_true = tf.expand_dims(tf.cast(y_true, y_pred.dtype), 0)
    return tf.reduce_mean(tf.square(y_true - y_pred))
'''),
        WrongFix("squeeze-predictions-only", "shapes-loss",
                 "Squeezes the predictions' last axis and leaves the labels alone: right for "
                 "(N,) labels, an (N, N) matrix again for (N, 1) labels.", '''
def mean_squared_error(y_true, y_pred):
    y_true = tf.cast(y_true, y_pred.dtype)
    return tf.reduce_mean(tf.square(y_true - tf.squeeze(y_pred, axis=-1)))
''', common=3),
        WrongFix("sorted-column-names", "shapes-make-features",
                 "Stacks the columns in the order of their sorted names: the notebook's names "
                 "sort in table order, other tables' names do not.", '''
def make_features(table):
    columns = [np.asarray(table[name], dtype="float32") for name in sorted(table)]
    return np.stack(columns, axis=1)
'''),
    ),
    "dtypes": (
        WrongFix("cast-after-the-sum", "dtypes-preprocess",
                 "Casts to float32 after adding the two uint8 exposures, when the sum has "
                 "already wrapped around.", '''
def preprocess(frames, labels):
    frames = tf.convert_to_tensor(frames)
    labels = tf.cast(labels, tf.int32)
    total = tf.cast(frames[:, 0] + frames[:, 1], tf.float32)
    pixels = tf.reshape(total, (tf.shape(total)[0], -1))
    mean = tf.reduce_mean(pixels, axis=0)
    std = tf.math.reduce_std(pixels, axis=0)
    return (pixels - mean) / std, labels
''', common=1),
        WrongFix("widen-to-int32", "dtypes-preprocess",
                 "Widens the pixels to int32: the sum no longer overflows, but the mean of "
                 "integers still truncates.", '''
def preprocess(frames, labels):
    frames = tf.cast(frames, tf.int32)
    labels = tf.cast(labels, tf.int32)
    total = frames[:, 0] + frames[:, 1]
    pixels = tf.reshape(total, (tf.shape(total)[0], -1))
    mean = tf.reduce_mean(pixels, axis=0)
    std = tf.math.reduce_std(tf.cast(pixels, tf.float32), axis=0)
    return (tf.cast(pixels, tf.float32) - tf.cast(mean, tf.float32)) / std, labels
''', common=2),
        WrongFix("halve-each-exposure", "dtypes-preprocess",
                 "Halves each exposure in uint8 before adding them: no overflow, and the odd "
                 "bit of every pixel is thrown away.", '''
def preprocess(frames, labels):
    frames = tf.convert_to_tensor(frames)
    labels = tf.cast(labels, tf.int32)
    total = tf.cast(frames[:, 0] // 2 + frames[:, 1] // 2, tf.float32)
    pixels = tf.reshape(total, (tf.shape(total)[0], -1))
    mean = tf.reduce_mean(pixels, axis=0)
    std = tf.math.reduce_std(pixels, axis=0)
    return (pixels - mean) / std, labels
'''),
        WrongFix("float64-throughout", "dtypes-preprocess",
                 "Computes in float64 and returns float64 features: the right numbers, twice "
                 "the memory, and not the float32 asked for.", '''
def preprocess(frames, labels):
    frames = tf.cast(frames, tf.float64)
    labels = tf.cast(labels, tf.int32)
    total = frames[:, 0] + frames[:, 1]
    pixels = tf.reshape(total, (tf.shape(total)[0], -1))
    mean = tf.reduce_mean(pixels, axis=0)
    std = tf.math.reduce_std(pixels, axis=0)
    return (pixels - mean) / std, labels
'''),
        WrongFix("labels-int64", "dtypes-preprocess",
                 "Casts the labels to int64: an integer, but not the int32 asked for.", '''
def preprocess(frames, labels):
    frames = tf.cast(frames, tf.float32)
    labels = tf.cast(labels, tf.int64)
    total = frames[:, 0] + frames[:, 1]
    pixels = tf.reshape(total, (tf.shape(total)[0], -1))
    mean = tf.reduce_mean(pixels, axis=0)
    std = tf.math.reduce_std(pixels, axis=0)
    return (pixels - mean) / std, labels
'''),
        WrongFix("cast-logits-to-the-labels", "dtypes-train-step",
                 "Makes the dtypes agree the wrong way round, rounding the logits to integers: "
                 "an integer logit has no gradient.", '''
def train_step(model, optimizer, features, labels):
    with tf.GradientTape() as tape:
        logits = model(features, training=True)[:, 0]
        loss = tf.reduce_mean(tf.square(labels - tf.cast(tf.round(logits), labels.dtype)))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    predicted = tf.cast(logits > 0, tf.float32)
    accuracy = tf.reduce_mean(tf.cast(predicted == tf.cast(labels, tf.float32), tf.float32))
    return tf.cast(loss, tf.float32), accuracy
'''),
        WrongFix("cast-the-accuracy-after-the-mean", "dtypes-train-step",
                 "Repairs the loss, then casts the accuracy to float32 after the integer mean "
                 "has already truncated it to 0 or 1.", '''
def train_step(model, optimizer, features, labels):
    with tf.GradientTape() as tape:
        logits = model(features, training=True)[:, 0]
        targets = tf.cast(labels, logits.dtype)
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    predicted = tf.cast(logits > 0, labels.dtype)
    accuracy = tf.cast(tf.reduce_mean(tf.cast(predicted == labels, tf.int32)), tf.float32)
    return loss, accuracy
''', common=3),
        WrongFix("accuracy-after-the-update", "dtypes-train-step",
                 "Measures the accuracy with the model after apply_gradients, not on the "
                 "batch's logits before the update that the loss was computed from.", '''
def train_step(model, optimizer, features, labels):
    with tf.GradientTape() as tape:
        logits = model(features, training=True)[:, 0]
        targets = tf.cast(labels, logits.dtype)
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    predicted = tf.cast(model(features, training=False)[:, 0] > 0, labels.dtype)
    accuracy = tf.reduce_mean(tf.cast(predicted == labels, tf.float32))
    return loss, accuracy
'''),
        WrongFix("cross-entropy-without-from-logits", "dtypes-train-step",
                 "Casts the labels correctly, then applies a cross-entropy for probabilities to "
                 "logits.", '''
def train_step(model, optimizer, features, labels):
    with tf.GradientTape() as tape:
        logits = model(features, training=True)[:, 0]
        targets = tf.cast(labels, logits.dtype)
        loss = keras.losses.binary_crossentropy(targets, logits)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    accuracy = tf.reduce_mean(tf.cast(tf.cast(logits > 0, tf.int32) == labels, tf.float32))
    return loss, accuracy
'''),
    ),
    # Each scaling fix has the exact score its tests require (learns 4, train-only 3,
    # same-transform 3): the cells it passes show which test catches which mistake.
    "scaling": (
        WrongFix("scalar-statistics", "scaling-make-pipeline",
                 "Takes one mean and one standard deviation of the whole matrix (no axis=0): "
                 "the columns still differ by a factor of a million.", '''
def make_pipeline(x_train):
    mean, std = x_train.mean(), x_train.std()
    return (lambda features: (features - mean) / std), build_model(x_train.shape[1])
''', common=3, score=0),
        WrongFix("normalization-axis-none", "scaling-make-pipeline",
                 "The same mistake with the Keras layer: Normalization(axis=None) learns one "
                 "mean and one variance for all columns.", '''
def make_pipeline(x_train):
    normalizer = keras.layers.Normalization(axis=None)
    normalizer.adapt(x_train)
    return unchanged, build_model(x_train.shape[1], preprocessing=[normalizer])
''', score=0),
        WrongFix("forgot-adapt", "scaling-make-pipeline",
                 "Puts a Normalization layer in the model and never adapts it: it silently "
                 "passes the raw values through.", '''
def make_pipeline(x_train):
    return unchanged, build_model(x_train.shape[1], preprocessing=[keras.layers.Normalization()])
''', common=1, score=0),
        WrongFix("hard-coded-units", "scaling-make-pipeline",
                 "Types in the units of this notebook's table: nothing leaks, and nothing is "
                 "learned from the data, so a new table breaks it.", '''
def make_pipeline(x_train):
    units = np.array([0.01, 1.0, 100.0, 10000.0], dtype="float32")
    return (lambda features: features / units - 5.0), build_model(x_train.shape[1])
''', score=3),
        WrongFix("fit-on-all-data", "scaling-make-pipeline",
                 "Adapts on the training, validation and test rows together: the statistics "
                 "leak the held-out data into training.", '''
def make_pipeline(x_train):
    normalizer = keras.layers.Normalization()
    normalizer.adapt(np.concatenate([x_train, x_val, x_test]))
    return unchanged, build_model(x_train.shape[1], preprocessing=[normalizer])
''', score=0),
        WrongFix("each-split-own-statistics", "scaling-make-pipeline",
                 "Scales every split, and every request, with its own statistics: it learns, "
                 "and then fails on one row or on an unusual batch.", '''
def make_pipeline(x_train):
    def prepare(features):
        return (features - features.mean(axis=0)) / features.std(axis=0)
    return prepare, build_model(x_train.shape[1])
''', common=2, score=7),
        WrongFix("statistics-of-the-first-batch", "scaling-make-pipeline",
                 "Learns the mean and standard deviation from the first rows `prepare` is ever "
                 "given, not from `x_train`: right when training comes first, wrong when a "
                 "prediction does.", '''
def make_pipeline(x_train):
    learned = {}

    def prepare(features):
        if not learned:
            learned["mean"], learned["std"] = features.mean(axis=0), features.std(axis=0)
        return (features - learned["mean"]) / learned["std"]
    return prepare, build_model(x_train.shape[1])
''', score=7),
        WrongFix("scaled-train-in-place", "scaling-make-pipeline",
                 "Scales the training array in place and returns no transform: validation "
                 "and serving data stay raw.", '''
def make_pipeline(x_train):
    x_train -= x_train.mean(axis=0)
    x_train /= x_train.std(axis=0)
    return unchanged, build_model(x_train.shape[1])
''', score=0),
        WrongFix("layer-normalization", "scaling-make-pipeline",
                 "Uses LayerNormalization, which normalizes each row across its columns, so "
                 "the money column still dominates every row.", '''
def make_pipeline(x_train):
    return unchanged, build_model(x_train.shape[1], preprocessing=[keras.layers.LayerNormalization()])
''', score=0),
        WrongFix("batch-normalization", "scaling-make-pipeline",
                 "Uses BatchNormalization: it trains, but its moving statistics still lag "
                 "behind the data after the fixed budget.", '''
def make_pipeline(x_train):
    return unchanged, build_model(x_train.shape[1], preprocessing=[keras.layers.BatchNormalization()])
''', score=0),
    ),
    # Each losses fix repairs half of a cell, or repairs it in a way that only looks right;
    # tests/test_losses.py requires each to cost exactly the points of its own cell.
    "losses": (
        _losses("pairing-fixed-rate-still-tiny",
                binary('"sigmoid"', "keras.optimizers.Adam(1e-6)", '"binary_crossentropy"'),
                "Pairs the sigmoid with the loss and keeps the learning rate of 1e-6: "
                "consistent, and nothing is learned."),
        _losses("rate-fixed-logits-read-as-probabilities",
                binary("None", ADAM, '"binary_crossentropy"'),
                "Repairs the learning rate and leaves the output without a sigmoid, so the loss "
                "still reads logits as probabilities.", common=1),
        _losses("sigmoid-and-from-logits",
                binary('"sigmoid"', ADAM, "keras.losses.BinaryCrossentropy(from_logits=True)"),
                "Adds a sigmoid and also tells the loss it gets logits: it trains, because "
                "Keras 3 repairs it with a warning, and says the opposite of what it does."),
        _losses("softmax-over-one-unit", binary('"softmax"', ADAM, '"binary_crossentropy"'),
                "Puts a softmax on the single output unit: the loss falls like a correct "
                "model's while every prediction is 1."),
        _losses("rate-overshoots-to-one",
                binary('"sigmoid"', "keras.optimizers.Adam(1.0)", '"binary_crossentropy"'),
                "Raises the learning rate all the way to 1.0, which overshoots."),
        _losses("one-hot-labels-sparse-loss",
                multiclass(ONE_HOT, '"softmax"', ADAM, '"sparse_categorical_crossentropy"'),
                "One-hot labels with the sparse loss, which wants class numbers: Keras stops "
                "with a shape error."),
        _losses("one-hot-for-four-classes",
                multiclass("np.eye(4)[labels]", '"softmax"', ADAM, '"categorical_crossentropy"'),
                "One-hot encodes with the four classes of the notebook typed in: right for "
                "four classes only."),
        _losses("logits-read-as-probabilities",
                multiclass(INTEGERS, "None", ADAM, '"sparse_categorical_crossentropy"'),
                "Switches to the sparse loss for the integer labels and drops the softmax, so "
                "the loss reads logits as probabilities."),
        _losses("mean-squared-error-on-one-hot",
                multiclass(ONE_HOT, '"softmax"', ADAM, '"mse"'),
                "Trains the classifier with mean squared error on one-hot labels."),
        _losses("log-base-2", initial("math.log2(n_classes)"),
                "Expects log2 of the number of classes: Keras measures cross-entropy in nats, "
                "the natural logarithm."),
        _losses("log-of-chance", initial("math.log(1 / n_classes)"),
                "Expects log(1 / n_classes), without the minus sign: a negative loss, which "
                "a cross-entropy never is.",
                common=2),
        _losses("relu-output", regressor('"relu"', ADAM),
                "Replaces the sigmoid output with relu, which lets predictions above 1 but "
                "not below 0."),
        _losses("output-fixed-rate-still-one",
                regressor("None", "keras.optimizers.SGD(learning_rate=1.0)"),
                "Removes the sigmoid and keeps SGD at a learning rate of 1.0, which "
                "diverges."),
        _losses("rate-fixed-sigmoid-kept", regressor('"sigmoid"', ADAM),
                "Repairs the learning rate and keeps the sigmoid output, which cannot "
                "predict a value outside 0 to 1.", common=3),
        _losses("sorted-first",
                picker("    return sorted(final_losses, key=final_losses.get)[0]\n"),
                "Sorts the rates by final loss and takes the first: the same as min, and "
                "still fooled by nan."),
        _losses("nan-to-zero",
                picker("    return min(final_losses, key=lambda rate: "
                       "np.nan_to_num(final_losses[rate]))\n"),
                "Replaces nan by 0.0 before taking the minimum: the diverged run now looks "
                "perfect."),
    ),
    # The capstone's fixes each repair one bug badly, or one of the two in build_model only:
    # each pins its exact score, so the cells it passes show which test catches which mistake.
    # Two scaling mistakes pin the tests that catch them instead: whether their pipeline still
    # reaches 0.9 on the hidden rows in other units depends on the seed (measured on five).
    "playbook": (
        _playbook("scaled-output-still-logits",
                  playbook_model("normalizer", HIDDEN, "keras.layers.Dense(1)"),
                  "Adds the scaling and leaves the output without a sigmoid, so binary "
                  "cross-entropy still reads raw scores as probabilities.", common=1, score=9),
        _playbook("sigmoid-output-unscaled",
                  playbook_model(HIDDEN, SIGMOID, scaling=""),
                  "Adds the sigmoid and no scaling: the loss falls now, and the model still "
                  "depends on the units the columns were measured in.", score=7),
        _playbook("sigmoid-and-from-logits",
                  playbook_model("normalizer", HIDDEN, SIGMOID,
                                 loss="keras.losses.BinaryCrossentropy(from_logits=True)"),
                  "Adds a sigmoid and also tells the loss it gets logits: Keras 3 repairs the "
                  "training with a warning, and everything that reads the loss is misled.", score=7),
        _playbook("softmax-over-one-unit",
                  playbook_model("normalizer", HIDDEN, 'keras.layers.Dense(1, activation="softmax")'),
                  "Puts a softmax on the single output unit: every probability is 1, so every "
                  "tumour is called malignant.", score=4),
        _playbook("adapted-on-every-row",
                  playbook_model("normalizer", HIDDEN, SIGMOID,
                                 scaling="    normalizer = keras.layers.Normalization()\n"
                                         "    normalizer.adapt(x)\n"),
                  "Adapts the normalization on the notebook's whole table instead of its "
                  "argument: the test rows leak into the statistics.",
                  caught_by=("pairing", "scaling")),
        _playbook("normalization-never-adapted",
                  playbook_model("normalizer", HIDDEN, SIGMOID,
                                 scaling="    normalizer = keras.layers.Normalization()\n"),
                  "Puts a Normalization layer in the model and never adapts it: the raw values "
                  "pass through it unchanged.", score=7),
        _playbook("divide-by-the-largest-value",
                  playbook_model("keras.layers.Rescaling(1.0 / float(x_train.max()))", HIDDEN, SIGMOID,
                                 scaling=""),
                  "Divides every column by the largest value in the table: the predictions then "
                  "follow the units of one column, so the scaling test fails, though the areas "
                  "alone often still classify the test rows well.", caught_by=("scaling",)),
        _playbook("round-instead-of-threshold", playbook_accuracy(
                      "    return float(np.mean(np.round(probabilities) == labels))\n"),
                  "Rounds the probabilities instead of comparing them with 0.5: the same "
                  "classes, and the same (N, 1) against (N,) broadcast to N by N.", common=3, score=8),
        _playbook("flatten-the-labels", playbook_accuracy(
                      "    return float(np.mean((probabilities > 0.5) == np.ravel(labels)))\n"),
                  "Flattens the labels, which were flat already, and leaves the (N, 1) "
                  "predictions as they are: still an N by N comparison.", score=8),
        _playbook("argmax-as-the-class", playbook_accuracy(
                      "    return float(np.mean(np.argmax(probabilities, axis=1) == labels))\n"),
                  "Takes the argmax over the output as for several classes: with one unit it "
                  "is always 0, so the accuracy is the share of benign tumours.", score=8),
        _playbook("stop-on-test-without-restoring", playbook_training(
                      "    model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=EPOCHS,\n"
                      "              batch_size=BATCH_SIZE, callbacks=[stop], verbose=0)\n",
                      restore=False),
                  "Keeps watching the test rows and only stops restoring the best weights: "
                  "the test score still chooses when training ends.", common=2, score=10),
        _playbook("validation-split-of-all-rows", playbook_training(
                      "    model.fit(np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test]),\n"
                      "              validation_split=0.2, epochs=EPOCHS, batch_size=BATCH_SIZE,\n"
                      "              callbacks=[stop], verbose=0)\n"),
                  "Joins training and test rows and lets validation_split hold some back: "
                  "most test rows are now trained on.", score=10),
        _playbook("stop-on-the-notebook-table", playbook_training(
                      "    model.fit(x_train, y_train, validation_data=(x, y), epochs=EPOCHS,\n"
                      "              batch_size=BATCH_SIZE, callbacks=[stop], verbose=0)\n"),
                  "Stops early on the notebook's whole table, read as globals instead of its "
                  "arguments: the notebook's test rows still choose the epoch.", score=10),
        _playbook("report-what-evaluate-returns", playbook_training(
                      "    model.fit(x_train, y_train, validation_split=0.2, epochs=EPOCHS,\n"
                      "              batch_size=BATCH_SIZE, callbacks=[stop], verbose=0)\n",
                      report="float(model.evaluate(x_test, y_test, verbose=0))"),
                  "Stops on a validation split and reports model.evaluate, which returns the "
                  "test loss, not an accuracy, for a model compiled without metrics.", score=8),
        _playbook("report-the-training-accuracy", playbook_training(
                      "    model.fit(x_train, y_train, validation_split=0.2, epochs=EPOCHS,\n"
                      "              batch_size=BATCH_SIZE, callbacks=[stop], verbose=0)\n",
                      report="accuracy(probabilities(model, x_train), y_train)"),
                  "Stops on a validation split and then reports the accuracy on the rows the "
                  "model was trained on.", score=8),
    ),
    "leakage": (
        WrongFix("sorted-column-names", "leakage-choose-features",
                 "Drops the leaking column, and stacks the others in the order of their sorted "
                 "names instead of the table's.", '''
def choose_features(table):
    names = sorted(name for name in table if name != "refund_issued")
    return np.column_stack([np.asarray(table[name], dtype="float32") for name in names])
'''),
        WrongFix("drop-wrong-column", "leakage-choose-features",
                 "Drops a column, but not the one that is filled in after the customer "
                 "churned.", '''
def choose_features(table):
    names = [name for name in table if name != "late_payments"]
    return np.column_stack([np.asarray(table[name], dtype="float32") for name in names])
''', common=1),
        WrongFix("deduplicate-each-part", "leakage-split-rows",
                 "Removes copies inside each part after splitting, so a customer can still "
                 "sit on both sides.", '''
def split_rows(x, y, test_fraction=0.25, seed=0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    parts = []
    for rows in (order[n_test:], order[:n_test]):
        _, first = np.unique(x[rows], axis=0, return_index=True)
        parts.append(rows[np.sort(first)])
    train, test = parts
    return x[train], x[test], y[train], y[test]
''', common=2),
        WrongFix("unique-rows-forget-labels", "leakage-split-rows",
                 "Deduplicates with np.unique, which sorts the rows, and keeps the labels in "
                 "their old order: they no longer belong to their rows.", '''
def split_rows(x, y, test_fraction=0.25, seed=0):
    rng = np.random.default_rng(seed)
    x = np.unique(x, axis=0)
    y = y[:len(x)]
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return x[train], x[test], y[train], y[test]
'''),
        WrongFix("unique-rows-split-sorted", "leakage-split-rows",
                 "Deduplicates with np.unique and splits without shuffling: the test part "
                 "is the sorted tail, long-tenure customers only.", '''
def split_rows(x, y, test_fraction=0.25, seed=0):
    x, first = np.unique(x, axis=0, return_index=True)
    y = y[first]
    n_test = int(round(test_fraction * len(x)))
    return x[:-n_test], x[-n_test:], y[:-n_test], y[-n_test:]
'''),
        _leakage("adapt-on-train-stop-on-test", leakage_fit(
                     "x_train", 'monitor="val_accuracy", patience=2, restore_best_weights=True',
                     "validation_data=(x_test, y_test)"),
                 "Adapts the normalization on the training part, and still lets the test "
                 "score choose the epoch through early stopping.", common=3),
        _leakage("stop-on-the-notebook-table", leakage_fit(
                     "x_train", 'monitor="val_loss", patience=2, restore_best_weights=True',
                     "validation_data=(features, churned)"),
                 "Adapts on the training part and stops early on the notebook's whole feature "
                 "table, read as a global: the test rows still choose the epoch."),
        _leakage("stop-on-validation-adapt-on-all", leakage_fit(
                     "np.concatenate([x_train, x_test])", "patience=2, restore_best_weights=True",
                     "validation_split=0.2"),
                 "Stops early on a validation split of the training part, and still adapts "
                 "the normalization on the test rows too."),
    ),
}


def wrong_fixes(lesson):
    """The lesson's wrong fixes, in the corpus' order.

    Raises:
        KeyError: if the corpus has no entry for ``lesson``.
    """
    return CORPUS[lesson]


def as_cell_edits(lesson):
    """``{name: (grade_id, source)}``: the lesson's corpus as edits of the solution notebook."""
    return {fix.name: (fix.cell, fix.source) for fix in wrong_fixes(lesson)}


def most_common(lesson):
    """The three fixes marked ``common`` for the lesson's exercise, most likely first."""
    return sorted((fix for fix in wrong_fixes(lesson) if fix.common), key=lambda fix: fix.common)
