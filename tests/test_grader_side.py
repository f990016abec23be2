"""The grader's own process holds against what student code sends it and makes it print.

Models from student code are loaded in the runner, which has no limits of its own: a tiny
archive must not take its memory or disk (``model_bombs``). What student code prints while a
test runs must not show the test's inputs in feedback. A model given to student code comes
back changed only where a test hands it over to be trained. Folder names and messages reach
the instructor's terminal and CSV with their control characters escaped, and ``tfclinic
grade`` refuses a host that cannot confine student code unless told.
"""

import csv
import inspect
import json
import subprocess
import sys
import textwrap

import nbformat
import pytest

import model_bombs
from lesson_variants import ROOT, cell, exercise, solution
from tfclinic.errors import TfclinicError
from tfclinic.grading.grade import Grade, find_submissions, write_csv
from tfclinic.sandbox.protocol import ProtocolError, check_model_archive

pytestmark = pytest.mark.xdist_group("grader_side")

WITHHELD = "[output of your code during this test is not shown]"
RED = "\x1b[31mred"  # a folder name that would recolour the instructor's terminal

# Loads every bomb in a fresh process, as a runner would (a Decoder on the grader's side),
# and prints what each load did to its peak memory and its temporary folder.
LOAD_BOMBS = textwrap.dedent("""
    import json, os, resource, sys, tempfile
    import numpy as np
    import model_bombs
    import tfclinic.sandbox.protocol as protocol

    if sys.argv[1] == "no-budget":  # what the memory limit alone holds
        protocol.MAX_MODEL_PARAMETERS, protocol.MAX_WEIGHT_BYTES = 10 ** 12, 10 ** 13
    folder = tempfile.mkdtemp()
    load = lambda data: protocol.Decoder({}, None, folder=folder)._load_model(np.frombuffer(data, np.uint8))
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load(model_bombs.honest())
    bombs = model_bombs.bombs()
    limit, start = resource.getrlimit(resource.RLIMIT_DATA), peak()
    report = {}
    for name, data in bombs.items():
        try:
            load(data)
            report[name] = "loaded"
        except protocol.ProtocolError as error:
            report[name] = str(error)
    load(model_bombs.honest())
    print(json.dumps({"outcomes": report, "added_mb": peak() - start, "temporary": os.listdir(tempfile.gettempdir()),
                      "limit_restored": resource.getrlimit(resource.RLIMIT_DATA) == limit}))
""")


def load_bombs(tmp_path, mode="checked"):
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": str(ROOT / "tests")}
    done = subprocess.run([sys.executable, "-c", LOAD_BOMBS, mode], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_archive_as_keras_saves_it_passes_the_checks():
    check_model_archive(model_bombs.honest())


@pytest.mark.parametrize("name, reason", [
    ("padded_config", "'config.json' unpacks to"),
    ("zero_assets", "'assets/zeros-0' unpacks to"),
    ("sparse_weights", "the weights file declares more than"),
])
def test_bombs_in_the_archive_are_refused_before_keras_reads_it(name, reason):
    with pytest.raises(ProtocolError, match=reason):
        check_model_archive(model_bombs.bombs()[name])


@pytest.mark.parametrize("members, reason", [
    ({"config.json": b"{}", "../escape": b""}, "which Keras does not write"),
    ({"config.json": b"{}", "model.weights.npz": b""}, "which Keras does not write"),
    ({"model.weights.h5": b""}, "config.json once"),
    ({"config.json": b"[" * 100_000}, "not a Keras archive"),
])
def test_members_keras_does_not_write_are_refused(members, reason):
    with pytest.raises(ProtocolError, match=reason):
        check_model_archive(model_bombs._archive(members))


@pytest.mark.slow
def test_no_bomb_takes_the_graders_memory_or_disk(tmp_path):
    report = load_bombs(tmp_path)
    assert all(o.startswith("the model could not be loaded safely") for o in report["outcomes"].values()), report
    assert "more than 5,000,000 parameters" in report["outcomes"]["wide_dense"]
    assert "more than 5,000,000 parameters" in report["outcomes"]["nested_embedding"]  # two models deep
    assert report["added_mb"] < 100, report  # unchecked, they add 1.2 to 6 GB
    assert [p for p in report["temporary"] if not p.startswith("tmp")] == [], report  # nothing unpacked
    assert report["limit_restored"]


@pytest.mark.slow
def test_the_memory_limit_holds_what_the_parameter_budget_would_miss(tmp_path):
    from tfclinic.sandbox.protocol import LOAD_HEADROOM_BYTES

    report = load_bombs(tmp_path, "no-budget")
    for name in ("wide_dense", "nested_embedding"):  # built before any weight is read
        assert "could not be loaded safely" in report["outcomes"][name], report
    assert report["added_mb"] < LOAD_HEADROOM_BYTES / 2 ** 20 + 100, report
    assert report["limit_restored"]


def sends_bombs():
    """Code that makes the student process send a bomb in place of each model it returns, and
    makes each function return a model, so that every test cell's first call gets a bomb."""
    source = inspect.getsource(model_bombs)
    return ("_tiny = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])\n"
            "make_features = build_model = predict_one = mean_squared_error = lambda *args: _tiny\n"
            f"_bombs_module = {{}}\nexec({source!r}, _bombs_module)\n"
            "_bombs = list(_bombs_module['bombs']().values())\n"
            "import numpy as _np\n"
            "import tfclinic.sandbox.protocol as _protocol\n"
            "_encode = _protocol.Encoder._encode_keras\n"
            "def _bomb(self, value):\n"
            "    if isinstance(value, keras.Model) and _bombs:\n"
            "        return self._array('model', _np.frombuffer(_bombs.pop(0), dtype=_np.uint8))\n"
            "    return _encode(self, value)\n"
            "_protocol.Encoder._encode_keras = _bomb\n")


def prints_its_inputs():
    notebook = solution("shapes")
    cell(notebook, "shapes-make-features").source += (
        "\n\n\n_make_features = make_features\n\n\n"
        "def make_features(table):\n"
        "    print('INPUT ROWS', len(next(iter(table.values()))), 'FIRST', list(table)[:3])\n"
        "    return _make_features(table)\n\n\n"
        "print('SOLUTION CELL PRINTS')\n")
    return notebook


def raises_its_inputs():
    """Errors whose message, or whose class's name, carries the test's inputs."""
    notebook = solution("shapes")
    cell(notebook, "shapes-make-features").source = (
        "def make_features(table):\n"
        "    rows = len(next(iter(table.values())))\n"
        "    raise type(f'Rows{rows}First{list(table)[0]}', (ValueError,), {})('chosen class')\n")
    cell(notebook, "shapes-build-model").source += (
        "\n\n\n_build_model = build_model\n\n\n"
        "def build_model(*args, **kwargs):\n"
        "    raise ValueError('INPUT' + ' ARGS ' + repr(args) + repr(kwargs))\n\n\n"
        "try:\n    build_model()\nexcept ValueError as error:\n    print(error)\n")
    return notebook


def zeroes_the_model_it_gets():
    notebook = solution("shapes")
    cell(notebook, "shapes-predict-one").source = (
        "def predict_one(model, sample):\n"
        "    model.set_weights([0 * w for w in model.get_weights()])\n"
        "    return 0.0\n")
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from tfclinic.grading.grade import grade
    from tfclinic.sandbox.confine import Limits

    submissions, out = tmp_path_factory.mktemp("submissions"), tmp_path_factory.mktemp("out")
    bombs = solution("shapes")
    bombs.cells.append(nbformat.v4.new_code_cell(sends_bombs()))
    for student, notebook in {"ada": solution("shapes"), "bombs": bombs, "prints": prints_its_inputs(),
                              "raises": raises_its_inputs(), "zeroes": zeroes_the_model_it_gets()}.items():
        (submissions / student / "shapes").mkdir(parents=True)
        nbformat.write(notebook, submissions / student / "shapes" / "shapes.ipynb")
    (submissions / "ada" / RED).mkdir()
    reports, warnings = [], []
    rows = grade(ROOT, submissions, out, jobs=2, timeout=240, cell_timeout=30, limits=Limits(memory_mb=1536),
                 report=reports.append, warn=warnings.append)
    return {"rows": {row.student: row for row in rows}, "out": out, "reports": reports, "warnings": warnings}


def result(graded, student):
    return json.loads((graded["out"] / "nbgrader" / "graded" / student / "shapes" / "result.json").read_text())


def autograded(graded, student):
    return (graded["out"] / "nbgrader" / "autograded" / student / "shapes" / "shapes.ipynb").read_text()


def cell_outputs(graded, student, grade_id):
    notebook = nbformat.read(graded["out"] / "nbgrader" / "autograded" / student / "shapes" / "shapes.ipynb",
                             as_version=4)
    return "".join(o.get("text", "") + o.get("evalue", "") for o in cell(notebook, grade_id).outputs)


@pytest.mark.slow
def test_bombs_from_student_code_fail_their_tests_and_the_runner_stays_small(graded):
    rows = graded["rows"]
    assert (rows["ada"].score, rows["ada"].status) == (10, "graded")  # trains in place: train_custom_loop
    assert (rows["bombs"].score, rows["bombs"].status) == (0, "graded"), rows["bombs"]
    text = autograded(graded, "bombs")
    for reason in ("more than 5,000,000 parameters", "config.json", "assets/zeros-0", "weights file declares"):
        assert reason in text, reason
    for test in ("make-features", "build-model", "predict-one", "loss", "training"):
        assert "could not be loaded safely" in cell_outputs(graded, "bombs", f"shapes-{test}-test"), test
    assert result(graded, "bombs")["peak_mb"] < result(graded, "ada")["peak_mb"] + 150


@pytest.mark.slow
def test_what_student_code_prints_during_a_test_is_withheld(graded):
    assert graded["rows"]["prints"].score == 10
    text = autograded(graded, "prints")
    feedback = (graded["out"] / "feedback" / "prints" / "shapes.html").read_text()
    for page in (text, feedback):
        assert "INPUT ROWS 37" not in page and "sensor_04" not in page  # the hidden test's table
        assert "SOLUTION CELL PRINTS" in page  # the student's own cell keeps its output
    outputs = cell_outputs(graded, "prints", "shapes-make-features-test")
    assert outputs.count(WITHHELD) == 1 and "INPUT ROWS" not in outputs


@pytest.mark.slow
def test_errors_student_code_raises_during_a_test_show_no_text_of_its_own(graded):
    assert graded["rows"]["raises"].score < 10
    text = autograded(graded, "raises")
    feedback = (graded["out"] / "feedback" / "raises" / "shapes.html").read_text()
    for page in (text, feedback):
        assert "Rows37" not in page  # the hidden test's table; the visible one may show
        assert page.count("INPUT ARGS") == 1  # the student's own cell keeps its output
    outputs = cell_outputs(graded, "raises", "shapes-make-features-test")
    assert "an error of a class of your own (its message is not shown" in outputs, outputs
    outputs = cell_outputs(graded, "raises", "shapes-build-model-test")
    assert "ValueError (its message is not shown" in outputs, outputs


@pytest.mark.slow
def test_a_function_that_zeroes_the_model_it_gets_earns_no_credit_for_it(graded):
    row = graded["rows"]["zeroes"]
    assert (row.score, row.status) == (8, "graded"), row  # all but predict_one's 2 points
    assert "Not equal to tolerance" in cell_outputs(graded, "zeroes", "shapes-predict-one-test")


@pytest.mark.slow
def test_folder_names_reach_the_terminal_escaped(graded):
    lines = graded["warnings"] + graded["reports"]
    assert any("ada/\\x1b[31mred: not a lesson" in line for line in graded["warnings"]), lines
    assert not any(c in line for line in lines for c in "\x1b\n\r")


@pytest.mark.parametrize("name", ["eve\x1b[2J", "eve\n", "mallory\rada", "eve\u202e"])
def test_student_folders_with_control_characters_are_refused(tmp_path, name):
    (tmp_path / name / "shapes").mkdir(parents=True)
    with pytest.raises(TfclinicError, match="cannot be used as a folder name") as refused:
        find_submissions(tmp_path, known=["shapes"])
    assert str(refused.value).isprintable()


def test_grades_csv_makes_messages_inert_and_printable(tmp_path):
    message = "=HYPERLINK(\"http://x\")\x1b[2J\nforged line\x07"
    write_csv([Grade("ada", "shapes", 0, 10, "crashed", message)], tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv", newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["message"] == "'=HYPERLINK(\"http://x\")\\x1b[2J forged line\\x07"
    assert all(line.isprintable() for line in (tmp_path / "grades.csv").read_text().splitlines())


def confinement(monkeypatch, **held):
    from tfclinic import doctor

    report = {"held": {"limits": True, "network": True, "files": True, "processes": True, **held},
              "abi": 3, "outside": "blocked"}
    monkeypatch.setattr(doctor, "confinement_report", lambda *args, **kwargs: report)


def one_student(tmp_path):
    submissions = tmp_path / "submissions"
    (submissions / "bob" / "shapes").mkdir(parents=True)
    nbformat.write(exercise("shapes"), submissions / "bob" / "shapes" / "shapes.ipynb")
    return submissions


def test_grade_refuses_a_host_without_the_files_layer(tmp_path, monkeypatch, capsys):
    from tfclinic.cli import main

    confinement(monkeypatch, files=False, processes=False)
    out = tmp_path / "out"
    assert main(["grade", str(one_student(tmp_path)), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "no files layer" in error and "--allow-unconfined" in error and "processes" not in error
    assert not out.exists()


def test_a_missing_processes_layer_only_warns():
    from tfclinic.grading.grade import refuse_unconfined

    with pytest.MonkeyPatch.context() as monkeypatch:
        confinement(monkeypatch, processes=False)
        assert refuse_unconfined(warn=pytest.fail) == []


@pytest.mark.slow
def test_grade_allowed_unconfined_grades_and_names_the_layer(tmp_path, monkeypatch, capsys):
    from tfclinic.cli import main

    confinement(monkeypatch, network=False)
    out = tmp_path / "out"
    assert main(["grade", str(one_student(tmp_path)), "--out", str(out), "--allow-unconfined"]) == 0
    assert "grading without confinement (--allow-unconfined): no network layer" in capsys.readouterr().err
    with open(out / "grades.csv", newline="") as handle:
        assert [(r["student"], r["status"]) for r in csv.DictReader(handle)] == [("bob", "graded")]
