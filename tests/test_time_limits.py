"""Time limits count CPU seconds, so a busy machine does not decide whether a cell passes.

Each limit (a grading call, a grading submission, a `tfclinic validate` cell) is a
``tfclinic.processes.CpuBudget``: code that computes is stopped once it used its seconds of
CPU; code that only waits is stopped at ``WALL_BACKSTOP_FACTOR`` times as many wall seconds.
The tests give cells an exact amount of CPU work (a loop on ``time.process_time``), so what
they prove does not depend on this machine's speed, and run one of them beside processes
that keep every core busy.
"""

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from tfclinic.processes import CpuBudget
from tfclinic.sandbox.runner import student_environment
from tfclinic.sandbox.student import StudentProcess
from tfclinic.validate import run_notebook

pytestmark = pytest.mark.xdist_group("time_limits")  # the burners must not slow other groups


def cpu_work(seconds):
    """Source of a cell that uses ``seconds`` of its process's CPU, whatever the machine."""
    return (f"import time\n_end = time.process_time() + {seconds}\n"
            "while time.process_time() < _end:\n    pass\n")


def _burn(stop, spinning):
    os.setsid()  # a session, so an autogroup, of its own: see BusyMachine
    spinning.release()
    while not stop.is_set():
        pass


class BusyMachine:
    """Three spinning processes per core, for as long as the ``with`` block lasts.

    Each burner starts a session of its own. Linux's scheduler (with autogroups, the default
    on desktops and on this machine) shares the CPU between sessions first, and a runner or a
    student process runs in a session of its own too; so a cell gets at most 2/7 of a core
    on 2 cores, and its wall time is at least three times its CPU time."""

    def __enter__(self):
        context = multiprocessing.get_context("spawn")
        self.stop, spinning = context.Event(), context.Semaphore(0)
        self.burners = [context.Process(target=_burn, args=(self.stop, spinning), daemon=True)
                        for _ in range(3 * (os.cpu_count() or 1))]
        for burner in self.burners:
            burner.start()
        for _ in self.burners:  # a spawned burner imports this module first: wait for each
            assert spinning.acquire(timeout=120), "a burner did not start"
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for burner in self.burners:
            burner.join(timeout=10)
            if burner.is_alive():
                burner.kill()


def test_cpu_budget_counts_cpu_not_wall_time():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    spinner = subprocess.Popen([sys.executable, "-c", cpu_work(30)])
    try:
        time.sleep(0.5)  # both started
        waiting, computing = CpuBudget(sleeper.pid, 0.5), CpuBudget(spinner.pid, 0.5)
        deadline = time.monotonic() + 30
        while computing.exceeded() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert computing.exceeded() == "used more than 0.5 s of CPU"
        assert waiting.used() < 0.2 and waiting.exceeded() is None
    finally:
        for process in (sleeper, spinner):
            process.kill()
            process.wait()


def test_cpu_budget_stops_code_that_only_waits_at_its_wall_backstop():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        budget = CpuBudget(sleeper.pid, 0.2, backstop_factor=5)
        assert budget.exceeded() is None
        time.sleep(1.2)
        assert budget.exceeded() == "ran for more than 1 s"
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.fixture
def student(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    process = StudentProcess(workdir, student_environment(workdir, seed=0), call_timeout=3)
    yield process
    process.stop()


def test_a_graded_cell_that_waits_longer_than_its_limit_still_passes(student):
    output, error = student.run_cell("import time\ntime.sleep(3)\nprint('done')")
    assert error is None and "done" in output


def test_a_graded_cell_that_computes_past_its_limit_is_stopped(student):
    output, error = student.run_cell(cpu_work(60))
    assert error is not None and error[0] == "TimeoutError", error
    assert "more than 3 s of CPU" in error[1]
    output, error = student.run_cell("print('next cell')")  # the process serves the next cell
    assert error is None and "next cell" in output


@pytest.mark.parametrize("inherited", ["ignored", "default", "blocked"])
def test_an_interrupt_reaches_student_code_whatever_the_grader_did_with_it(tmp_path, inherited):
    """The student process is process 1 of its PID namespace, to which the kernel delivers
    only the signals it has a handler for. It must not inherit how the process that forked it
    handles interrupts (a test run, a Dask worker or a notebook server may ignore them)."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    previous = signal.getsignal(signal.SIGINT)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT} if inherited == "blocked" else set())
    if inherited != "blocked":
        signal.signal(signal.SIGINT, signal.SIG_IGN if inherited == "ignored" else signal.SIG_DFL)
    try:
        process = StudentProcess(workdir, student_environment(workdir, seed=0), call_timeout=1)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    try:
        output, error = process.run_cell(cpu_work(60))
        assert error is not None and error[0] == "TimeoutError", error
        output, error = process.run_cell("print('next cell')")
        assert error is None and "next cell" in output
    finally:
        process.stop()


def test_a_busy_machine_does_not_fail_a_graded_cell(student):
    with BusyMachine():
        started = time.monotonic()
        output, error = student.run_cell(cpu_work(1.2) + "print('finished')")
        wall = time.monotonic() - started
    print(f"1.2 s of CPU took {wall:.1f} s of wall time beside {3 * os.cpu_count()} busy processes")
    assert error is None and "finished" in output, error
    assert wall > 3, "the machine was not busy enough for the cell to pass its limit in wall time"


def test_validate_counts_cpu_per_cell_and_stops_what_computes_too_long(tmp_path):
    cells = [nbformat.v4.new_code_cell("import time\ntime.sleep(3)\nwaited = True"),
             nbformat.v4.new_code_cell(cpu_work(1)),
             nbformat.v4.new_code_cell(cpu_work(60)),
             nbformat.v4.new_code_cell("print('never')")]
    notebook = nbformat.v4.new_notebook(cells=cells)
    with BusyMachine():
        stopped = run_notebook(notebook, tmp_path, timeout=2.5)
    assert stopped == "a cell used more than 2.5 s of CPU and was stopped"
    ran = [cell.get("execution_count") is not None for cell in notebook.cells]
    assert ran == [True, True, True, False]
    assert not any(output.get("output_type") == "error" for cell in cells[:2] for output in cell.outputs)

