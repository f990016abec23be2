"""``tfclinic checkup train.py``: run a training script unchanged and check how it trains.

While the script runs, the ways Keras trains are hooked: ``Model.fit`` (arrays, lists,
``tf.data``, ``PyDataset`` such as ``ImageDataGenerator.flow``, Python generators),
``Model.train_on_batch``, and custom loops that call ``tfclinic.checkup.watch``. The first
training call of each model prints the checkup report (one batch of a dataset or generator
is read, without consuming it); every call is watched, and when the script ends the run's
losses are judged (learning rate, entropy floor, too few steps). An error the book covers,
raised by a training call, ``evaluate``, ``predict`` or the script itself, is explained
with a code and a link, attached to the exception as a note, and re-raised: the program
fails exactly as it would have.
"""

import inspect
import math
import runpy
import sys
import time

from .findings import INFO, RUN_REGISTRY, WARNING, Finding, Report, run_all

MAX_RECORDED = 100_000  # losses a loop keeps at most (one float each)


class _StrictStop(Exception):
    """Raised inside the script's training call to stop it when ``strict`` and there are errors."""


class _ModelState:
    def __init__(self, model):
        self.model = model
        self.checked = False
        self.ctx = None
        self.how = None
        self.start = None
        self.epochs = []        # epoch losses of fit calls
        self.steps_losses = []  # per-step losses of loops
        self.steps = 0
        self.nonfinite = None
        self.pending = []       # warnings that wait for the run to confirm them


# A run trained badly when its loss ends above this share of the label-entropy floor (a
# classifier) or of its first value (anything else).
BAD_SHARE_OF_FLOOR = 0.8
BAD_SHARE_OF_START = 0.7


def _trained_badly(run):
    if run.nonfinite or not run.curve:
        return bool(run.nonfinite)
    if run.entropy is not None and run.entropy >= 0.05:
        return run.end > BAD_SHARE_OF_FLOOR * run.entropy
    return run.start > 0 and run.end > BAD_SHARE_OF_START * run.start


def _first_line(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


class Session:
    """The hooks of one ``run_script`` (or of ``watch`` calls in a notebook)."""

    def __init__(self):
        self.stream = None
        self.deep = False
        self.strict = False
        self.models = {}
        self.busy = False  # the checkup itself is training a clone: the hooks stand aside

    # ---- printing --------------------------------------------------------------------
    def print(self, text):
        print(text, file=self.stream or sys.stdout, flush=True)

    def state(self, model):
        key = id(model)
        if key not in self.models or self.models[key].model is not model:
            self.models[key] = _ModelState(model)
        return self.models[key]

    # ---- the first look at a model and its data ------------------------------------------
    def first_check(self, model, how, x, y, kwargs=None, validation_data=None):
        """Check the model and (a batch of) its data once; returns what to pass on as x."""
        from . import run_checks
        from .context import Context
        from .data import fit_facts, peek

        state = self.state(model)
        state.how = state.how or how
        if state.checked:
            return x
        state.checked = True
        started = time.perf_counter()
        try:
            peeked = peek(x, y)
        except Exception as error:  # noqa: BLE001 - the data is left to Keras untouched
            self.print(f"checkup skipped at {how}: could not read one batch ({_first_line(error)})")
            return x
        if peeked is None:
            self.print(f"checkup skipped at {how}: it reads arrays, datasets and generators, "
                       f"not {type(x).__name__}")
            return x
        if peeked.x is None:
            self.print(f"checkup skipped at {how}: {peeked.note}")
            return peeked.x_for_keras
        facts = fit_facts(peeked, kwargs or {}) if how == "fit" else {
            "source": how, "sampled": True}
        if peeked.source not in ("arrays", "list") or not isinstance(validation_data, (tuple, list)):
            validation_data = None  # a validation dataset is left to Keras
        try:
            try:
                ctx = Context(model, peeked.x, peeked.y, validation_data, fit=facts)
            except (TypeError, ValueError):
                if validation_data is None:
                    raise
                ctx = Context(model, peeked.x, peeked.y, None, fit=facts)
        except (TypeError, ValueError) as error:
            self.print(f"checkup skipped at {how}: {error}")
            return peeked.x_for_keras
        state.ctx = ctx
        self.busy = True
        try:
            report = run_checks(ctx, deep=self.deep)
        except Exception as error:  # noqa: BLE001 - never break the program
            self.print(f"checkup internal: the checks could not run ({_first_line(error)})")
            return peeked.x_for_keras
        finally:
            self.busy = False
        report = self._defer(state, report)
        seconds = time.perf_counter() - started
        what = {"arrays": "", "list": "", "tf.data": " (one batch of the tf.data.Dataset)",
                "PyDataset": f" (one batch of the {type(x).__name__})",
                "generator": " (the generator's first batch, put back for training)",
                "train_on_batch": " (the first train_on_batch batch)",
                "loop": " (the first batch of the training loop)"}.get(peeked.source, "")
        self.print(f"checkup at the first {how} of {getattr(model, 'name', 'the model')}"
                   f"{what}, {seconds:.2f} s:\n{report}")
        if self.strict and report.errors:
            raise _StrictStop
        return peeked.x_for_keras

    @staticmethod
    def _defer(state, report):
        """Warnings of checks that healthy programs also trip (``check(confirm=True)``)
        become notes now; ``run_report`` makes them warnings again if the run goes badly."""
        from .findings import REGISTRY

        confirm = {entry.code for entry in REGISTRY if entry.confirm}
        kept = []
        for finding in report:
            if finding.code in confirm and finding.severity == WARNING:
                state.pending.append(finding)
                finding = Finding(finding.code, INFO, finding.message + " (a warning if the "
                                  "run then trains badly)", finding.fix, finding.link)
            kept.append(finding)
        return Report(kept, report.internal, report.measurements)

    # ---- explaining errors ---------------------------------------------------------------
    def explain(self, error, model=None, where=None, x=None, y=None):
        """Print and attach (as a note) the explanation of ``error``; once per exception."""
        if getattr(error, "_tfclinic_explained", False):
            return None
        from .checks_crashes import explain

        ctx, printed = None, False
        if model is not None:
            state = self.models.get(id(model))
            ctx = state.ctx if state is not None and state.model is model else None
            printed = ctx is not None  # its report was printed at the first training call
            if ctx is None and x is not None:
                ctx = self._quiet_context(model, x, y)
        try:
            finding = explain(error, ctx, where)
        except Exception:  # noqa: BLE001 - an explanation must never hide the error
            finding = None
        try:
            error._tfclinic_explained = True
        except Exception:  # noqa: BLE001 - some exceptions take no attributes
            pass
        if finding is None:
            return None
        extra = []
        if ctx is not None and not printed:
            from . import run_checks

            self.busy = True
            try:
                static = run_checks(ctx, deep=False)
                extra = [f for f in static.errors if f.code != finding.code]
            except Exception:  # noqa: BLE001
                extra = []
            finally:
                self.busy = False
        report = Report([finding, *extra])
        self.print(f"checkup: the program raised an error the book covers:\n{report}")
        if hasattr(error, "add_note"):
            error.add_note(f"checkup: {finding}")
        return finding

    @staticmethod
    def _quiet_context(model, x, y):
        from .context import Context
        from .data import peek

        try:
            peeked = peek(x, y)
            if peeked is None or peeked.x is None or peeked.source == "generator":
                return None  # a generator's batch cannot be put back any more
            return Context(model, peeked.x, peeked.y, fit={"source": peeked.source,
                                                           "sampled": peeked.sampled})
        except Exception:  # noqa: BLE001
            return None

    # ---- watching the run ----------------------------------------------------------------
    def recorder(self, model):
        import keras

        state = self.state(model)
        session = self

        class _Recorder(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                state.steps += 1
                if state.start is None:
                    loss = session._loss(logs)
                    if loss is not None and math.isfinite(loss):
                        state.start = loss

            def on_epoch_end(self, epoch, logs=None):
                loss = session._loss(logs)
                if loss is None:
                    return
                if not math.isfinite(loss):
                    if state.nonfinite is None:
                        state.nonfinite = f"epoch {len(state.epochs)}"
                    return
                state.epochs.append(loss)

        return _Recorder()

    @staticmethod
    def _loss(value):
        if isinstance(value, dict):
            value = value.get("loss")
        elif isinstance(value, (list, tuple)):
            value = value[0] if value else None
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    def record_step(self, model, loss, how):
        state = self.state(model)
        state.how = state.how or how
        value = self._loss(loss)
        if value is None:
            return
        state.steps += 1
        if not math.isfinite(value):
            if state.nonfinite is None:
                state.nonfinite = f"step {state.steps}"
            return
        if state.start is None:
            state.start = value
        if len(state.steps_losses) < MAX_RECORDED:
            state.steps_losses.append(value)

    def observe_step(self, model, x, y, loss, deep=False, stream=None):
        """``watch``: check the first batch of a custom loop, then record its losses."""
        if stream is not None:
            self.stream = stream
        state = self.state(model)
        report = None
        if self.busy:
            return None
        if not state.checked:
            saved, self.deep = self.deep, self.deep or deep
            try:
                self.first_check(model, "loop", x, y)
            except _StrictStop:
                raise
            except Exception as error:  # noqa: BLE001 - never break the program
                self.print(f"checkup internal: {_first_line(error)}")
            finally:
                self.deep = saved
            report = True
        if loss is not None:
            self.record_step(model, loss, "loop")
        return report

    def run_report(self, model):
        """The report on the recorded run of ``model``: None when it did not train."""
        from .checks_training import Run, label_entropy, summarise

        state = self.models.get(id(model))
        if state is None or state.steps == 0 or (state.start is None and not state.nonfinite):
            return None
        ctx = state.ctx
        curve = list(state.epochs) if state.epochs else summarise(state.steps_losses)
        how = "fit" if state.epochs else "loop"
        run = Run(curve=curve, start=state.start if state.start is not None else float("nan"),
                  steps=state.steps, nonfinite=state.nonfinite, how=how)
        if ctx is not None:
            run.loss = ctx.loss
            run.learning_rate = ctx.learning_rate
            run.optimizer = ctx.optimizer_name
            try:
                run.entropy = label_entropy(ctx.loss, ctx.y_sample if ctx.y is not None else None)
            except Exception:  # noqa: BLE001
                run.entropy = None
        report = run_all(RUN_REGISTRY, run)
        if state.pending and (report.problems or _trained_badly(run)):
            confirmed = [Finding(f.code, WARNING, f.message + f"; and the run trained badly "
                                 f"(loss {run.start:.3g} to {run.end:.3g})", f.fix, f.link)
                         for f in state.pending]
            report = Report([*report, *confirmed], report.internal)
        return report

    def final_reports(self):
        for state in list(self.models.values()):
            try:
                report = self.run_report(state.model)
            except Exception as error:  # noqa: BLE001 - never break the program
                self.print(f"checkup internal: the run could not be judged ({_first_line(error)})")
                continue
            if report is None:
                continue
            name = getattr(state.model, "name", "the model")
            self.print(f"checkup of the training run of {name} ({state.steps} optimizer "
                       f"steps):\n{report}")

    # ---- the hooks -----------------------------------------------------------------------
    def install(self):
        import keras

        self.saved = {name: getattr(keras.Model, name) for name in
                      ("fit", "train_on_batch", "evaluate", "predict", "test_on_batch")}
        session, saved = self, self.saved
        signature = inspect.signature(saved["fit"])

        def fit(model, *args, **kwargs):
            if session.busy:
                return saved["fit"](model, *args, **kwargs)
            try:
                bound = signature.bind(model, *args, **kwargs)
            except TypeError:
                bound = None  # Keras will say what is wrong with the call
            if bound is not None:
                arguments = bound.arguments
                try:
                    x = session.first_check(model, "fit", arguments.get("x"),
                                            arguments.get("y"), arguments,
                                            arguments.get("validation_data"))
                except _StrictStop:
                    raise
                except Exception as error:  # noqa: BLE001 - never break the program
                    x = arguments.get("x")
                    session.print(f"checkup internal: fit was not checked ({_first_line(error)})")
                if x is not arguments.get("x"):
                    arguments["x"] = x  # a generator whose first batch was put back
                try:
                    callbacks = arguments.get("callbacks")
                    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else (
                        [] if callbacks is None else [callbacks])
                    arguments["callbacks"] = [*callbacks, session.recorder(model)]
                except Exception as error:  # noqa: BLE001
                    session.print(f"checkup internal: fit is not watched ({_first_line(error)})")
                args, kwargs = bound.args[1:], bound.kwargs
            try:
                return saved["fit"](model, *args, **kwargs)
            except Exception as error:
                session.explain(error, model, "fit")
                raise

        def train_on_batch(model, x=None, y=None, *args, **kwargs):
            if session.busy:
                return saved["train_on_batch"](model, x, y, *args, **kwargs)
            try:
                state = session.state(model)
                if not state.checked:
                    session.first_check(model, "train_on_batch", x, y)
            except _StrictStop:
                raise
            except Exception as error:  # noqa: BLE001
                session.print(f"checkup internal: train_on_batch was not checked "
                              f"({_first_line(error)})")
            try:
                result = saved["train_on_batch"](model, x, y, *args, **kwargs)
            except Exception as error:
                session.explain(error, model, "train_on_batch", x, y)
                raise
            try:
                session.record_step(model, result, "train_on_batch")
            except Exception:  # noqa: BLE001
                pass
            return result

        def explained(name):
            original = saved[name]

            def call(model, x=None, *args, **kwargs):
                if session.busy:
                    return original(model, x, *args, **kwargs)
                try:
                    return original(model, x, *args, **kwargs)
                except Exception as error:
                    y = args[0] if args and name in ("evaluate", "test_on_batch") else kwargs.get("y")
                    session.explain(error, model, name, x, y)
                    raise
            call.__name__ = name
            return call

        keras.Model.fit = fit
        keras.Model.train_on_batch = train_on_batch
        for name in ("evaluate", "predict", "test_on_batch"):
            setattr(keras.Model, name, explained(name))

    def uninstall(self):
        import keras

        for name, original in getattr(self, "saved", {}).items():
            setattr(keras.Model, name, original)
        self.saved = {}


SESSION = Session()


def run_script(path, args=(), strict=False, deep=False, stream=None):
    """Run the script at ``path`` as ``__main__`` and check how it trains.

    ``keras.Model.fit``, ``train_on_batch``, ``evaluate``, ``predict`` and ``test_on_batch``
    are replaced for the duration of the script only. The first training call of each model
    prints the checkup report, then training goes on as written (or stops, with ``strict``
    and an error); at the end the recorded runs are judged. An error the book covers is
    explained, then re-raised.

    Args:
        path: the training script.
        args: its command-line arguments (``sys.argv[1:]`` inside the script).
        strict: stop at the first training call when the report has an error, and return 1.
        deep: run the dynamic checks as well (a short trial, capped in time).
        stream: where to print the reports (default: stdout).

    Returns:
        The exit status: 1 when stopped by ``strict``, the script's own ``sys.exit`` status,
        else 0.

    Raises:
        Whatever the script raises, after the explanation is printed.
    """
    global SESSION

    session = SESSION = Session()
    session.stream, session.deep, session.strict = stream or sys.stdout, deep, strict
    saved_argv = sys.argv
    sys.argv = [str(path), *map(str, args)]
    session.install()
    stopped = False
    try:
        runpy.run_path(str(path), run_name="__main__")
    except _StrictStop:
        stopped = True
        session.print("checkup: stopped before training (--strict and errors above)")
        return 1
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except Exception as error:
        session.explain(error)
        raise
    finally:
        session.uninstall()
        sys.argv = saved_argv
        if not stopped:
            session.final_reports()
        SESSION = Session()  # watch() outside a script starts afresh
    if not session.models:
        session.print("checkup: the script never trained a Keras model (fit, train_on_batch or "
                      "tfclinic.checkup.watch); nothing was checked")
    return 0
