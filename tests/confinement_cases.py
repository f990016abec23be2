"""The student process's confinement holds against code that attacks it layer by layer.

Each case starts a real student process (forked from this one, confined as in grading) and
runs one attack in it as a cell; the attack prints what it got, and the case checks that,
and the host side: what the student process could reach, what it left behind. The cases run
in an interpreter of their own (``test_confinement.py``), never in a pytest worker that ran
TensorFlow before.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import numpy as np
import psutil
import pytest

from tfclinic.sandbox.confine import _SYSCALL_NUMBERS, Limits
from tfclinic.sandbox.runner import student_environment
from tfclinic.sandbox.student import StudentFunction, StudentProcess, StudentProcessEnded

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the layers are Linux's")

LAYERS_TESTED = ("namespaces", "disk", "files", "syscalls")


@pytest.fixture
def start(tmp_path):
    """``start(**limits)``: a ready student process with those ``Limits``; stopped afterwards."""
    started = []

    def start(**limits):
        workdir = tmp_path / f"work{len(started)}"
        workdir.mkdir()
        process = StudentProcess(workdir, student_environment(workdir, seed=0), Limits(**limits),
                                 call_timeout=30)
        started.append(process)
        held = process.wait_ready()
        missing = [layer for layer in LAYERS_TESTED if not held.get(layer)]
        assert not missing, f"this machine cannot confine student code: no {', '.join(missing)}"
        return process

    yield start
    for process in started:
        process.stop()


def run(process, source):
    """Run a cell; its output (an error in it is part of the output)."""
    output, error = process.run_cell(source)
    return output + (f"\nERROR {error[0]}: {error[1]}" if error else "")


def tree(process):
    """The processes below the grader's child (the relay), by pid."""
    return {p.pid: p for p in psutil.Process(process.process.pid).children(recursive=True)}


def test_another_process_arguments_cannot_be_read(start):
    secret = "argv-" + uuid.uuid4().hex
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", secret])
    try:
        process = start()
        printed = run(process, (
            "import os\n"
            f"_secret = {secret[::-1]!r}[::-1]\n"
            "_pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
            "_found = 0\n"
            "for _pid in _pids:\n"
            "    for _name in ('cmdline', 'environ'):\n"
            "        try:\n"
            "            _found += _secret in open(f'/proc/{_pid}/{_name}').read()\n"
            "        except OSError:\n"
            "            pass\n"
            "print('SEEN', len(_pids), 'FOUND', _found)\n"
            "try:\n"
            f"    open('/proc/{host.pid}/cmdline').read()\n"
            "    print('HOST' ' READ')\n"
            "except OSError as _error:\n"
            "    print('REFUSED', type(_error).__name__)\n"))
    finally:
        host.kill()
        host.wait()
    assert "FOUND 0" in printed and "REFUSED" in printed, printed
    assert int(re.search(r"SEEN (\d+)", printed).group(1)) <= 2, printed  # itself, maybe a child
    assert secret not in printed


def test_a_pathname_unix_socket_cannot_be_reached(start):
    folder = tempfile.mkdtemp(prefix="tfclinic-sock-", dir="/tmp")  # short: sun_path is 108 bytes
    path = os.path.join(folder, "listener.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(path)
        server.listen()
        process = start()
        printed = run(process, (
            "import socket\n"
            "try:\n"
            "    _client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            f"    _client.connect({path!r})\n"
            "    print('CONN' 'ECTED')\n"
            "except OSError as _error:\n"
            "    print('REFUSED', type(_error).__name__)\n"
            "_a, _b = socket.socketpair()\n"  # a pair of its own stays allowed
            "_a.sendall(b'ping'); print('PAIR', _b.recv(4).decode())\n"
            "try:\n"  # a datagram pair could send to any path
            "    socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
            "    print('DATAGRAM' ' PAIR')\n"
            "except OSError as _error:\n"
            "    print('REFUSED DATAGRAM', type(_error).__name__)\n"))
        server.setblocking(False)
        with pytest.raises(BlockingIOError):  # nothing waits to be accepted
            server.accept()
    finally:
        server.close()
        os.unlink(path)
        os.rmdir(folder)
    assert "REFUSED PermissionError" in printed and "PAIR ping" in printed, printed
    assert "REFUSED DATAGRAM PermissionError" in printed, printed


def test_host_shared_memory_and_terminals_cannot_be_read(start):
    secret = "shm-" + uuid.uuid4().hex
    shared = f"/dev/shm/tfclinic-test-{uuid.uuid4().hex}"
    with open(shared, "w") as handle:
        handle.write(secret)
    try:
        process = start()
        printed = run(process, (
            "import os\n"
            f"for _path in ({shared!r}, '/dev/pts'):\n"
            "    try:\n"
            "        print('READ', _path, os.listdir(_path) if os.path.isdir(_path) else open(_path).read())\n"
            "    except OSError as _error:\n"
            "        print('REFUSED', _path, type(_error).__name__)\n"
            "open('/dev/shm/own', 'w').write('x')\n"  # a tiny /dev/shm of its own
            "print('OWN SHM', os.listdir('/dev/shm'))\n"))
    finally:
        os.unlink(shared)
    assert f"REFUSED {shared} FileNotFoundError" in printed, printed  # its /dev/shm is its own
    assert "REFUSED /dev/pts PermissionError" in printed and "READ" not in printed, printed
    assert "OWN SHM ['own']" in printed and secret not in printed


def test_memory_files_and_affinity_are_refused(start):
    process = start()
    printed = run(process, (
        "import os\n"
        "for _name, _attempt in [('memfd', lambda: os.memfd_create('hidden')),\n"
        "                        ('affinity', lambda: os.sched_setaffinity(0, range(os.cpu_count()))),\n"
        "                        ('getaffinity', lambda: sorted(os.sched_getaffinity(0)))]:\n"
        "    try:\n"
        "        print('ALLOWED', _name, _attempt())\n"
        "    except OSError as _error:\n"
        "        print('REFUSED', _name, type(_error).__name__)\n"))
    assert "REFUSED memfd PermissionError" in printed, printed
    assert "REFUSED affinity PermissionError" in printed, printed
    assert "ALLOWED getaffinity" in printed, printed  # reading its cores is fine


def daemon(megabytes):
    """A cell that double-forks a daemon in a session of its own, holding ``megabytes`` of
    memory; the cell returns once the daemon holds it."""
    return (
        "import os, time\n"
        "_ready, _done = os.pipe()\n"
        "if os.fork() == 0:\n"
        "    try:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        f"            _block = b'x' * ({megabytes} << 20)\n"  # written, so resident
        "            os.write(_done, b'1')\n"
        "            time.sleep(600)\n"
        "    finally:\n"
        "        os._exit(0)\n"
        "os.close(_done)\n"
        "os.wait()\n"
        "print('DAEMON', os.read(_ready, 1).decode())\n"
        "os.close(_ready)\n")


def test_a_double_forked_daemon_is_counted_and_dies_with_the_student_process(start):
    process = start()
    run(process, "x = 1")
    rss, processes, _ = process.tree_usage()
    assert "DAEMON 1" in run(process, daemon(300))
    daemon_rss, daemon_processes, _ = process.tree_usage()
    assert daemon_processes == processes + 1  # the grader's count has it
    assert daemon_rss - rss > 250 << 20, (rss, daemon_rss)
    daemons = [p for p in tree(process).values()
               if p.memory_info().rss > 250 << 20 and p.ppid() != process.process.pid]
    assert daemons, "the daemon is not below the student process"
    with pytest.raises(StudentProcessEnded):
        process.run_cell("import os\nos._exit(0)")  # the student process ends by itself
    gone, alive = psutil.wait_procs(daemons, timeout=10)
    assert alive == [], "the daemon outlived the student process"


def test_daemons_over_the_memory_limit_end_the_student_process(start):
    process = start(memory_mb=640)  # also each process's RLIMIT_DATA: one daemon stays under it
    assert process.tree_usage()[0] < 400 << 20
    with pytest.raises(StudentProcessEnded):
        run(process, daemon(300) + daemon(300) + "time.sleep(30)\n")
    assert process.ended[0] == "out of memory", process.ended


def test_a_fork_loop_leaving_zombies_is_stopped(start):
    process = start(processes=16)
    with pytest.raises(StudentProcessEnded):
        run(process, "import os, time\nfor _ in range(40):\n    if os.fork() == 0:\n        os._exit(0)\n"
                     "time.sleep(30)\n")
    status, message = process.ended
    assert status == "too many processes" and "more than 16 processes" in message, process.ended
    assert process.process.poll() is not None


def test_a_thread_bomb_is_stopped(start):
    process = start(threads=64)
    started = time.monotonic()
    with pytest.raises(StudentProcessEnded):
        run(process, "import threading, time\nthreading.stack_size(1 << 18)\n_event = threading.Event()\n"
                     "for _ in range(200):\n    threading.Thread(target=_event.wait, daemon=True).start()\n"
                     "time.sleep(30)\n")
    assert process.ended[0] == "too many threads", process.ended
    assert time.monotonic() - started < 20


def test_files_past_the_quota_fail_on_a_tmpfs_of_its_own(start):
    process = start(disk_mb=16)
    printed = run(process, (
        "import errno\n"
        "_written = 0\n"
        "try:\n"
        "    for _index in range(100):\n"
        "        with open(f'file{_index}', 'wb') as _handle:\n"
        "            _handle.write(b'x' * (1 << 20))\n"
        "        _written += 1\n"
        "except OSError as _error:\n"
        "    print('STOPPED', errno.errorcode[_error.errno], 'AFTER', _written)\n"))
    found = re.search(r"STOPPED (\w+) AFTER (\d+)", printed)
    assert found and found.group(1) == "ENOSPC" and int(found.group(2)) <= 16, printed
    assert list(os.scandir(process.workdir)) == []  # the host folder under it stays empty
    assert "hi" in run(process, "print('hi')")  # and the student process goes on


def test_a_replaced_library_function_does_not_run_for_the_grader(start):
    import keras

    from tfclinic.training import train_custom_loop

    process = start()
    printed = run(process, (
        "import numpy as np, tensorflow as tf\n"
        "import tfclinic.training as _training\n"
        "def loss(y_true, y_pred):\n"
        "    return tf.reduce_mean((y_true - y_pred) ** 2)\n"
        "_fake = lambda *args, **kwargs: np.zeros(3)\n"
        "_training.train_custom_loop.__wrapped__.__code__ = _fake.__code__\n"
        "_training.train_custom_loop = _fake\n"
        "print('REPLACED', len(_training.train_custom_loop(None, None, None, None)))\n"))
    assert "REPLACED 3" in printed, printed
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    before = [w.copy() for w in model.get_weights()]
    x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    losses = train_custom_loop(model, x, x.sum(axis=1, keepdims=True), StudentFunction(
        process, ["student", "loss"], "loss()"), steps=20)
    assert len(losses) == 20 and losses[-1] < losses[0], losses  # it trained, under the filter
    assert not np.allclose(before[0], model.get_weights()[0])


@pytest.mark.parametrize("machine, header", [
    ("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    ("aarch64", "/usr/include/asm-generic/unistd.h"),
])
def test_syscall_numbers_match_the_kernel_headers(machine, header):
    if not os.path.exists(header):
        pytest.skip(f"no {header} here")
    with open(header) as handle:
        defined = dict(re.findall(r"#define __NR_(\w+)\s+(\d+)\b", handle.read()))
    assert {name: str(number) for name, number in _SYSCALL_NUMBERS[machine].items()} == \
        {name: defined.get(name) for name in _SYSCALL_NUMBERS[machine]}
