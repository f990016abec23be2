"""The student process: confines itself, runs the student's cells, answers calls with data.

Forked by ``tfclinic.sandbox.student.StudentProcess`` (see ``become_student_process``).
Nothing here is trusted by the grader: whatever this process sends back is checked as data
there.
"""

import contextlib
import io
import os
import signal
import sys
import tempfile
import traceback
import types

OUTPUT_CHARS_PER_REQUEST = 20_000


class CappedText(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit=OUTPUT_CHARS_PER_REQUEST):
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = max(self.limit - self.kept, 0)
        self.parts.append(text[:room])
        self.kept += min(len(text), room)
        self.dropped += max(len(text) - room, 0)
        return len(text)

    def getvalue(self):
        tail = f"\n[... {self.dropped:,} more characters of output dropped]\n" if self.dropped else ""
        return "".join(self.parts) + tail


def undefined_name(name):
    """The message for a name the grader asks for that the student's notebook never defined:
    the grader checks it word for word, so it alone keeps its text within a test."""
    return f"name '{name}' is not defined in the student's notebook"


class Worker:
    """Executes cells in one IPython namespace and serves the grader's requests."""

    def __init__(self, request_fd, reply_fd, workdir):
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False
        self.request_fd, self.reply_fd, self.workdir = request_fd, reply_fd, workdir
        self.shell = InteractiveShell.instance(config=config, colors="nocolor")
        # An error in a student cell prints only the student's own frames; the grader shows
        # the error itself once, as the cell's error output.
        self.shell.set_custom_exc((Exception,), _print_student_frames)
        self.objects, self.swapped = {}, []
        self.library = library_snapshot()  # before any student cell can replace a function

    def _store(self, value):
        key = id(value)
        self.objects[key] = value
        return key

    def _resolve(self, tree):
        tag, *rest = tree
        if tag == "handle":
            return self.objects[rest[0]]
        if tag == "student":
            if rest[0] not in self.shell.user_ns:
                raise NameError(undefined_name(rest[0]))
            return self.shell.user_ns[rest[0]]
        if tuple(rest) not in self.library:
            raise ValueError(f"{'.'.join(map(str, rest))} is not a tfclinic function")
        return self.library[tuple(rest)]

    def serve(self):
        from .protocol import receive, send

        while True:
            try:
                meta, arrays = receive(self.request_fd)
            except KeyboardInterrupt:
                continue  # an interrupt that arrived after its cell had finished
            except EOFError:
                return
            if meta["op"] == "exit":
                return
            reply, reply_arrays = self.handle(meta, arrays)
            send(self.reply_fd, reply, reply_arrays)

    def handle(self, meta, arrays):
        from .protocol import Decoder, Encoder

        output, encoder = CappedText(), Encoder(store=self._store, folder=self.workdir)
        reply = {"error": None}
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                decoder = Decoder(arrays, self._resolve, folder=self.workdir, safe_mode=False)
                if meta["op"] == "cell":
                    reply["error"] = self._run_cell(meta["source"])
                elif meta["op"] == "call":
                    function = decoder.decode(meta["function"])
                    args = decoder.decode(meta["args"])
                    kwargs = decoder.decode(meta["kwargs"])
                    reply["value"] = encoder.encode(function(*args, **kwargs))
                    reply["weights"] = [[encoder.encode(w) for w in model.get_weights()]
                                        for model in decoder.models]
                elif meta["op"] == "swap":
                    values = decoder.decode(meta["values"])
                    self.swapped.append({k: self.shell.user_ns.get(k) for k in values})
                    self.shell.user_ns.update(values)
                elif meta["op"] == "unswap":
                    self.shell.user_ns.update(self.swapped.pop())
                elif meta["op"] == "seed":
                    import keras

                    keras.utils.set_random_seed(meta["seed"])
        except BaseException as error:  # student code may raise anything, SystemExit included
            reply = {"error": [type(error).__name__, str(error)[:2000]],
                     "memory": isinstance(error, MemoryError)}
            output.write(_student_frames(error, error.__traceback__, self.shell))
        reply["output"] = output.getvalue()
        return reply, encoder.arrays

    def _run_cell(self, source):
        result = self.shell.run_cell(source, store_history=False, silent=False)
        error = result.error_before_exec or result.error_in_exec
        if error is None:
            return None
        if isinstance(error, MemoryError):
            raise error
        return [type(error).__name__, str(error)[:2000]]


def library_snapshot():
    """The functions of tfclinic's preloaded modules as they are now, by ``(module, name)``.

    A grader's library call (``runs_student_code``) runs in the student process, where
    student code could replace ``tfclinic.training.train_custom_loop``, its ``__code__`` or
    a helper it calls. The snapshot holds copies: each function (unwrapped from
    ``runs_student_code``) with its own code, defaults and closure, and globals copied from
    its module, in which the module's other functions are the copies too.
    """
    from . import remote  # noqa: F401 - the grader reads a handle's attributes through it
    from .forkserver import PRELOAD

    for module in PRELOAD:
        if module.startswith("tfclinic.") and not module.startswith("tfclinic.sandbox") \
                and module not in sys.modules:
            __import__(module)
    library = {}
    for module_name in [name for name in sys.modules if name.startswith("tfclinic.")]:
        library.update(_module_copies(module_name, sys.modules[module_name]))
    return library


def _module_copies(module_name, module):
    """Copies of the functions ``module`` defines, sharing one copy of its globals."""
    if not isinstance(module, types.ModuleType):
        return {}
    namespace, copies = dict(vars(module)), {}
    for name, value in vars(module).items():
        function = getattr(value, "__wrapped__", value) if isinstance(value, types.FunctionType) else None
        if isinstance(function, types.FunctionType) and function.__module__ == module_name:
            namespace[name] = copies[module_name, name] = _copy_function(function, namespace)
    return copies


def _copy_function(function, namespace):
    closure = function.__closure__ and tuple(_copy_cell(cell) for cell in function.__closure__)
    copy = types.FunctionType(function.__code__, namespace, function.__name__,
                              function.__defaults__, closure)
    copy.__kwdefaults__ = dict(function.__kwdefaults__ or {}) or None
    copy.__qualname__, copy.__doc__ = function.__qualname__, function.__doc__
    return copy


def _copy_cell(cell):
    try:
        return types.CellType(cell.cell_contents)
    except ValueError:  # an empty cell
        return types.CellType()


def _student_frames(error, tb, shell):
    """The frames of the student's cells in ``tb`` (and of any cause), as text; no frame of
    the grader, no final error line (the grader records the error once, by itself)."""
    from ..display import format_error

    lines = format_error(error, tb, shell, label=lambda filename: "your code", message=False)
    return "\n".join(lines) + "\n" if lines else ""


def _print_student_frames(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler in the student process."""
    if issubclass(etype, SyntaxError):
        shell.showsyntaxerror()
        return None
    print(_student_frames(value, tb, shell), end="")
    return None


def become_student_process(request_fd, reply_fd, workdir, limits, env, stdout, stderr):
    """In a child just forked by the grader: confine it, then serve requests; never returns.

    Only ``request_fd``, ``reply_fd`` and the two log files stay open, and the environment is
    replaced by ``env``. The grader forks before it reads any notebook, so the memory this
    process inherits holds imported modules, not tests.
    """
    from ..processes import close_other_fds
    from .confine import confine
    from .protocol import send

    code = 0
    try:
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                                (1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            opened = os.open(path, flags, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        close_other_fds(keep={request_fd, reply_fd})
        os.environ.clear()
        os.environ.update(env)
        tempfile.tempdir = None  # chosen again, from TMPDIR: the private folder
        os.chdir(workdir)
        # the grader interrupts a call that runs too long. As process 1 of its PID namespace
        # this process gets only the signals it handles, so it handles SIGINT, unblocked,
        # whatever the process it was forked from did with it (ignored it, left it default)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        confined = confine(workdir, limits)  # forks: this is the child, the parent relays
        worker = Worker(request_fd, reply_fd, workdir)
        # process 1 of a PID namespace of its own: the grader's child is the relay
        send(reply_fd, {"op": "ready", "confined": confined, "relayed": os.getpid() == 1})
        worker.serve()
    except BaseException:  # noqa: BLE001 - the grader sees the exit status and stderr
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
