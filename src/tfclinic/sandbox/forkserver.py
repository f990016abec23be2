"""A fork server: import TensorFlow once per grading run, fork a runner per submission.

Starting Python and importing TensorFlow, Keras and nbformat costs about 3 s of CPU, twice
per submission (runner and student process). The fork server pays it once: it imports
those modules, reads no course file, and forks a runner (``tfclinic.sandbox.runner``) for
each request; the runner forks the student process before it reads any notebook, so neither
inherits anything but the imported modules.

Forking is only safe from a single-threaded process, with no GPU context: the server keeps
one thread, its environment pins NumPy to one thread, and grading hides GPUs (tiny models,
and the same scores on every machine).

Runners and student processes run under Linux's ``SCHED_BATCH`` policy: a thread that is
woken does not preempt the one that woke it. At the end of every epoch of ``model.fit``
tf.data wakes a helper thread and then waits for it to exit; preempting its waker, the
helper finds no reason to exit yet and sleeps out a timeout of 20-40 ms (seen with strace)
while the core stays idle. On one core, grading the losses solution took 9.7 s, 3 s of them
idle; as a batch job, 8.0 s. Scores do not change, only the order threads get the CPU in.

The server is a child subreaper: a process that outlives its runner (a daemon that student
code started, a student process whose runner was killed) is re-parented to it and killed.

Wire format: the grader writes one JSON line per request to the server's stdin,
``{"id", "args", "cwd", "env", "cores", "stdout", "stderr"}``; the server answers on its reply pipe
with ``{"id", "pid"}`` when the runner has started and ``{"id", "exit"}`` when it has ended
(negative: killed by a signal). There is no socket: nothing but the grader can reach it.
"""

import contextlib
import json
import os
import select
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import psutil

from ..processes import (CpuBudget, Finished, become_subreaper, close_other_fds, kill_tree,
                         skip_slow_unused_imports)

# Modules every runner and student process needs; imported once, before any fork. Besides
# TensorFlow and Keras: what the lessons' setup cells and hidden tests import, the IPython
# parts a shell loads when it is created, and what the runner reads errors and versions
# with; each would otherwise be imported again in every runner or student process.
PRELOAD = ("numpy", "numpy.random", "numpy.testing", "tensorflow", "keras", "nbformat",
           "IPython.core.interactiveshell", "IPython.core.magics", "IPython.core.completer",
           "IPython.core.completerlib", "IPython.core.oinspect", "IPython.core.application",
           "IPython.core.crashhandler", "IPython.core.logger", "packaging.requirements",
           "packaging.tags", "secrets",
           "tfclinic.runtime", "tfclinic.data", "tfclinic.leakage", "tfclinic.training",
           "tfclinic.real_data", "tfclinic.datasets", "tfclinic.display", "tfclinic.errors",
           "tfclinic.project", "tfclinic.publishing", "tfclinic.checkup",
           "tfclinic.sandbox.remote", "tfclinic.sandbox.runner")


# How long the server may take to fork a runner; its first fork waits for its imports.
START_SECONDS = 300
# A submission's limit counts CPU seconds; one that waits instead is stopped by wall time at
# this many times the limit (each cell's own backstop usually stops it first).
SUBMISSION_BACKSTOP_FACTOR = 3
CPU_POLL_SECONDS = 0.5


# What the fork server keeps of the grader's environment. A fork never execs, so every runner
# and student process carries the server's environment block (``/proc/self/environ``) however
# ``os.environ`` is replaced later: the server starts with these variables and its own, and
# no token, password or path of the instructor's session.
INHERITED_VARIABLES = ("PATH", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


def server_environment(threads, folder=None):
    """The fork server's whole environment, for runners that may use ``threads`` cores.

    With ``folder`` (the server's own, removed when it closes) as ``TMPDIR``, what a runner
    killed at its time limit leaves (its student's working folder, model scratch) goes with
    the server instead of staying in the machine's temporary folder.
    """
    from ..runtime import quiet_environment

    kept = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
    if folder is not None:
        kept["TMPDIR"] = str(folder)
    return {**kept, **quiet_environment(), "CUDA_VISIBLE_DEVICES": "-1", "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads),
            "TF_NUM_INTEROP_THREADS": str(min(threads, 2))}


class ForkServer:
    """The grader's handle on a fork server process; use as a context manager.

    Requests go to the server's stdin and replies come back on a pipe of their own, so the
    server has no address that anything else could connect to; runners close both.

    Args:
        jobs: how many runners will run at once; each may use the machine's cores divided
            by ``jobs`` for TensorFlow's threads.
    """

    def __init__(self, jobs=1):
        threads = max(1, (os.cpu_count() or 1) // jobs)
        self._cores = queue.Queue()  # each runner at once gets cores of its own (Linux)
        for cores in core_sets(jobs):
            self._cores.put(cores)
        self.folder = tempfile.mkdtemp(prefix="tfclinic-forkserver-")  # mode 0700
        self.log = os.path.join(self.folder, "stderr.txt")
        replies, reply_end = os.pipe()
        env = server_environment(threads, self.folder)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-m", "tfclinic.sandbox.forkserver", str(reply_end)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log, env=env,
                pass_fds=(reply_end,), start_new_session=True)
        os.close(reply_end)
        self._replies = os.fdopen(replies, "rb")
        self._waiting, self._next, self._ended = {}, 0, False
        self._lock = threading.Lock()
        threading.Thread(target=self._dispatch, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stop the server, which kills any runner still going; safe to call twice."""
        with self._lock:
            if not self.process.stdin.closed:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        kill_tree(self.process.pid)
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _dispatch(self):
        """In a thread: hand each reply to the request that waits for it."""
        for line in self._replies:
            try:
                reply = json.loads(line)
                self._waiting[reply["id"]].put(reply)
            except (ValueError, KeyError, TypeError):
                continue
        with self._lock:
            self._ended = True
            for waiting in self._waiting.values():
                waiting.put(None)

    def run(self, args, cwd, env, stdout, stderr, timeout=None):
        """Run ``python -m tfclinic.sandbox.runner ARGS`` as a fork; kill it once it used
        ``timeout`` s of CPU (with the student process it forks), or ran for
        ``SUBMISSION_BACKSTOP_FACTOR`` times as long.

        With ``jobs`` above 1, the runner and the student process it forks keep to cores
        that no other runner uses at the same time (``core_sets``): on a 2-core machine two
        jobs then no longer take turns on both cores, which measured about 9% faster.
        ``timeout`` counts from the fork: the server's own start (importing TensorFlow) is
        not the submission's time, and has a limit of its own (``START_SECONDS``).

        Returns:
            A ``tfclinic.processes.Finished`` record, its output read from ``stdout`` and
            ``stderr`` (files the runner writes).
        """
        cores = self._cores.get()  # free once fewer than ``jobs`` runners are going
        try:
            return self._run(cores, args, cwd, env, stdout, stderr, timeout)
        finally:
            self._cores.put(cores)

    def _run(self, cores, args, cwd, env, stdout, stderr, timeout):
        replies = queue.Queue()
        with self._lock:
            self._next += 1
            key = self._next
            self._waiting[key] = replies
            if self._ended or self.process.stdin.closed:
                replies.put(None)
            else:
                try:
                    self.process.stdin.write(json.dumps(
                        {"id": key, "args": list(args), "cwd": str(cwd), "env": env, "cores": cores,
                         "stdout": str(stdout), "stderr": str(stderr)}).encode() + b"\n")
                    self.process.stdin.flush()
                except OSError:
                    replies.put(None)
        try:
            started = _next_reply(replies, time.monotonic() + START_SECONDS)
            reply, timed_out = None, False
            if started:
                budget = None if timeout is None else CpuBudget(started["pid"], timeout,
                                                                SUBMISSION_BACKSTOP_FACTOR)
                while True:
                    reply = _next_reply(replies, None if budget is None
                                        else time.monotonic() + CPU_POLL_SECONDS)
                    if reply is not None or self._ended or budget is None:
                        break
                    if budget.exceeded():
                        timed_out = True
                        kill_tree(started["pid"])
                        reply = _next_reply(replies, None)
                        break
        finally:
            with self._lock:
                del self._waiting[key]
        if reply is None:
            why = "ended early" if self._ended else f"started no runner within {START_SECONDS} s"
            return Finished(1, "", f"the fork server {why}\n{_read(self.log)[-2000:]}", timed_out)
        return Finished(reply["exit"], _read(stdout), _read(stderr), timed_out)


def core_sets(jobs):
    """``jobs`` disjoint lists of this process's cores, or ``jobs`` times None where that
    cannot be done (more jobs than cores, or no ``sched_getaffinity``)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if jobs < 2 or jobs > len(cores):
        return [None] * jobs
    return [cores[index::jobs] for index in range(jobs)]


def _next_reply(replies, deadline):
    """The next reply, or None when the server ended or ``deadline`` passed."""
    try:
        return replies.get(timeout=None if deadline is None else max(deadline - time.monotonic(), 0))
    except queue.Empty:
        return None


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


# -- the server process ---------------------------------------------------------------------

def warm():
    """Import ``PRELOAD`` and build what nbformat builds on first use (the JSON schema
    validator of notebook format 4), so that no fork does either again."""
    for module in PRELOAD:
        __import__(module)
    import nbformat.validator

    nbformat.validator.get_validator(version=4, version_minor=nbformat.v4.nbformat_minor)


def serve(reply_fd):
    """Fork a runner per request read from stdin, until stdin closes; reply on ``reply_fd``."""
    replies = os.fdopen(reply_fd, "wb", buffering=0)
    skip_slow_unused_imports()
    warm()
    become_subreaper()
    wake, wake_end = os.pipe()  # a byte arrives here when a child ends: SIGCHLD wakes select
    os.set_blocking(wake_end, False)
    signal.set_wakeup_fd(wake_end)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    runners, pending = {}, b""  # pid -> request id; bytes of an unfinished request line
    while True:
        ready = select.select([sys.stdin, wake], [], [], 1.0)[0]
        if wake in ready:
            os.read(wake, 4096)
        if sys.stdin in ready:
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                request = json.loads(line)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    replies.close()
                    _become_runner(request)
                runners[pid] = request["id"]
                _send(replies, {"id": request["id"], "pid": pid})
        _reap(runners, replies)
    for pid in runners:
        kill_tree(pid)
    _reap(runners, replies)


def _send(replies, message):
    try:
        replies.write(json.dumps(message).encode() + b"\n")
    except OSError:
        pass


def _reap(runners, replies):
    """Collect ended children: report runners, kill what runners left behind."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid in runners:
            _send(replies, {"id": runners.pop(pid), "exit": os.waitstatus_to_exitcode(status)})
    for child in psutil.Process().children():
        if child.pid not in runners:
            kill_tree(child.pid)


def _become_runner(request):
    """In the forked child: set up like a fresh ``python -m tfclinic.sandbox.runner``."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        if request.get("cores"):
            os.sched_setaffinity(0, request["cores"])
        with contextlib.suppress(AttributeError, OSError):  # Linux; inherited by the student process
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                                (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            opened = os.open(path, flags, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        close_other_fds(keep=())
        os.chdir(request["cwd"])
        os.environ.update(request["env"])
        from . import runner

        runner.main(request["args"])
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported through stderr and the exit status
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main():
    serve(int(sys.argv[1]))
    os._exit(0)  # skip TensorFlow's slow teardown


if __name__ == "__main__":
    main()
