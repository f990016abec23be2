"""Run a child process with a wall-time limit and leave nothing of it behind.

Student code runs in a Jupyter kernel, started by nbgrader in a session of its own, and may
start processes of its own, even daemons that detach from their parents. On Linux the
grading process becomes a *child subreaper*: every orphan below it is re-parented to it
instead of to init, so after each run all new descendants can be found and killed.
"""

import ctypes
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

import psutil

_PR_SET_CHILD_SUBREAPER = 36

# A time limit on student code counts the CPU seconds it uses, so that how busy the machine is
# does not decide a score (a loaded machine stretches wall time, not CPU time). Code that waits
# instead of computing (a sleep, a blocked read) uses no CPU; wall time stops it, at this many
# times the limit.
WALL_BACKSTOP_FACTOR = 10

# jsonschema imports rfc3987_syntax where it is installed (jupyter-events asks for it), and
# that import builds a grammar: 1.3 s of CPU in every process that imports nbformat. The
# module checks IRI formats, which neither nbformat nor nbgrader validates.
SLOW_UNUSED_MODULES = ("rfc3987_syntax",)


@dataclass
class Finished:
    """What a contained run left: its exit status, its output, and whether it ran out of time."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


def become_subreaper():
    """Adopt orphaned descendants (Linux only). Returns whether it worked."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def skip_slow_unused_imports():
    """Make ``SLOW_UNUSED_MODULES`` unimportable in this process (jsonschema then does without).

    Called first thing in the processes tfclinic starts: the fork server, nbgrader, the CLI.
    """
    for name in SLOW_UNUSED_MODULES:
        sys.modules.setdefault(name, None)


def tree_cpu_seconds(pid):
    """User and system CPU seconds of process ``pid`` and its living descendants, with the
    children each of them reaped (a child the student process waited for, below the relay
    of its PID namespace, is in the student process's count); 0 once it is gone."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        # a reaped child is in its parent's children_* only, a living one only in its own
        total += times.user + times.system + times.children_user + times.children_system
    return total


class CpuBudget:
    """A limit of ``seconds`` of CPU on the process tree at ``pid``, from now on.

    ``exceeded()`` says why the limit is reached: the tree used more CPU than ``seconds``,
    or (the backstop for code that waits) ``WALL_BACKSTOP_FACTOR`` times as much wall time
    passed. CPU time is the measure because it stays the same on a busy machine.
    """

    def __init__(self, pid, seconds, backstop_factor=WALL_BACKSTOP_FACTOR):
        self.pid, self.seconds, self.wall_seconds = pid, seconds, seconds * backstop_factor
        self._cpu_start, self._wall_start = tree_cpu_seconds(pid), time.monotonic()
        self._cpu_seen = self._cpu_start

    def used(self):
        """CPU seconds used since the budget started (never decreasing)."""
        self._cpu_seen = max(self._cpu_seen, tree_cpu_seconds(self.pid))
        return self._cpu_seen - self._cpu_start

    def exceeded(self):
        """``None``, or what ran out, as words that follow "student code ..."."""
        if self.used() > self.seconds:
            return f"used more than {self.seconds:g} s of CPU"
        if time.monotonic() - self._wall_start > self.wall_seconds:
            return f"ran for more than {self.wall_seconds:g} s"
        return None


def _descendants():
    return {p.pid: p for p in psutil.Process().children(recursive=True)}


def descendant_pids():
    """The pids of this process's descendants now (to pass to ``kill_new_descendants`` later)."""
    return set(_descendants())


def _kill(victims):
    for process in victims:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(victims, timeout=5)
    return len(victims)


def close_other_fds(keep):
    """Close every file descriptor of this process above 2 except those in ``keep``."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = range(3, os.sysconf("SC_OPEN_MAX"))
    for fd in fds:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


class ForkedChild:
    """A child made with ``os.fork``, with the part of ``subprocess.Popen`` the sandbox uses."""

    def __init__(self, pid):
        self.pid, self.returncode = pid, None
        self._lock = threading.Lock()

    def poll(self):
        """The exit code (negative for a signal), or None while it runs."""
        with self._lock:
            if self.returncode is None:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere; like Popen, report 0
                    pid, status = self.pid, 0
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout=None):
        """Wait for the exit code; raises ``subprocess.TimeoutExpired`` after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.01)
        return self.returncode

    def send_signal(self, signum):
        if self.poll() is None:
            os.kill(self.pid, signum)


def kill_tree(pid):
    """Kill the process ``pid`` and all its descendants."""
    try:
        root = psutil.Process(pid)
        _kill([root, *root.children(recursive=True)])
    except psutil.Error:
        pass


def kill_new_descendants(before):
    """Kill every descendant of this process whose pid is not in ``before``; return their number."""
    return _kill([p for pid, p in _descendants().items() if pid not in before])


def run_contained(command, cwd, env, timeout=None):
    """Run ``command``; kill it (and all it started) after ``timeout`` seconds.

    Output goes through temporary files, not pipes: a process the command leaves behind
    could hold a pipe open and make the caller wait for it. Whatever the outcome, processes
    the command started that are still below it afterwards are killed. (Orphans re-parented
    to this process are for the caller's ``kill_new_descendants``: several commands may run
    at once, so this function cannot tell whose they are.)

    Returns:
        A ``Finished`` record.
    """
    become_subreaper()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err, text=True, start_new_session=True)
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            kill_tree(process.pid)
            process.wait()
        out.seek(0)
        err.seek(0)
        return Finished(process.returncode, out.read(), err.read(), timed_out)
