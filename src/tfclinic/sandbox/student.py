"""The grader's side of a student process: start it, send it cells and calls, stop it.

Test code runs in the grader. A name that a solution cell defines is bound there to a
``StudentFunction``: calling it sends the arguments as data to the student process, runs the
student's function there, and brings back data (see ``tfclinic.sandbox.protocol``). Keras
models passed in are copies there: what the student's code does to them stays there, so a
function cannot change the grader's reference model that its own test computes the expected
value with. Only a model a test hands over with ``student_trains`` (or a tfclinic function
declares with ``runs_student_code(trains=...)``) gets its weights copied back after the
call, as a function that trains it in place would leave it in a notebook.

Three hooks make test cells read the same in a notebook and in the grader:

- ``runs_student_code``: a tfclinic function given student code as an argument (a loss, a
  training step) runs in the student process, where that code lives.
- ``student_trains``: this argument is a model the call trains in place.
- ``student_globals``: temporarily replace globals of the student's notebook.

What student code prints while a test cell runs is withheld from the feedback
(``StudentProcess.output_withheld``): it could show the hidden test's inputs. So is the
message of an error it raises there, and the name of an error class of its own: both are
text the student's code writes, as a ``print`` is. The student reads them by running the
test cell in the notebook, where only the visible tests are.
"""

import builtins
import contextlib
import functools
import inspect
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import re

import psutil

from ..processes import CpuBudget, ForkedChild, kill_tree
from .confine import Limits
from .worker import OUTPUT_CHARS_PER_REQUEST, CappedText, undefined_name
from .protocol import ACCEPTED, Decoder, Encoder, ProtocolError, receive, send

# set by the grader while it grades: the student process that test code talks to
ACTIVE = None
INTERRUPT_GRACE_SECONDS = 5  # of the student's CPU after the interrupt, before it is killed
GRACE_WALL_FACTOR = 4  # ... or this many times as much wall time, for code that waits
CPU_POLL_SECONDS = 0.5  # how often a call's CPU use is read; the limit holds to about this
LOG_TAIL_BYTES = 20_000
WITHHELD_NOTE = "[output of your code during this test is not shown]\n"
WITHHELD_ERROR = ("its message is not shown in a test's feedback, where it could show the "
                  "test's inputs: run the test cell in your notebook to read it")
# Error names shown as they are within a test: Python's and TensorFlow's. Any other class
# name is the student's to choose, so it is text like a message.
KNOWN_ERRORS = frozenset(
    [name for name, value in vars(builtins).items()
     if isinstance(value, type) and issubclass(value, BaseException)]
    + ["InvalidArgumentError", "ResourceExhaustedError", "FailedPreconditionError",
       "UnimplementedError", "NotFoundError", "OutOfRangeError", "InternalError", "UnknownError"])
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class StudentCodeError(Exception):
    """Student code raised an error (its name and message are the message)."""


class StudentProcessEnded(Exception):
    """The student process is gone (a crash, a timeout, memory); no more calls can be made."""


class StudentFunction:
    """Stands in the grader for a function (or other object) living in the student process."""

    def __init__(self, process, tree, label):
        self._process, self._tree, self._label = process, tree, label

    def __call__(self, *args, **kwargs):
        return self._process.call(self._tree, args, kwargs)

    def __repr__(self):
        return f"<{self._label} in the student's notebook>"


def runs_student_code(function=None, *, trains=()):
    """Run ``function`` in the student process when any argument is student code.

    In a notebook this changes nothing. In the grader, a call such as
    ``train_custom_loop(model, x, y, student_loss)`` cannot run here, because the student's
    loss lives in the student process; so the whole call goes there.

    Args:
        trains: names of the parameters that are models the function trains in place
            (``@runs_student_code(trains=("model",))``): their weights come back, as with
            ``student_trains``.
    """
    if function is None:
        return functools.partial(runs_student_code, trains=tuple(trains))
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        process = next((a._process for a in (*args, *kwargs.values())
                        if isinstance(a, StudentFunction)), None)
        if process is None:
            return function(*_unmarked(args), **dict(zip(kwargs, _unmarked(kwargs.values()))))
        bound = signature.bind(*args, **kwargs)
        for name in trains:
            if name in bound.arguments and not isinstance(bound.arguments[name], _Trained):
                bound.arguments[name] = _Trained(bound.arguments[name])
        return process.call(["library", function.__module__, function.__name__], bound.args, bound.kwargs)

    return wrapper


class _Trained:
    """A model handed to student code to train in place (see ``student_trains``)."""

    def __init__(self, model):
        self.model = model


def student_trains(model):
    """Hand ``model`` to the student function called with it, to be trained in place.

    In a notebook it returns ``model``. In the grader, student code works on a copy of every
    model it is given, and only the copy of a model wrapped here comes back (its weights are
    copied into ``model`` after the call). Write it around an argument of the call itself:
    ``train_and_report(student_trains(model), x, y)``; then test ``model`` on its own data, as
    the student's code could have set its weights to anything.
    """
    return model if ACTIVE is None else _Trained(model)


def _unmarked(values):
    return [v.model if isinstance(v, _Trained) else v for v in values]


@contextlib.contextmanager
def student_globals(**values):
    """Replace globals of the student's notebook for the duration of a ``with`` block.

    A test uses it to check that a function depends on its arguments only: change the
    notebook's data, call the function, compare. In the grader only the student process
    sees the new values; in a plain notebook the test code shares that namespace and sees
    them too, so a test takes the arguments it passes before the block.
    """
    if ACTIVE is not None:
        ACTIVE.swap(values)
        try:
            yield
        finally:
            ACTIVE.unswap()
        return
    namespace = _notebook_namespace()
    saved = {name: namespace[name] for name in values if name in namespace}
    namespace.update(values)
    try:
        yield
    finally:
        for name in values:
            namespace.pop(name, None)
        namespace.update(saved)


def _notebook_namespace():
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    return shell.user_ns if shell is not None else sys.modules["__main__"].__dict__


class StudentProcess:
    """One confined student process (``tfclinic.sandbox.worker``) and the channel to it.

    The process is forked from this one, so create it before reading anything that student
    code must not see (the source notebook with its hidden tests).

    Args:
        workdir: its private working folder (created empty by the caller).
        env: its environment.
        limits: a ``Limits``.
        call_timeout: CPU seconds one cell or call may use (a busy machine does not change
            that count; code that only waits is stopped at ``WALL_BACKSTOP_FACTOR`` times as
            many wall seconds); then it is interrupted, and killed if it does not stop.
        log: a folder of the grader's where its stdout and stderr go.
    """

    def __init__(self, workdir, env, limits=Limits(), call_timeout=30, log=None):
        self.workdir, self.limits, self.call_timeout = str(workdir), limits, call_timeout
        self.ended = None  # (status, message) once it can take no more requests
        self._stopping = False
        self.confined, self._relayed = {}, False
        self._scratch = tempfile.mkdtemp(prefix="tfclinic-models-")
        request_read, self._request = os.pipe()
        self._reply, reply_write = os.pipe()
        log = log or self._scratch
        self._stderr_path = os.path.join(log, "student-stderr.txt")
        self._stdout_path = os.path.join(log, "student-stdout.txt")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            from .worker import become_student_process

            become_student_process(request_read, reply_write, self.workdir, limits, env,
                                   self._stdout_path, self._stderr_path)
        self.process = ForkedChild(pid)
        os.close(request_read)
        os.close(reply_write)
        self._lock, self._ready = threading.Lock(), False
        threading.Thread(target=self._watch_memory, daemon=True).start()

    # -- lifecycle --------------------------------------------------------------------------

    def wait_ready(self, timeout=120):
        """Wait for the worker to confine itself; returns which confinement layers hold."""
        with self._lock:
            self._wait_ready(timeout)
        return self.confined

    def _wait_ready(self, timeout=120):
        if not self._ready:  # the first message; the caller holds the lock
            meta, _ = self._receive(timeout, interruptible=False)
            self.confined, self._ready = meta.get("confined", {}), True
            self._relayed = meta.get("relayed") is True

    def stop(self):
        """Stop the worker and everything it started.

        A request still in flight (a cell after the last test) then ends without being
        counted as a crash.
        """
        self._stopping = True
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                send(self._request, {"op": "exit"})
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=2)
        kill_tree(self.process.pid)
        for fd in (self._request, self._reply):
            with contextlib.suppress(OSError):
                os.close(fd)
        for path in (self._stderr_path, self._stdout_path):
            _keep_tail(path)
        shutil.rmtree(self._scratch, ignore_errors=True)

    def _end(self, status, message):
        if self.ended is None and not self._stopping:
            self.ended = (status, message)
        kill_tree(self.process.pid)

    def _gone(self):
        return StudentProcessEnded(self.ended[1] if self.ended else "the grader stopped the student process")

    def _watch_memory(self):
        """In a thread: end the student process once its tree is over a limit of ``Limits``:
        resident memory, processes (zombies too) or threads."""
        limits = self.limits
        while self.process.poll() is None:
            rss, processes, threads = self.tree_usage()
            # processes first: the forks of a fork loop hold memory too, for a moment
            if processes > limits.processes:
                self._end("too many processes", f"student code started more than {limits.processes} "
                          "processes (the limit) and was stopped")
            elif threads > limits.threads:
                self._end("too many threads", f"student code ran more than {limits.threads} threads "
                          "(the limit) and was stopped")
            elif rss > limits.memory_mb * 1024 * 1024:
                self._end("out of memory", f"student code used more than the {limits.memory_mb} MB "
                          "memory limit and was stopped")
            time.sleep(0.2)

    def tree_usage(self):
        """``(rss bytes, processes, threads)`` of the student process and its descendants.
        Where the worker runs in a PID namespace of its own, this process's child is its relay,
        grader code whose memory is the fork's image: it is left out."""
        try:
            root = psutil.Process(self.process.pid)
            tree = root.children(recursive=True) + ([] if self._relayed else [root])
        except psutil.Error:
            return 0, 0, 0
        rss = threads = 0
        for member in tree:
            with contextlib.suppress(psutil.Error):
                rss += member.memory_info().rss
            try:
                threads += member.num_threads()
            except psutil.Error:  # a zombie, or gone
                threads += 1
        return rss, len(tree), threads

    # -- requests ---------------------------------------------------------------------------

    def _receive(self, timeout, interruptible=True):
        """The next reply. An interruptible wait (a cell, a call) has ``timeout`` seconds of
        the student's CPU (``CpuBudget``), then an interrupt and a grace period, also counted
        in the student's CPU (so that a busy machine, which delays the student's handling of
        the interrupt, does not end it), with a wall-time backstop for code that waits; waiting
        for the process to get ready is limited by wall time."""
        budget = CpuBudget(self.process.pid, timeout) if interruptible else None
        deadline = None if interruptible else time.monotonic() + timeout
        interrupted = grace = None  # why the call was interrupted, once it was, and the grace
        while True:
            now = time.monotonic()
            if budget is not None and interrupted is None:
                interrupted = budget.exceeded()
                if interrupted:
                    if self.process.poll() is None:
                        self.process.send_signal(signal.SIGINT)
                    grace = CpuBudget(self.process.pid, INTERRUPT_GRACE_SECONDS,
                                      backstop_factor=GRACE_WALL_FACTOR)
            if grace is not None and grace.exceeded():
                deadline = now
            if deadline is not None and now >= deadline:
                self._end("timeout", f"student code {interrupted} and ignored the interrupt"
                          if interrupted else f"the student process was not ready within {timeout:g} s")
                break
            wait = CPU_POLL_SECONDS if deadline is None else min(deadline - now, CPU_POLL_SECONDS)
            ready, _, _ = select.select([self._reply], [], [], wait)
            if ready:
                try:
                    meta, arrays = receive(self._reply)
                except EOFError:
                    self._end(*self._death_reason())
                    break
                except ProtocolError as error:
                    self._end("crashed", f"the student process sent something that is not data: {error}")
                    break
                if interrupted:
                    meta["error"] = ["TimeoutError", f"stopped: student code {interrupted}"]
                return meta, arrays
        raise self._gone()

    def _death_reason(self):
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        with open(self._stderr_path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(self._stderr_path) - 20_000))
            tail = handle.read().decode(errors="replace")
        if any(s in tail for s in ("MemoryError", "bad_alloc", "Cannot allocate memory", "OOM")):
            return "out of memory", "student code ran out of memory"
        if code is not None and code < 0:
            return "crashed", f"the student process was killed by signal {-code} ({signal.Signals(-code).name})"
        return "crashed", f"the student process ended (exit status {code}): os._exit, a crash or a segfault"

    def request(self, meta, arrays=(), timeout=None):
        """Send one request; return ``(reply, arrays)``.

        Raises:
            StudentProcessEnded: the process is gone or had to be stopped.
        """
        with self._lock:
            if self.ended or self._stopping:
                raise self._gone()
            self._wait_ready()
            try:
                send(self._request, meta, arrays)
            except OSError:
                self._end(*self._death_reason())
                raise self._gone() from None
            reply, reply_arrays = self._receive(timeout or self.call_timeout)
            if reply.get("memory"):
                self.ended = self.ended or ("out of memory", "student code ran out of memory "
                                            f"(limit {self.limits.memory_mb} MB)")
            return reply, reply_arrays

    def run_cell(self, source):
        """Run one cell of student code: ``(output, error)``, error as ``[name, message]`` or None."""
        reply, _ = self.request({"op": "cell", "source": source})
        return _capped(reply.get("output", "")), reply.get("error")

    def call(self, function, args, kwargs):
        """Call ``function`` (a tagged name) in the student process with data arguments.

        Models among the arguments are copies there; the weights of those wrapped by
        ``student_trains`` are copied back into them afterwards, and only theirs.
        """
        trained = {id(v.model) for v in (*args, *kwargs.values()) if isinstance(v, _Trained)}
        args, kwargs = _unmarked(args), dict(zip(kwargs, _unmarked(kwargs.values())))
        encoder = Encoder(folder=self._scratch, reference=_reference)
        meta = {"op": "call", "function": function, "args": encoder.encode(list(args)),
                "kwargs": encoder.encode(dict(kwargs))}
        reply, arrays = self.request(meta, encoder.arrays)
        if reply.get("output"):
            self._show_output(reply["output"])
        if reply.get("error"):
            raise StudentCodeError(self._error_text(function, *reply["error"][:2]))
        decoder = Decoder(arrays, self._resolve, folder=self._scratch, safe_mode=True)
        value = decoder.decode(reply.get("value"))
        weights = reply.get("weights")
        if not isinstance(weights, list) or len(weights) != len(encoder.models):
            raise ProtocolError("the student process did not send back the models' weights")
        for model, tree in zip(encoder.models, weights):
            if id(model) in trained:
                model.set_weights([decoder.decode(w) for w in tree])
        return value

    _withheld = None  # the note that replaces student output, within output_withheld()

    @contextlib.contextmanager
    def output_withheld(self, note=WITHHELD_NOTE):
        """Within the block, what student code prints during calls is not written out: the
        first call that printed writes ``note`` instead, once. The runner holds it around
        test cells, whose inputs a ``print`` in a student function would show in feedback;
        it is applied here, in the grader, because the student process could undo it."""
        self._withheld, self._note_written = note, False
        try:
            yield
        finally:
            self._withheld = None

    @property
    def withholding(self):
        """True within ``output_withheld()``: in a test cell."""
        return self._withheld is not None

    def _error_text(self, function, name, message=""):
        """What the grader says of an error the student's code raised calling ``function``:
        its name and message, or within ``output_withheld()`` only a name that is not the
        student's own, unless it is the exact sentence for a function never defined."""
        name, message = (_ANSI.sub("", str(part)) for part in (name, message))
        if not self.withholding or (function[0] == "student" and name == "NameError"
                                    and message == undefined_name(function[-1])):
            return f"{name}: {message}" if message else name
        if name == "NotGradable":  # tfclinic's own refusal; the form it names is the student's
            return f"NotGradable: the value cannot be sent to the grader: {ACCEPTED}"
        shown = name if name in KNOWN_ERRORS else "an error of a class of your own"
        return f"{shown} ({WITHHELD_ERROR})"

    def _show_output(self, output):
        if not self.withholding:
            sys.stdout.write(_capped(output))
        elif not self._note_written:
            sys.stdout.write(self._withheld)
            self._note_written = True

    def _resolve(self, tree):
        if tree[0] == "handle" and len(tree) == 2 and isinstance(tree[1], int):
            from .remote import StudentObject

            return StudentObject(self, tree, "an object")
        raise ProtocolError(f"the student process may not send {tree[0]!r} references")

    def swap(self, values):
        """Replace globals in the student's namespace (undone by ``unswap``)."""
        encoder = Encoder(folder=self._scratch, reference=_reference)
        self._checked(self.request({"op": "swap", "values": encoder.encode(values)}, encoder.arrays))

    def unswap(self):
        """Undo the latest ``swap``."""
        self._checked(self.request({"op": "unswap"}))

    def seed(self, seed):
        """Call ``keras.utils.set_random_seed(seed)`` in the student process."""
        self._checked(self.request({"op": "seed", "seed": int(seed)}))

    @staticmethod
    def _checked(done):
        reply, _ = done
        if reply.get("error"):
            raise StudentCodeError(": ".join(str(p) for p in reply["error"][:2]))


def _capped(output):
    """The student's output cut to ``OUTPUT_CHARS_PER_REQUEST`` here, on the grader's side: the
    student process caps it too, but its code can undo that (it owns that process)."""
    capped = CappedText(OUTPUT_CHARS_PER_REQUEST + 200)  # room for the student side's own note
    capped.write(str(output))
    return capped.getvalue()


def _keep_tail(path, size=LOG_TAIL_BYTES):
    """Cut a log the student process wrote down to its last ``size`` bytes."""
    with contextlib.suppress(OSError), open(path, "r+b") as handle:
        length = handle.seek(0, os.SEEK_END)
        if length > size:
            handle.seek(length - size)
            tail = handle.read()
            handle.seek(0)
            handle.write(tail)
            handle.truncate()


def _reference(value):
    return value._tree if isinstance(value, StudentFunction) else None
