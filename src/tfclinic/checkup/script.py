"""``tfclinic checkup train.py``: run a training script unchanged and check its first ``fit``."""

import runpy
import sys


class _StrictStop(Exception):
    """Raised inside the script's ``fit`` to stop it when ``strict`` and there are errors."""


def run_script(path, args=(), strict=False, deep=False, stream=None):
    """Run the script at ``path`` as ``__main__`` and check the model and data of its first fit.

    ``keras.Model.fit`` is replaced for the duration of the script only: the first call prints
    the checkup report, then training goes on as written (or stops, with ``strict`` and an
    error). Later calls are untouched.

    Args:
        path: the training script.
        args: its command-line arguments (``sys.argv[1:]`` inside the script).
        strict: stop at the first fit when the report has an error, and return 1.
        deep: run the dynamic checks as well.
        stream: where to print the report (default: stdout).

    Returns:
        The exit status: 1 when stopped by ``strict``, the script's own ``sys.exit`` status,
        else 0.
    """
    import keras

    from . import checkup

    stream = stream or sys.stdout
    original = keras.Model.fit
    state = {"checked": False}

    def fit(model, x=None, y=None, *rest, **kwargs):
        if not state["checked"]:
            state["checked"] = True
            try:
                report = checkup(model, x, y, validation_data=kwargs.get("validation_data"),
                                 deep=deep)
            except (TypeError, ValueError) as error:
                print(f"checkup skipped at fit: {error}", file=stream)
            else:
                print(report, file=stream, flush=True)
                if strict and report.errors:
                    raise _StrictStop
        return original(model, x, y, *rest, **kwargs)

    saved_argv = sys.argv
    sys.argv = [str(path), *map(str, args)]
    keras.Model.fit = fit
    try:
        runpy.run_path(str(path), run_name="__main__")
    except _StrictStop:
        print("checkup: stopped before training (--strict and errors above)", file=stream)
        return 1
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        keras.Model.fit = original
        sys.argv = saved_argv
    if not state["checked"]:
        print("checkup: the script never called fit; nothing was checked", file=stream)
    return 0
