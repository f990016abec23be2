"""The sandbox's parts on their own: the data-only protocol and the confinement layers."""

import io
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tfclinic.sandbox.confine import LAYERS, landlock_abi
from tfclinic.sandbox.protocol import Decoder, Encoder, ProtocolError, receive, send


def round_trip(value, store=None, resolve=None):
    """Send ``value`` through a pipe as the protocol does; return what arrives."""
    encoder = Encoder(store=store)
    tree = encoder.encode(value)
    read, write = os.pipe()
    try:
        send(write, {"value": tree}, encoder.arrays)
        meta, arrays = receive(read)
    finally:
        os.close(read)
        os.close(write)
    return Decoder(arrays, resolve or (lambda tree: ("resolved", tree))).decode(meta["value"])


def test_plain_data_arrives_with_its_types():
    value = {1.0: math.nan, "rates": [0.1, (2, "x")], "a": np.arange(6, dtype=np.int32).reshape(2, 3),
             "s": np.float32(1.5), "none": None, "flag": True}
    back = round_trip(value)
    assert math.isnan(back[1.0]) and back["rates"] == [0.1, (2, "x")]
    assert back["a"].dtype == np.int32 and back["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(back["s"]) is np.float32 and back["s"] == 1.5
    assert back["none"] is None and back["flag"] is True


def test_callable_objects_become_handles_on_the_student_side():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

        def __call__(self):
            return 0

    stored = []
    back = round_trip(AlwaysEqual(), store=lambda obj: stored.append(obj) or 7)
    assert back == ("resolved", ["handle", 7]) and isinstance(stored[0], AlwaysEqual)


def test_subclasses_of_plain_types_arrive_as_the_plain_type():
    class Liar(float):
        def __eq__(self, other):
            return True

    back = round_trip([Liar(2.0)])
    assert type(back[0]) is float and back[0] != 3.0


def test_the_grader_side_refuses_to_send_objects():
    with pytest.raises(ProtocolError, match="cannot be sent"):
        Encoder().encode(object())


def test_pickled_arrays_and_unknown_tags_are_refused():
    read, write = os.pipe()
    try:
        buffer = io.BytesIO()
        np.savez(buffer, __meta__=np.frombuffer(b'{"value": ["py", 1]}', np.uint8),
                 bad=np.array([object()], dtype=object))
        payload = buffer.getvalue()
        os.write(write, len(payload).to_bytes(8, "big") + payload)
        with pytest.raises(ProtocolError):
            receive(read)
    finally:
        os.close(read)
        os.close(write)
    for tree in (["pickle", "x"], ["py", [1]], ["array", "missing"], "bare"):
        with pytest.raises(ProtocolError):
            Decoder({}, resolve=None).decode(tree)


def test_oversized_messages_are_refused():
    read, write = os.pipe()
    try:
        os.write(write, (10**9).to_bytes(8, "big"))
        with pytest.raises(ProtocolError, match="over the limit"):
            receive(read)
    finally:
        os.close(read)
        os.close(write)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Landlock and namespaces are Linux")
def test_a_confined_process_sees_only_its_folder(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("answer key")
    workdir = tmp_path / "work"
    workdir.mkdir()
    code = textwrap.dedent(f"""
        import os, socket
        from tfclinic.sandbox.confine import confine
        print(sorted(k for k, v in confine({str(workdir)!r}).items() if v))
        open('mine.txt', 'w').write('ok')
        print(open({str(workdir / 'mine.txt')!r}).read())
        for attempt in (lambda: open({str(outside)!r}).read(), lambda: os.kill({os.getpid()}, 0),
                        lambda: socket.create_connection(('127.0.0.1', 9), timeout=1)):
            try:
                attempt()
                print('ALLOWED')
            except OSError as error:
                print('refused', type(error).__name__)
    """)
    # one thread, as in a student process forked from the fork server (unshare needs that)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert landlock_abi() >= 6, "this machine's kernel cannot confine student code"
    assert lines[0] == str(sorted(LAYERS)), lines[0]
    assert lines[1] == "ok" and list(workdir.iterdir()) == []  # written to its own tmpfs
    assert lines[2].startswith("refused") and lines[3].startswith("refused"), lines  # other pid: unseen
    assert lines[4].startswith("refused"), lines


def _notebook(path, *sources):
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


def _run_notebook(server, notebook, work, timeout):
    """Have ``server`` fork a runner that grades ``notebook`` against itself in ``work``."""
    work.mkdir()
    return server.run([str(notebook), str(notebook), str(work)], cwd=work, env={},
                      stdout=work / "out.txt", stderr=work / "err.txt", timeout=timeout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is for Linux")
def test_the_fork_server_runs_stops_and_outlives_a_runner(tmp_path):
    import psutil

    from tfclinic.sandbox.forkserver import ForkServer

    slow = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    quick = _notebook(tmp_path / "quick.ipynb", "x = 1")
    with ForkServer() as server:
        done = _run_notebook(server, slow, tmp_path / "slow", timeout=5)
        assert done.timed_out and done.returncode != 0
        assert psutil.Process(server.process.pid).children(recursive=True) == []
        # what the killed runner could not remove (its student's folder) is in the server's
        left = [p.name for p in Path(server.folder).iterdir()]
        assert any(name.startswith("tfclinic-student-") for name in left), left
        # the server keeps serving after a runner was killed
        done = _run_notebook(server, quick, tmp_path / "quick", timeout=60)
        assert (done.returncode, done.timed_out) == (0, False), done.stderr
        assert json.loads((tmp_path / "quick" / "result.json").read_text())["status"] == "graded"
    assert server.process.poll() is not None
    assert not Path(server.folder).exists()
    ended = server.run(["x"], cwd=tmp_path, env={}, stdout=tmp_path / "o", stderr=tmp_path / "e")
    assert ended.returncode == 1 and "ended" in ended.stderr


def test_core_sets_split_the_cores_between_jobs(monkeypatch):
    from tfclinic.sandbox.forkserver import core_sets

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert core_sets(1) == [None]
    assert core_sets(2) == [[0, 2], [1, 3]]
    assert core_sets(4) == [[0], [1], [2], [3]]
    assert core_sets(5) == [None] * 5  # more jobs than cores: leave it to the scheduler


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux-only")
def test_runners_at_once_keep_to_cores_of_their_own(tmp_path):
    import ast

    from tfclinic.sandbox.forkserver import ForkServer, core_sets

    probe = _notebook(tmp_path / "probe.ipynb",  # a trusted cell: it runs in the runner itself
                      "import os\nopen('cores.txt', 'w').write(repr(sorted(os.sched_getaffinity(0))))")
    seen = []
    with ForkServer(jobs=2) as server:
        for run in range(2):
            done = _run_notebook(server, probe, tmp_path / f"run{run}", timeout=60)
            assert done.returncode == 0, done.stderr
            seen.append(ast.literal_eval((tmp_path / f"run{run}" / "cores.txt").read_text()))
    everything = sorted(os.sched_getaffinity(0))
    assert sorted(seen) == sorted(cores or everything for cores in core_sets(2))


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux-only")
def test_runners_and_student_processes_run_as_batch_jobs(tmp_path):
    import nbformat

    from tfclinic.sandbox.forkserver import ForkServer

    cells = [nbformat.v4.new_code_cell("import os\npolicy = os.sched_getscheduler(0)"),  # runner
             nbformat.v4.new_code_cell("print(__import__('os').sched_getscheduler(0))",  # student
                                       metadata={"nbgrader": {"solution": True, "grade_id": "probe"}}),
             nbformat.v4.new_code_cell("assert policy == os.SCHED_BATCH, policy",
                                       metadata={"nbgrader": {"grade": True, "grade_id": "runner",
                                                              "points": 1}})]
    notebook = tmp_path / "probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), notebook)
    policy = os.sched_getscheduler(0)
    with ForkServer() as server:
        done = _run_notebook(server, notebook, tmp_path / "run", timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["tests"]["runner"]["score"] == 1, result
    graded = nbformat.read(tmp_path / "run" / "autograded.ipynb", as_version=4)
    assert graded.cells[1].outputs[0]["text"].strip() == str(os.SCHED_BATCH)
    assert os.sched_getscheduler(0) == policy  # the grader itself is left as it was
