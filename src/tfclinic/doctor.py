"""``tfclinic doctor``: check, in well under a minute, that this machine can take the course.

The design follows scikit-learn's estimator checks: every check is a small function named
``check_<what>`` that takes a ``Machine`` (the facts it reads: Python's version, the
environment of its subprocesses, the folder, the thresholds) and returns a ``Result``
(name, ``PASS``/``WARN``/``FAIL``, what it found, the fix). ``CHECKS`` lists them in the
order they run; ``run_checks`` runs each one, times it, and turns a check that raises into
a ``FAIL`` naming the exception, so one broken check never hides the others.

The statuses mean:

- ``FAIL``: the course will not work here until the fix is applied (``tfclinic doctor``
  exits with status 1);
- ``WARN``: it works, with a risk the line names (a TensorFlow other than the pinned one,
  little disk or memory); the exit status stays 0;
- ``PASS``: nothing to do.

TensorFlow is imported and trained in a subprocess with a deadline, so a hung or crashing
TensorFlow costs the doctor its deadline and a ``FAIL``, never a hang. That subprocess starts
before the first check and is read by the last two, so the cheap checks run while it
imports TensorFlow.

Which Python and TensorFlow the course needs is read from tfclinic's installed metadata,
which pip builds from ``pyproject.toml`` (``requires-python`` and the ``cpu`` and ``gpu``
extras): the pins are written once, there.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from .sandbox.confine import LAYERS

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"

# Measured on Linux with Python 3.11 and TensorFlow 2.21 (CPU build): `du -sh .venv` after
# `make install` is 2.2 GB. A second install (`make clean && make install TF=gpu`, or a fresh
# checkout) needs that much again.
INSTALL_GB = 2.2
# Below this, writing the book build, a workspace's checkpoints or grading's feedback may fill
# the disk part way through.
DISK_MINIMUM_GB = 1.0
# A notebook kernel that has imported TensorFlow and trained a small model holds about 0.6 GB
# (the training check reports its peak: 624 MB on Linux); JupyterLab and the browser tab add about as much.
MEMORY_NEEDED_GB = 2.0
MEMORY_MINIMUM_GB = 1.0
TRAIN_SECONDS = 2.0
# Importing TensorFlow takes 3 to 10 s on a laptop (the first time after boot is the slowest).
TENSORFLOW_TIMEOUT_SECONDS = 45.0
CONFINEMENT_TIMEOUT_SECONDS = 20.0
INSTALL_FIX = "in the tfclinic checkout run `make install` (or `python -m pip install -e '.[cpu,course]'`)"

# Runs in `python -c`: import TensorFlow as a lesson does, then fit a tiny model on random
# data for a fixed time. One JSON object per line, so a run killed at its deadline still
# says how far it got.
_TENSORFLOW_PROBE = r"""
import json, sys, time

def say(**fields):
    print(json.dumps(fields), flush=True)

start = time.perf_counter()
try:
    from tfclinic.runtime import begin
    begin(0)
    import keras
    import numpy as np
    import tensorflow as tf
except BaseException as error:
    say(error=f"{type(error).__name__}: {error}"[:300])
    raise SystemExit(0)
say(tensorflow=tf.__version__, keras=keras.__version__, import_seconds=time.perf_counter() - start)

budget = float(sys.argv[1])
rng = np.random.default_rng(0)
x = rng.normal(size=(2048, 8)).astype("float32")
y = x @ rng.normal(size=(8, 1)).astype("float32") + 0.1 * rng.normal(size=(2048, 1)).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")

class StopAfter(keras.callbacks.Callback):  # at least 3 epochs: the first one also traces
    def on_epoch_end(self, epoch, logs=None):
        if epoch >= 2 and time.perf_counter() - began >= budget:
            self.model.stop_training = True

began = time.perf_counter()
losses = model.fit(x, y, batch_size=64, epochs=100_000, verbose=0,
                   callbacks=[StopAfter()]).history["loss"]
peak = 0.0
try:
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 ** 2 if sys.platform == "darwin" else 1024)
except ImportError:
    pass
say(train_seconds=time.perf_counter() - began, epochs=len(losses), first_loss=losses[0],
    last_loss=losses[-1], peak_mb=peak)
"""

# Runs in `python -c`: confine this process exactly as grading confines a student's, report
# which layers hold, and try to read a file outside the sandbox (argv[1]) as student code would.
_CONFINEMENT_PROBE = r"""
import json, sys, tempfile
from tfclinic.sandbox.confine import confine, landlock_abi

work = tempfile.mkdtemp()
held = confine(work)
try:
    open(sys.argv[1]).close()
    outside = "readable"
except OSError:
    outside = "blocked"
print(json.dumps({"held": held, "abi": landlock_abi(), "outside": outside}))
"""


@dataclass(frozen=True)
class Result:
    """What one check found."""

    name: str
    status: str  # PASS, WARN or FAIL
    found: str
    fix: str = ""
    seconds: float = 0.0  # set by run_checks


def _default_env():
    from .runtime import quiet_environment

    return {**os.environ, **quiet_environment()}


@dataclass
class Machine:
    """The facts the checks read. ``Machine()`` describes this machine; tests change fields.

    ``tensorflow`` and ``confinement`` are what the two probe subprocesses report; left as
    None they are measured on first use (and the TensorFlow one only once).
    """

    folder: Path = field(default_factory=Path.cwd)
    python_version: tuple = tuple(sys.version_info[:3])
    python: str = sys.executable
    env: dict = field(default_factory=_default_env)
    instructor: bool = False
    install_gb: float = INSTALL_GB
    disk_minimum_gb: float = DISK_MINIMUM_GB
    memory_needed_gb: float = MEMORY_NEEDED_GB
    memory_minimum_gb: float = MEMORY_MINIMUM_GB
    train_seconds: float = TRAIN_SECONDS
    timeout: float = TENSORFLOW_TIMEOUT_SECONDS
    tensorflow: dict = None
    confinement: dict = None
    _run: object = field(default=None, repr=False)

    def start_tensorflow(self):
        """Start the TensorFlow subprocess now (unless a report was given), without waiting."""
        if self.tensorflow is None and self._run is None:
            self._run = _TensorflowRun(self.python, self.env, self.train_seconds, self.timeout)

    def tensorflow_report(self, until):
        """The TensorFlow probe's fields once ``until`` is among them, or it failed or timed out.

        Keys: ``tensorflow``, ``keras``, ``import_seconds`` after the import; ``train_seconds``,
        ``epochs``, ``first_loss``, ``last_loss``, ``peak_mb`` after training; ``error`` when
        the import raised; ``exit`` and ``stderr`` when the process died; ``timed_out``.
        """
        if self.tensorflow is not None:
            return self.tensorflow
        self.start_tensorflow()
        return self._run.report(until)

    def close(self):
        """Stop the TensorFlow subprocess if it still runs, and remove its files."""
        if self._run is not None:
            self._run.close()


class _TensorflowRun:
    """The import-and-train subprocess: started once, read by two checks.

    Its output goes to a file, not a pipe, which this process reads through a descriptor of
    its own (a shared one would move the child's write position) while the child runs.
    """

    def __init__(self, python, env, seconds, timeout):
        self.folder = tempfile.mkdtemp(prefix="tfclinic-doctor-")  # cwd: no stray keras.py
        self.path = Path(self.folder) / "probe.jsonl"
        with open(self.path, "w") as out, open(Path(self.folder) / "stderr", "w") as err:
            self.process = subprocess.Popen([python, "-c", _TENSORFLOW_PROBE, str(seconds)],
                                            cwd=self.folder, env=env, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=err, start_new_session=True)
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.fields, self.finished = {}, False

    def _read(self):
        for line in self.path.read_text().splitlines():
            try:
                self.fields.update(json.loads(line))
            except ValueError:
                pass  # a line still being written
        return self.fields

    def report(self, until):
        while True:
            if self.finished:
                return dict(self.fields)
            fields = self._read()
            if until in fields or "error" in fields or "exit" in fields or "timed_out" in fields:
                return dict(fields)
            code = self.process.poll()
            if code is not None:
                fields = self._read()
                if until not in fields and "error" not in fields:
                    stderr = (Path(self.folder) / "stderr").read_text().strip().splitlines()
                    fields.update(exit=code, stderr=stderr[-1] if stderr else "")
                return dict(fields)
            if time.monotonic() > self.deadline:
                self.close()
                fields["timed_out"] = self.timeout
                return dict(fields)
            time.sleep(0.05)

    def close(self):
        from .processes import kill_tree

        if not self.finished:
            self._read()  # what it said before it was stopped
            self.finished = True
            kill_tree(self.process.pid)
            self.process.wait()
            shutil.rmtree(self.folder, ignore_errors=True)


CHECKS = []


def check(name, uses_tensorflow=False):
    """Register the decorated function as the check called ``name`` (run in definition order)."""
    def register(function):
        function.check_name, function.uses_tensorflow = name, uses_tensorflow
        CHECKS.append(function)
        return function
    return register


def _metadata():
    from importlib.metadata import PackageNotFoundError, metadata, requires

    try:
        return metadata("tfclinic"), requires("tfclinic") or []
    except PackageNotFoundError:
        from .errors import TfclinicError

        raise TfclinicError("tfclinic is not installed (no package metadata); "
                            + INSTALL_FIX) from None


def python_requirement():
    """The Python versions the course supports (``requires-python``), a ``SpecifierSet``."""
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(_metadata()[0]["Requires-Python"])


def _bounds(specifiers):
    """``>=3.10,<3.14`` rather than packaging's ``<3.14,>=3.10``: lower bounds first."""
    return ",".join(sorted(map(str, specifiers), key=lambda s: (s.startswith("<"), s)))


def tensorflow_pin():
    """The TensorFlow versions the course pins (its ``cpu`` and ``gpu`` extras), a ``SpecifierSet``."""
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    pins = {str(r.specifier) for r in map(Requirement, _metadata()[1])
            if r.name in ("tensorflow", "tensorflow-cpu")}
    if len(pins) != 1:
        raise ValueError(f"expected one TensorFlow pin in tfclinic's extras, found {sorted(pins)}")
    return SpecifierSet(pins.pop())


@check("python")
def check_python(machine):
    """FAIL outside ``requires-python``: pip would refuse tfclinic, or TensorFlow 2.21 has no
    wheel for that Python."""
    version = ".".join(map(str, machine.python_version))
    wanted = _bounds(python_requirement())
    if python_requirement().contains(version, prereleases=True):
        return Result("python", PASS, f"Python {version} (the course supports {wanted})")
    return Result("python", FAIL, f"Python {version}, but the course supports {wanted}",
                  "install Python 3.11 (the Makefile prefers python3.11), then in the checkout run "
                  "`make clean && make install`")


@check("disk")
def check_disk(machine):
    """FAIL below ``disk_minimum_gb`` free in the folder; WARN below a second install's size."""
    free = shutil.disk_usage(machine.folder).free / 1e9
    found = f"{free:.1f} GB free in {machine.folder}"
    if free < machine.disk_minimum_gb:
        return Result("disk", FAIL, f"{found}, under {machine.disk_minimum_gb:g} GB",
                      "free disk space, or work in a folder on another disk")
    if free < machine.install_gb:
        return Result("disk", WARN, f"{found}; a fresh install needs {machine.install_gb:g} GB",
                      "free disk space before any `make clean && make install`")
    return Result("disk", PASS, f"{found} (the course's .venv takes {machine.install_gb:g} GB)")


@check("memory")
def check_memory(machine):
    """FAIL below ``memory_minimum_gb`` of available memory; WARN below ``memory_needed_gb``."""
    import psutil

    memory = psutil.virtual_memory()
    found = f"{memory.available / 1e9:.1f} GB available of {memory.total / 1e9:.1f} GB"
    available = memory.available / 1e9
    if available < machine.memory_minimum_gb:
        return Result("memory", FAIL, f"{found}, under {machine.memory_minimum_gb:g} GB",
                      "close other programs (browser tabs, other notebooks) and run the doctor again")
    if available < machine.memory_needed_gb:
        return Result("memory", WARN, f"{found}; a lesson needs about {machine.memory_needed_gb:g} GB",
                      "close other programs; run one notebook at a time")
    return Result("memory", PASS, found)


@check("jupyter")
def check_jupyter(machine):
    """FAIL unless JupyterLab imports and nbgrader's Validate button is installed and enabled
    (``tfclinic.course.workshop.check_validate_extension``, which ``tfclinic workshop`` runs too)."""
    from .errors import TfclinicError
    from .course.workshop import check_validate_extension

    try:
        import jupyterlab
    except ImportError as error:
        return Result("jupyter", FAIL, f"JupyterLab does not import ({error})", INSTALL_FIX)
    try:
        check_validate_extension()
    except TfclinicError as error:
        problem, _, fix = str(error).partition("; ")
        return Result("jupyter", FAIL, problem, fix or INSTALL_FIX)
    return Result("jupyter", PASS, f"JupyterLab {jupyterlab.__version__} with nbgrader's "
                  "Validate button")


def confinement_report(python=sys.executable, env=None, timeout=CONFINEMENT_TIMEOUT_SECONDS):
    """Confine a subprocess with ``tfclinic.sandbox.confine.confine``, as grading confines each
    student's process, and return ``{"held": {layer: bool}, "abi": int, "outside": str}``;
    ``outside`` is ``"blocked"`` when the confined process could not read a file outside its
    folder, and ``{"error": ...}`` comes back when the probe died."""
    from .processes import run_contained

    with tempfile.TemporaryDirectory(prefix="tfclinic-doctor-") as folder:
        secret = Path(folder) / "answer-key.txt"
        secret.write_text("what student code must not read\n")
        # one thread, like a student process (a fork of the fork server): OpenBLAS would start
        # threads on import, and a process with threads cannot enter a new user namespace
        env = {**(_default_env() if env is None else env), "OPENBLAS_NUM_THREADS": "1"}
        done = run_contained([python, "-c", _CONFINEMENT_PROBE, str(secret)], cwd=folder,
                             env=env, timeout=timeout)
    if done.timed_out:
        return {"error": f"the probe did not finish in {timeout:g} s"}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        lines = done.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"the probe exited with status {done.returncode}"}


# Layers whose absence leaves grading confined, if less tightly (``tfclinic.sandbox.confine``
# says what each holds), and where to grade to have them.
_WARN_ONLY_LAYERS = {
    "processes": "grade on Linux 6.7 or later (Landlock ABI 6)",
    "namespaces": "grade where unprivileged user namespaces may mount a /proc (on the host, "
                  "not in most containers)",
    "disk": "grade where unprivileged user namespaces may mount a tmpfs",
    "syscalls": "grade on Linux on x86_64 or aarch64 (seccomp)",
}
# The layers of tfclinic.sandbox.confine; what each needs of the host is its ``LAYERS`` table.
CONFINEMENT_LAYERS = tuple(LAYERS)
# What keeps student code off the instructor's machine (memory, network, files): `tfclinic
# grade` refuses to grade without them unless told to; the other layers only warn.
PROTECTING_LAYERS = ("limits", "network", "files")


def missing_layers(report):
    """The confinement layers that do not hold according to ``report`` (from
    ``confinement_report``), in ``CONFINEMENT_LAYERS`` order: all of them when the probe
    failed, and ``files`` when it was claimed, yet a file outside the sandbox was readable.
    The one reading of the probe: the doctor, ``tfclinic grade`` and Dask workers use it."""
    if "error" in report:
        return list(CONFINEMENT_LAYERS)
    held = dict(report["held"])
    if held.get("files") and report.get("outside") != "blocked":
        held["files"] = False
    return [layer for layer in CONFINEMENT_LAYERS if not held.get(layer)]


@check("confinement")
def check_confinement(machine):
    """Whether grading could confine student code here (see ``tfclinic.sandbox.confine``).

    Only the machine that runs ``tfclinic grade`` needs this. For students (the default) the
    line is informational and always PASS: a laptop without Landlock takes the course fine.
    With ``instructor=True`` a missing ``PROTECTING_LAYERS`` layer is a FAIL (student code
    could read the answer key or the network while it is graded); a missing ``processes``,
    ``namespaces``, ``disk`` or ``syscalls`` layer is a WARN (grading still confines the files
    and the network; what each missing layer leaves open is in ``tfclinic.sandbox.confine``).
    """
    report = machine.confinement if machine.confinement is not None else confinement_report(
        machine.python, machine.env)
    missing = missing_layers(report)
    if "error" in report:
        detail = f"the probe failed: {report['error']}"
    else:
        detail = (f"{', '.join(layer for layer in CONFINEMENT_LAYERS if layer not in missing)} hold"
                  f" (Landlock ABI {report.get('abi', 0)})")
        if missing:
            detail += f"; missing: {', '.join(missing)}"
    if not machine.instructor:
        return Result("confinement", PASS, f"for grading only, not needed here: {detail}")
    if not missing:
        return Result("confinement", PASS, f"grading can confine student code: {detail}")
    if not set(missing) & set(PROTECTING_LAYERS):
        return Result("confinement", WARN, detail, "; ".join(
            f"for {layer}: {_WARN_ONLY_LAYERS.get(layer, LAYERS[layer])}" for layer in missing))
    return Result("confinement", FAIL, detail, CONFINEMENT_FIX)


CONFINEMENT_FIX = ("grade on Linux 5.13 or later with Landlock enabled (lsm=landlock) and unprivileged "
                   "user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 also "
                   "kernel.apparmor_restrict_unprivileged_userns=0)")


@check("tensorflow", uses_tensorflow=True)
def check_tensorflow(machine):
    """FAIL when TensorFlow does not import (or not in time); WARN when its version is not the
    course's pin or Keras is not Keras 3: lessons may then print other numbers than the book."""
    report = machine.tensorflow_report(until="tensorflow")
    if "tensorflow" not in report:
        return Result("tensorflow", FAIL, _probe_failure(report, "import TensorFlow"), INSTALL_FIX)
    pin, version, keras = tensorflow_pin(), report["tensorflow"], report.get("keras", "?")
    found = (f"TensorFlow {version}, Keras {keras} "
             f"(imported in {report.get('import_seconds', 0):.1f} s)")
    if version not in pin or not keras.startswith("3."):
        return Result("tensorflow", WARN, f"{found}; the course pins TensorFlow {pin} with Keras 3",
                      INSTALL_FIX)
    return Result("tensorflow", PASS, found)


@check("training", uses_tensorflow=True)
def check_training(machine):
    """FAIL unless a tiny Keras model trains for ``train_seconds`` on random data and its loss
    goes down (a finite last epoch below the first)."""
    report = machine.tensorflow_report(until="train_seconds")
    if "train_seconds" not in report:
        what = "train" if "tensorflow" in report else "import TensorFlow"
        return Result("training", FAIL, _probe_failure(report, what),
                      "fix the tensorflow line first" if what != "train" else
                      "close other programs and run the doctor again; if it fails again, reinstall: "
                      + INSTALL_FIX)
    first, last = report["first_loss"], report["last_loss"]
    found = (f"{report['epochs']} epochs in {report['train_seconds']:.1f} s, loss {first:.3g} -> "
             f"{last:.3g}, peak memory {report.get('peak_mb', 0):.0f} MB")
    if not (math.isfinite(last) and last < first):
        return Result("training", FAIL, f"{found}: the loss did not go down",
                      "reinstall TensorFlow: " + INSTALL_FIX)
    return Result("training", PASS, found)


def _probe_failure(report, what):
    if "error" in report:
        return f"cannot {what}: {report['error']}"
    if "timed_out" in report:
        return f"could not {what} within {report['timed_out']:g} s"
    return f"cannot {what}: the process exited with status {report.get('exit')} ({report.get('stderr', '')})"


def run_checks(machine, checks=None, report=None):
    """Run ``checks`` (default: ``CHECKS``) on ``machine`` and return their ``Result`` list.

    A check that raises becomes a FAIL that names the exception; the others still run.
    ``report`` is called with each result as soon as it is known.
    """
    checks = CHECKS if checks is None else checks
    results = []
    try:
        if any(getattr(c, "uses_tensorflow", False) for c in checks):
            machine.start_tensorflow()  # imports while the other checks run
        for function in checks:
            name = getattr(function, "check_name", function.__name__)
            start = time.perf_counter()
            try:
                result = function(machine)
            except Exception as error:  # noqa: BLE001 - one crash must not hide the other checks
                result = Result(name, FAIL, f"the check crashed: {type(error).__name__}: {error}",
                                "report this to your instructor with the line above")
            result = replace(result, seconds=time.perf_counter() - start)
            results.append(result)
            if report is not None:
                report(result)
    finally:
        machine.close()
    return results


def format_result(result, width=None):
    """One line: status, check name, seconds, what was found and, unless PASS, the fix."""
    width = max(len(c.check_name) for c in CHECKS) if width is None else width
    line = f"{result.status}  {result.name:<{width}} {result.seconds:5.1f} s  {result.found}"
    if result.fix and result.status != PASS:
        line += f". Fix: {result.fix.rstrip('.')}"
    return line


def summary(results, seconds):
    """The last line: how many checks of each status, and the total time."""
    counts = {status: sum(r.status == status for r in results) for status in (PASS, WARN, FAIL)}
    return (f"{len(results)} checks in {seconds:.1f} s: "
            + ", ".join(f"{n} {status}" for status, n in counts.items()))
