"""Confine the current process before it runs student code (Linux; no root needed).

Four layers, each applied if the kernel offers it, and each reported by name:

- ``limits``: memory (``RLIMIT_DATA``), CPU seconds, bytes per written file, no core dumps.
- ``network``: a new user and network namespace, which has no interface but loopback.
- ``files``: Landlock. Read-only access to the Python installation, the system libraries and
  the tfclinic package; read-write access to one private working folder; nothing else, so
  not the course, the gradebook, the answer key or other students' work.
- ``processes``: Landlock scoping. No signals to, and no ptrace of, processes outside the
  sandbox (the grader, other students' sandboxes).
"""

import ctypes
import os
import resource
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

_SYS_LANDLOCK = {"create_ruleset": 444, "add_rule": 445, "restrict_self": 446}  # all Linux arches
_PR_SET_NO_NEW_PRIVS, _PR_SET_PDEATHSIG = 38, 1
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000

# Landlock file-system rights, by the ABI version that introduced them.
_FS_READ = (1 << 0) | (1 << 2) | (1 << 3)        # execute, read file, read directory
_FS_ABI1 = (1 << 13) - 1                          # all 13 rights of ABI 1
_FS_BY_ABI = {1: _FS_ABI1, 2: _FS_ABI1 | 1 << 13, 3: _FS_ABI1 | 3 << 13, 5: _FS_ABI1 | 7 << 13}
_FILE_ONLY = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)  # rights valid on a file
_NET_TCP = (1 << 0) | (1 << 1)                    # bind, connect (ABI 4)
_SCOPE_ALL = (1 << 0) | (1 << 1)                  # abstract unix sockets, signals (ABI 6)

_SYSTEM_READABLE = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/proc", "/sys", "/dev",
                    "/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group",
                    "/etc/nsswitch.conf", "/etc/os-release", "/etc/ssl", "/etc/fonts", "/etc/mime.types")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one student process."""

    memory_mb: int = 2048
    cpu_seconds: int = 600
    file_mb: int = 64


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def landlock_abi():
    """The kernel's Landlock ABI version, or 0 when Landlock is not available."""
    if not sys.platform.startswith("linux"):
        return 0
    version = _libc().syscall(_SYS_LANDLOCK["create_ruleset"], None, 0, 1)
    return max(int(version), 0)


def readable_paths():
    """What student code may read: the interpreter, its packages, system libraries, tfclinic."""
    import tfclinic

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent),
             str(Path(tfclinic.__file__).resolve().parent), *_SYSTEM_READABLE}
    paths.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return sorted(p for p in paths if p and os.path.exists(p))


def _set_limits(limits):
    megabyte = 1024 * 1024
    for name, value in ((resource.RLIMIT_DATA, limits.memory_mb * megabyte),
                        (resource.RLIMIT_CPU, limits.cpu_seconds),
                        (resource.RLIMIT_FSIZE, limits.file_mb * megabyte),
                        (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(name, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing


def _isolate_network(libc):
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        return False
    # keep the same ids inside the namespace, so files in the working folder stay writable
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    return True


def _restrict_files(libc, abi, workdir, readable):
    handled = _FS_BY_ABI[max(v for v in _FS_BY_ABI if v <= abi)]
    attr = _RulesetAttr(handled, _NET_TCP if abi >= 4 else 0, _SCOPE_ALL if abi >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16
    ruleset = libc.syscall(_SYS_LANDLOCK["create_ruleset"], ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return False
    try:
        rules = [(path, _FS_READ) for path in readable] + [(str(workdir), handled)]
        for path, rights in rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                if not os.path.isdir(path):
                    rights &= _FILE_ONLY
                rule = _PathBeneath(rights & handled, fd)
                if libc.syscall(_SYS_LANDLOCK["add_rule"], ruleset, 1, ctypes.byref(rule), 0) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return libc.syscall(_SYS_LANDLOCK["restrict_self"], ruleset, 0) == 0
    finally:
        os.close(ruleset)


def confine(workdir, limits=Limits(), readable=None):
    """Confine this process to ``workdir`` and ``limits``; irreversible.

    Args:
        workdir: the only folder the process may write (and the only private one it may read).
        limits: a ``Limits``.
        readable: extra read-only paths; by default ``readable_paths()``.

    Returns:
        ``{"limits": bool, "network": bool, "files": bool, "processes": bool}``: which layers
        are in force.
    """
    applied = {"limits": False, "network": False, "files": False, "processes": False}
    _set_limits(limits)
    applied["limits"] = True
    if not sys.platform.startswith("linux"):
        return applied
    libc = _libc()
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the grader
    readable = readable_paths() if readable is None else readable
    applied["network"] = _isolate_network(libc)
    abi = landlock_abi()
    if abi >= 1:
        applied["files"] = _restrict_files(libc, abi, workdir, readable)
        applied["processes"] = applied["files"] and abi >= 6
        applied["network"] = applied["network"] or (applied["files"] and abi >= 4)
    return applied
