"""`tfclinic doctor`: the real command on this machine, and every check both ways."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from tfclinic import doctor
from tfclinic.doctor import FAIL, PASS, WARN, CHECKS, Machine, Result, run_checks
from tfclinic.sandbox.confine import LAYERS
from tfclinic.sandbox.confine import landlock_abi

TFCLINIC = str(Path(sys.executable).with_name("tfclinic"))
STATUSES = (PASS, WARN, FAIL)
NAMES = [check.check_name for check in CHECKS]


def run_doctor(*args, env=None, timeout=120):
    return subprocess.run([TFCLINIC, "doctor", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def check_lines(stdout):
    """The lines that report a check, by check name."""
    lines = {}
    for line in stdout.splitlines():
        status, _, rest = line.partition("  ")
        if status in STATUSES:
            lines[rest.split()[0]] = (status, line)
    return lines


def test_the_real_command_passes_here_with_one_line_per_check():
    done = run_doctor()
    assert done.returncode == 0, done
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[1] for line in lines[:-1]] == NAMES  # one line per check, in order
    assert all(line.split()[0] in (PASS, WARN) for line in lines[:-1]), done.stdout
    # the summary gives the total time; how fast the doctor is belongs to the note, not a timed test
    assert re.match(rf"{len(NAMES)} checks in \d+\.\d s: ", lines[-1]), lines[-1]
    found = check_lines(done.stdout)
    assert found["training"][0] == PASS and "loss" in found["training"][1]
    assert found["tensorflow"][0] == PASS  # this checkout installs the pinned TensorFlow
    widths = {line.index(" s  ") for line in lines[:-1]}
    assert len(widths) == 1  # the columns line up


def test_help_says_what_the_exit_status_means():
    done = run_doctor("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "usage: tfclinic doctor" in text and "--instructor" in text
    assert "0 when no check fails" in text and "1 when any check fails" in text


@pytest.fixture
def broken_tensorflow(tmp_path):
    """An environment whose `import tensorflow` raises, as after a broken install."""
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated broken TensorFlow install')\n")
    return {**os.environ, "PYTHONPATH": str(fake.parent)}


def test_a_tensorflow_that_does_not_import_fails_with_the_install_command(broken_tensorflow):
    done = run_doctor(env=broken_tensorflow)
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    found = check_lines(done.stdout)
    assert set(found) == set(NAMES)  # the other checks still ran
    status, line = found["tensorflow"]
    assert status == FAIL and "simulated broken TensorFlow install" in line
    assert "make install" in line
    assert found["training"][0] == FAIL and "fix the tensorflow line first" in found["training"][1]
    assert found["python"][0] == PASS and found["jupyter"][0] == PASS
    assert "0 WARN, 2 FAIL" in done.stdout.splitlines()[-1]


def test_python_outside_requires_python_fails():
    assert doctor.check_python(Machine(python_version=(3, 11, 7))).status == PASS
    for old_or_new in ((3, 9, 18), (3, 14, 0)):
        result = doctor.check_python(Machine(python_version=old_or_new))
        assert result.status == FAIL
        assert ".".join(map(str, old_or_new)) in result.found and ">=3.10,<3.14" in result.found
        assert "make install" in result.fix


def test_pins_come_from_the_installed_metadata():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 or later
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert doctor.python_requirement() == SpecifierSet(project["requires-python"])
    pin = doctor.tensorflow_pin()
    assert "2.21.0" in pin and "2.21.7" in pin and "2.20.0" not in pin and "2.22.0" not in pin
    assert all(str(pin) in line for line in project["optional-dependencies"]["cpu"] if "tensorflow" in line)


IMPORTED = {"tensorflow": "2.21.0", "keras": "3.15.1", "import_seconds": 4.0}
TRAINED = {**IMPORTED, "train_seconds": 2.0, "epochs": 12, "first_loss": 4.5, "last_loss": 0.2,
           "peak_mb": 600.0}


@pytest.mark.parametrize("report, status, fragment", [
    (TRAINED, PASS, "TensorFlow 2.21.0, Keras 3.15.1"),
    ({**TRAINED, "tensorflow": "2.15.1"}, WARN, "the course pins TensorFlow ==2.21.*"),
    ({**TRAINED, "keras": "2.15.0"}, WARN, "with Keras 3"),
    ({"error": "ModuleNotFoundError: No module named 'tensorflow'"}, FAIL, "No module named"),
    ({"timed_out": 45.0}, FAIL, "could not import TensorFlow within 45 s"),
    ({"exit": -11, "stderr": "Segmentation fault"}, FAIL, "status -11 (Segmentation fault)"),
])
def test_tensorflow_check(report, status, fragment):
    result = doctor.check_tensorflow(Machine(tensorflow=report))
    assert (result.status, fragment in result.found) == (status, True), result
    assert (result.fix == doctor.INSTALL_FIX) == (status != PASS)


@pytest.mark.parametrize("report, status, fragment", [
    (TRAINED, PASS, "12 epochs in 2.0 s, loss 4.5 -> 0.2, peak memory 600 MB"),
    ({**TRAINED, "last_loss": 4.6}, FAIL, "the loss did not go down"),
    ({**TRAINED, "last_loss": float("nan")}, FAIL, "the loss did not go down"),
    ({**IMPORTED, "timed_out": 45.0}, FAIL, "could not train within 45 s"),
    ({"error": "ImportError: boom"}, FAIL, "cannot import TensorFlow"),
])
def test_training_check(report, status, fragment):
    result = doctor.check_training(Machine(tensorflow=report))
    assert result.status == status and fragment in result.found, result


def test_a_hung_tensorflow_costs_its_deadline_not_a_hang(tmp_path):
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text("import time\ntime.sleep(600)\n")
    machine = Machine(env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=3)
    results = run_checks(machine, [doctor.check_tensorflow, doctor.check_training])
    assert [r.status for r in results] == [FAIL, FAIL]
    assert "within 3 s" in results[0].found and results[0].seconds < 10
    assert machine._run.process.poll() is not None  # killed, not left behind


def test_the_training_run_reports_its_numbers():
    machine = Machine(train_seconds=0.5)
    try:
        report = machine.tensorflow_report(until="train_seconds")
    finally:
        machine.close()
    assert report["tensorflow"].startswith("2.") and report["epochs"] >= 3  # even if slow
    assert 0.5 <= report["train_seconds"] < 10 and report["last_loss"] < report["first_loss"]
    assert report["peak_mb"] > 100


def test_disk_thresholds(tmp_path):
    import shutil

    free = shutil.disk_usage(tmp_path).free / 1e9
    assert doctor.check_disk(Machine(folder=tmp_path)).status == (
        PASS if free >= doctor.INSTALL_GB else WARN if free >= doctor.DISK_MINIMUM_GB else FAIL)
    warn = doctor.check_disk(Machine(folder=tmp_path, install_gb=free * 2, disk_minimum_gb=free / 2))
    assert warn.status == WARN and "a fresh install needs" in warn.found
    fail = doctor.check_disk(Machine(folder=tmp_path, install_gb=free * 4, disk_minimum_gb=free * 2))
    assert fail.status == FAIL and str(tmp_path) in fail.found and "free disk space" in fail.fix


def test_memory_thresholds():
    import psutil

    available = psutil.virtual_memory().available / 1e9
    assert doctor.check_memory(Machine(memory_needed_gb=available / 4,
                                       memory_minimum_gb=available / 8)).status == PASS
    warn = doctor.check_memory(Machine(memory_needed_gb=available * 4, memory_minimum_gb=available / 8))
    assert warn.status == WARN and "close other programs" in warn.fix
    fail = doctor.check_memory(Machine(memory_needed_gb=available * 8, memory_minimum_gb=available * 4))
    assert fail.status == FAIL and "GB available" in fail.found


def test_jupyter_passes_here_and_fails_when_validate_is_disabled(tmp_path, monkeypatch):
    assert doctor.check_jupyter(Machine()).status == PASS
    config = tmp_path / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyter/nbgrader:validate-assignment": True}}))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config))
    result = doctor.check_jupyter(Machine())
    assert result.status == FAIL and "validate-assignment is disabled" in result.found
    assert "jupyter labextension enable @jupyter/nbgrader:validate-assignment" in result.fix


def test_jupyter_fails_when_jupyterlab_does_not_import(monkeypatch):
    monkeypatch.setitem(sys.modules, "jupyterlab", None)  # `import jupyterlab` now raises
    result = doctor.check_jupyter(Machine())
    assert result.status == FAIL and "JupyterLab does not import" in result.found
    assert result.fix == doctor.INSTALL_FIX


def test_the_confinement_probe_agrees_with_the_kernel():
    report = doctor.confinement_report()
    abi = landlock_abi()
    assert report["abi"] == abi and report["held"]["limits"]
    assert report["held"]["files"] == (abi >= 1)
    assert report["held"]["processes"] == (abi >= 6)
    assert report["outside"] == ("blocked" if abi >= 1 else "readable")


HELD = dict.fromkeys(LAYERS, True)  # every layer of tfclinic.sandbox.confine


@pytest.mark.parametrize("report, instructor, status", [
    ({"held": HELD, "abi": 7, "outside": "blocked"}, True, PASS),
    ({"held": {**HELD, "processes": False}, "abi": 4, "outside": "blocked"}, True, WARN),
    ({"held": {**HELD, "namespaces": False, "disk": False, "syscalls": True}, "abi": 7,
      "outside": "blocked"}, True, WARN),  # a container: no /proc of its own, files still held
    ({"held": {**HELD, "files": False, "processes": False}, "abi": 0, "outside": "readable"}, True, FAIL),
    ({"held": HELD, "abi": 7, "outside": "readable"}, True, FAIL),  # claimed, yet not in force
    ({"error": "the probe did not finish in 20 s"}, True, FAIL),
    ({"held": {**HELD, "files": False, "processes": False}, "abi": 0, "outside": "readable"}, False, PASS),
    ({"error": "the probe did not finish in 20 s"}, False, PASS),
])
def test_confinement_fails_only_for_instructors(report, instructor, status):
    result = doctor.check_confinement(Machine(confinement=report, instructor=instructor))
    assert result.status == status, result
    if not instructor:
        assert result.found.startswith("for grading only")
    if status == FAIL:
        assert "Landlock" in result.fix


def test_a_check_that_crashes_is_a_fail_and_the_others_still_run():
    def check_broken(machine):
        raise RuntimeError("a bug in a check")

    seen = []
    results = run_checks(Machine(), [check_broken, doctor.check_python], report=seen.append)
    assert results == seen and [r.status for r in results] == [FAIL, PASS]
    assert results[0].name == "check_broken"
    assert "RuntimeError: a bug in a check" in results[0].found


def test_lines_and_summary():
    results = [Result("python", PASS, "Python 3.11.7", "never shown", 0.04),
               Result("disk", FAIL, "0.3 GB free", "free disk space.", 0.01)]
    lines = [doctor.format_result(r) for r in results]
    assert lines[0] == "PASS  python        0.0 s  Python 3.11.7"
    assert lines[1] == "FAIL  disk          0.0 s  0.3 GB free. Fix: free disk space"
    assert doctor.summary(results, 12.34) == "2 checks in 12.3 s: 1 PASS, 0 WARN, 1 FAIL"
