"""Confine the current process before it runs student code (Linux; no root needed).

Seven layers, each applied if the kernel offers it, and each reported by name:

- ``limits``: memory (``RLIMIT_DATA``), CPU seconds, bytes per written file (this bounds the
  logs the grader keeps), no core dumps.
- ``network``: a new user and network namespace, which has no interface but loopback.
- ``namespaces``: new PID, mount and IPC namespaces as well, with a fresh ``/proc``. The
  caller forks once more: the child, which returns from ``confine``, is process 1 of the new
  PID namespace and sees no process but its own descendants; the caller stays outside as a
  relay that passes interrupts on and exits as the child did. When process 1 ends, the kernel
  kills every process left in its namespace, so a daemon that student code double-forked
  cannot outlive it.
- ``disk``: the working folder is a private tmpfs of ``Limits.disk_mb`` (``/dev/shm`` a tiny
  one): student code can fill neither the host's disk nor its shared memory.
- ``files``: Landlock. Read-only access to the Python installation, the system libraries,
  ``/proc``, ``/sys`` and the tfclinic package; of ``/dev`` only ``null``, ``zero``, ``full``
  (read-write) and the random devices; read-write access to the working folder; nothing
  else, so not the course, the gradebook, the answer key or other students' work.
- ``processes``: Landlock scoping. No signals to, and no ptrace of, processes outside the
  sandbox (the grader, other students' sandboxes).
- ``syscalls``: a seccomp filter (x86_64 and aarch64) for what the other layers do not hold:
  Unix-domain sockets (a pathname socket reaches host services whatever Landlock says; a
  pair of stream sockets stays allowed),
  memory files (``memfd_create``: memory in no process's RSS), SysV shared memory, CPU
  affinity (widening the cores ``--jobs`` gave), io_uring, BPF, perf events, keyrings, other
  processes' memory, ptrace, mounts and new namespaces. ``clone3`` fails with ``ENOSYS``, so
  that glibc falls back to ``clone``, whose flags the filter can read.

Where the host refuses a layer (no unprivileged user namespaces; a container that will not
mount a ``/proc``), ``confine`` keeps the others and reports that one as not held: without
``namespaces`` there is no fork and the host's whole ``/proc`` stays readable; without
``disk`` the per-file limit is the only bound on writes. The grader also watches the
memory, processes and threads of the whole tree (``tfclinic.sandbox.student``).
"""

import contextlib
import ctypes
import os
import platform
import resource
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

_SYS_LANDLOCK = {"create_ruleset": 444, "add_rule": 445, "restrict_self": 446}  # all Linux arches
_PR_SET_NO_NEW_PRIVS, _PR_SET_PDEATHSIG, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 1, 22, 2
_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
_CLONE_NEWPID, _CLONE_NEWNET = 0x20000000, 0x40000000
_CLONE_NEW_ANY = 0x7E020000  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
_TMPFS_INODES = 16384  # files in the working folder: empty files take kernel memory, not size
_SHM_OPTIONS = "size=4m,nr_inodes=256,mode=1777"

# Landlock file-system rights, by the ABI version that introduced them.
_FS_READ = (1 << 0) | (1 << 2) | (1 << 3)        # execute, read file, read directory
_FS_READ_WRITE_FILE = (1 << 1) | (1 << 2) | (1 << 14)  # write, read, truncate a file
_FS_ABI1 = (1 << 13) - 1                          # all 13 rights of ABI 1
_FS_BY_ABI = {1: _FS_ABI1, 2: _FS_ABI1 | 1 << 13, 3: _FS_ABI1 | 3 << 13, 5: _FS_ABI1 | 7 << 13}
_FILE_ONLY = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)  # rights valid on a file
_NET_TCP = (1 << 0) | (1 << 1)                    # bind, connect (ABI 4)
_SCOPE_ALL = (1 << 0) | (1 << 1)                  # abstract unix sockets, signals (ABI 6)

_SYSTEM_READABLE = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/proc", "/sys",
                    "/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group",
                    "/etc/nsswitch.conf", "/etc/os-release", "/etc/ssl", "/etc/fonts", "/etc/mime.types")
_DEVICES = {"/dev/null": _FS_READ_WRITE_FILE, "/dev/zero": _FS_READ_WRITE_FILE,
            "/dev/full": _FS_READ_WRITE_FILE, "/dev/random": _FS_READ, "/dev/urandom": _FS_READ}

# What a host needs for each layer, for the grader's warning and ``tfclinic doctor``.
LAYERS = {
    "limits": "resource limits (setrlimit)",
    "network": "a network namespace (unprivileged user namespaces)",
    "namespaces": "PID and mount namespaces with a /proc of their own (unprivileged user "
                  "namespaces; many containers refuse to mount /proc)",
    "disk": "a tmpfs in a mount namespace (unprivileged user namespaces)",
    "files": "Landlock file rules (Linux 5.13+ with lsm=landlock)",
    "processes": "Landlock signal scoping (Linux 6.7+)",
    "syscalls": "a seccomp filter (Linux on x86_64 or aarch64)",
}

# seccomp: the syscalls refused with EPERM; x86_64 numbers from asm/unistd_64.h, aarch64
# numbers from the generic table (asm-generic/unistd.h). Numbers from 403 on are the same on
# every architecture.
_SHARED_NUMBERS = {"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
                   "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
                   "fsmount": 432, "fspick": 433, "clone3": 435, "mount_setattr": 442,
                   "memfd_secret": 447}
_SYSCALL_NUMBERS = {
    "x86_64": {"socket": 41, "socketpair": 53, "clone": 56, "shmget": 29, "ptrace": 101, "pivot_root": 155,
               "mount": 165, "umount2": 166, "sched_setaffinity": 203, "add_key": 248,
               "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
               "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
               "memfd_create": 319, "bpf": 321, "userfaultfd": 323, **_SHARED_NUMBERS},
    "aarch64": {"socket": 198, "socketpair": 199, "clone": 220, "shmget": 194, "ptrace": 117, "pivot_root": 41,
                "mount": 40, "umount2": 39, "sched_setaffinity": 122, "add_key": 217,
                "request_key": 218, "keyctl": 219, "unshare": 97, "perf_event_open": 241,
                "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271,
                "memfd_create": 279, "bpf": 280, "userfaultfd": 282, **_SHARED_NUMBERS},
}
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_REFUSED = sorted(set(_SYSCALL_NUMBERS["x86_64"]) - {"socket", "socketpair", "clone", "clone3"})
_BPF_LD_ABS, _BPF_AND, _BPF_JEQ, _BPF_JGE, _BPF_JSET, _BPF_RET = 0x20, 0x54, 0x15, 0x35, 0x45, 0x06
_RET_KILL_PROCESS, _RET_ERRNO, _RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
_X32_SYSCALL_BIT, _AF_UNIX, _SOCK_DGRAM, _SOCK_TYPE_MASK, _EPERM, _ENOSYS = 0x40000000, 1, 2, 0xF, 1, 38


@dataclass(frozen=True)
class Limits:
    """Resource limits for one student process.

    ``memory_mb`` (resident memory), ``processes`` (zombies included) and ``threads`` count
    the whole tree of processes student code starts; the grader watches them. ``disk_mb`` is
    the size of the working folder, ``file_mb`` of any one written file (its logs too).
    """

    memory_mb: int = 2048
    cpu_seconds: int = 600
    file_mb: int = 64
    disk_mb: int = 256
    processes: int = 64
    threads: int = 512


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


def _isolate(libc):
    """New namespaces: user, network, mount, PID and IPC where the host allows, else user and
    network only. Returns the flags that took effect, 0 for none."""
    uid, gid = os.getuid(), os.getgid()
    for flags in (_CLONE_NEWUSER | _CLONE_NEWNET | _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWIPC,
                  _CLONE_NEWUSER | _CLONE_NEWNET):
        if libc.unshare(ctypes.c_int(flags)) == 0:
            break
    else:
        return 0
    # keep the same ids inside the namespace, so files in the working folder stay writable
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    return flags


def _fork_into_pid_namespace(libc):
    """Fork the first process of the new PID namespace. Only the child returns; this process
    becomes its relay (``_relay``)."""
    sys.stdout.flush()
    sys.stderr.flush()
    # an interrupt waits until the relay has its handlers
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    child = os.fork()
    if child:
        _relay(child, mask)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0)  # die with the relay
    os.setsid()  # a process group of its own: kill(0, ...) reaches nothing outside


def _relay(child, mask):
    """The caller's side of the fork, never returning: it holds no file but its logs, passes
    interrupts on (a termination as SIGKILL: process 1 of a namespace ignores a SIGTERM it
    has no handler for) and ends as the child ended, by the same signal or exit status."""
    os.closerange(3, 1 << 20)

    def forward(signum, frame):
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGINT if signum == signal.SIGINT else signal.SIGKILL)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    code = 1
    with contextlib.suppress(ChildProcessError):
        code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code if code >= 0 else 128 - code)


def _mount(libc, source, target, fstype, flags, options=None):
    encode = (lambda text: None if text is None else str(text).encode())
    return libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags),
                      encode(options)) == 0


def _private_mounts(libc, workdir, limits):
    """In the new mount namespace: a /proc of the new PID namespace, and tmpfs on the working
    folder and on /dev/shm. Returns ``(proc, disk, shm)``: which of the three are mounted."""
    if not _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE):
        return False, False, False
    proc = _mount(libc, "proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    disk = _mount(libc, "tmpfs", workdir, "tmpfs", _MS_NOSUID | _MS_NODEV,
                  f"size={limits.disk_mb}m,nr_inodes={_TMPFS_INODES},mode=0700")
    if disk:
        os.chdir(workdir)  # onto the new file system
    shm = os.path.isdir("/dev/shm") and _mount(libc, "tmpfs", "/dev/shm", "tmpfs",
                                                _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, _SHM_OPTIONS)
    return proc, disk, shm


def _restrict_files(libc, abi, rules):
    """Landlock: ``rules`` is a list of ``(path, rights)``; nothing else is reachable."""
    handled = _FS_BY_ABI[max(v for v in _FS_BY_ABI if v <= abi)]
    attr = _RulesetAttr(handled, _NET_TCP if abi >= 4 else 0, _SCOPE_ALL if abi >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16
    ruleset = libc.syscall(_SYS_LANDLOCK["create_ruleset"], ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return False
    try:
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
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), 0, 0, 0) != 0:
            return False
        return libc.syscall(_SYS_LANDLOCK["restrict_self"], ruleset, 0) == 0
    finally:
        os.close(ruleset)


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _machine():
    """``x86_64`` or ``aarch64`` for a 64-bit Python on those, else None (no filter)."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(),
                                                           platform.machine().lower())
    return machine if machine in _SYSCALL_NUMBERS and ctypes.sizeof(ctypes.c_void_p) == 8 else None


def _when_argument(number, index, test, value, mask=None):
    """Instructions: for syscall ``number``, EPERM when argument ``index`` (its low word, and
    ``mask``) passes ``test`` against ``value`` (``_BPF_JEQ`` or ``_BPF_JSET``), else allow;
    other syscalls fall through to what follows."""
    body = [(_BPF_LD_ABS, 0, 0, 16 + 8 * index)] + ([(_BPF_AND, 0, 0, mask)] if mask else [])
    body += [(test, 0, 1, value), (_BPF_RET, 0, 0, _RET_ERRNO | _EPERM), (_BPF_RET, 0, 0, _RET_ALLOW)]
    return [(_BPF_JEQ, 0, len(body), number)] + body


def seccomp_program(machine):
    """The classic BPF program of the ``syscalls`` layer, as ``(code, jt, jf, k)`` tuples."""
    numbers = _SYSCALL_NUMBERS[machine]
    program = [(_BPF_LD_ABS, 0, 0, 4), (_BPF_JEQ, 1, 0, _AUDIT_ARCH[machine]),  # seccomp_data.arch
               (_BPF_RET, 0, 0, _RET_KILL_PROCESS), (_BPF_LD_ABS, 0, 0, 0)]   # .nr
    if machine == "x86_64":  # the x32 ABI reaches the same kernel code by other numbers
        program += [(_BPF_JGE, 0, 1, _X32_SYSCALL_BIT), (_BPF_RET, 0, 0, _RET_ERRNO | _EPERM)]
    for name in _REFUSED:
        program += [(_BPF_JEQ, 0, 1, numbers[name]), (_BPF_RET, 0, 0, _RET_ERRNO | _EPERM)]
    program += [(_BPF_JEQ, 0, 1, numbers["clone3"]), (_BPF_RET, 0, 0, _RET_ERRNO | _ENOSYS)]
    program += _when_argument(numbers["socket"], 0, _BPF_JEQ, _AF_UNIX)
    # a datagram socket of a pair can still send to any socket's path; a stream one cannot
    program += _when_argument(numbers["socketpair"], 1, _BPF_JEQ, _SOCK_DGRAM, mask=_SOCK_TYPE_MASK)
    program += _when_argument(numbers["clone"], 0, _BPF_JSET, _CLONE_NEW_ANY)
    return program + [(_BPF_RET, 0, 0, _RET_ALLOW)]


def _filter_syscalls(libc):
    """Install ``seccomp_program`` on this (single-threaded) process and all it will start."""
    machine = _machine()
    if machine is None:
        return False
    program = seccomp_program(machine)
    instructions = (_SockFilter * len(program))(*(_SockFilter(*i) for i in program))
    fprog = _SockFprog(len(program), instructions)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), 0, 0, 0) != 0:
        return False
    return libc.prctl(_PR_SET_SECCOMP, ctypes.c_ulong(_SECCOMP_MODE_FILTER), ctypes.byref(fprog),
                      0, 0) == 0


def _file_rules(workdir, readable, shm):
    """Landlock rules: read ``readable`` (``/proc`` among them: the private one where it is
    mounted), read-write ``workdir`` and the private /dev/shm, the nodes of ``_DEVICES``."""
    everything = _FS_BY_ABI[max(_FS_BY_ABI)]
    rules = [(path, _FS_READ) for path in readable]
    rules += [(path, rights) for path, rights in _DEVICES.items() if os.path.exists(path)]
    return rules + [(str(workdir), everything)] + ([("/dev/shm", everything)] if shm else [])


def confine(workdir, limits=Limits(), readable=None):
    """Confine this process to ``workdir`` and ``limits``; irreversible.

    Where the ``namespaces`` layer holds, this process forks: the child returns, confined,
    as process 1 of a new PID namespace, and this process relays for it (it never returns;
    signal it as if it were the child). Call it from a single-threaded process.

    Args:
        workdir: the only folder the process may write (and the only private one it may read).
        limits: a ``Limits``.
        readable: extra read-only paths; by default ``readable_paths()``.

    Returns:
        ``{layer: bool}`` for each layer of ``LAYERS``: which are in force.
    """
    applied = dict.fromkeys(LAYERS, False)
    _set_limits(limits)
    applied["limits"] = True
    if not sys.platform.startswith("linux"):
        return applied
    libc = _libc()
    libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0)  # die with the grader
    readable = readable_paths() if readable is None else readable
    isolated = _isolate(libc)
    applied["network"] = bool(isolated)
    shm = False
    if isolated & _CLONE_NEWPID:
        _fork_into_pid_namespace(libc)
        applied["namespaces"], applied["disk"], shm = _private_mounts(libc, workdir, limits)
    abi = landlock_abi()
    if abi >= 1:
        applied["files"] = _restrict_files(libc, abi, _file_rules(workdir, readable, shm))
        applied["processes"] = applied["files"] and abi >= 6
        applied["network"] = applied["network"] or (applied["files"] and abi >= 4)
    applied["syscalls"] = _filter_syscalls(libc)
    return applied
