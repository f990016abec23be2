"""Untrusted student code earns no false credit, cannot stop the grader, nor touch the gradebook.

One class folder of hostile submissions is graded once, two at a time, and each test checks
one attack. Every hostile notebook starts from the shapes exercise, which earns 0 of 10 when
graded honestly: any credit it gets is false credit. "ada" (the solution) and "bob" (the
exercise) are graded in the same batch and must keep their honest 10 and 0.
"""

import copy
import json
import os
import socket
import sqlite3
import threading

import nbformat
import psutil
import pytest
from bs4 import BeautifulSoup

from lesson_variants import ROOT, cell, exercise, solution

pytestmark = pytest.mark.xdist_group("untrusted")  # one worker grades the module's class once

LINGER_MARKER = "tfclinic-linger-marker"
LAST_SOLUTION = "shapes-loss"  # output of solution cells is shown in feedback: attacks print there
HIDDEN_TEST_LINE = "_table, _ = sensor_table(n_samples=37"  # from a hidden test of the shapes lesson
# A variable of the instructor's environment while grading: no process below `tfclinic grade`
# that runs student code may hold it (a token, a password in a real environment).
SECRET_VARIABLE, SECRET_VALUE = "TFCLINIC_TEST_INSTRUCTOR_TOKEN", "tok-" + "7f3a9c51e2"


def at_start(code):
    """The exercise with ``code`` in a cell right after the setup cell."""
    notebook = exercise("shapes")
    notebook.cells.insert(1, nbformat.v4.new_code_cell(code))
    return notebook


def at_end(code, base=None):
    """The exercise (or ``base``) with ``code`` in a new last cell."""
    notebook = copy.deepcopy(base) if base is not None else exercise("shapes")
    notebook.cells.append(nbformat.v4.new_code_cell(code))
    return notebook


def in_solution_cell(code):
    """The exercise with ``code`` added to its last solution cell, whose output feedback shows."""
    notebook = exercise("shapes")
    cell(notebook, LAST_SOLUTION).source += "\n\n" + code
    return notebook


def try_paths(paths, action):
    """Code that tries ``action`` on each path and prints DENIED or DONE for it.

    (The words are split in the source, so that only the output, not the code, contains them.)
    """
    return (f"for _path in {[p if isinstance(p, int) else str(p) for p in paths]!r}:\n"
            "    try:\n"
            f"        {action}\n"
            "        print('DO' 'NE', _path)\n"
            "    except Exception as _error:\n"
            "        print('DEN' 'IED', _path, type(_error).__name__)\n")


def hostile_class(submissions, out, port, marker_file):
    source_copy = out / "nbgrader" / "source" / "shapes" / "shapes.ipynb"
    solution_file = ROOT / "solutions" / "shapes" / "shapes.ipynb"
    ada = submissions / "ada" / "shapes" / "shapes.ipynb"
    secrets = [solution_file, source_copy, out / "gradebook.db", ada]
    duplicated = solution("shapes")
    duplicated.cells.append(copy.deepcopy(cell(duplicated, "shapes-loss-test")))
    for notebook_cell in duplicated.cells:
        notebook_cell.metadata.setdefault("nbgrader", {})["schema_version"] = 99
    return {
        "ada": solution("shapes"),
        "bob": exercise("shapes"),
        # nbgrader runs tests in the student's kernel: these would turn every test into `pass`
        "input_transformer": at_start(
            "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"),
        "ast_transformer": at_start(
            "import ast\n"
            "class Blank(ast.NodeTransformer):\n"
            "    def visit_Module(self, node):\n"
            "        return ast.Module(body=[ast.Pass()], type_ignores=[])\n"
            "get_ipython().ast_transformers.append(Blank())"),
        "patches_numpy_testing": at_start(
            "import numpy.testing\n"
            "numpy.testing.assert_allclose = numpy.testing.assert_array_equal = lambda *a, **k: None"),
        "always_equal": at_end(
            "class Anything:\n"
            "    shape = property(lambda self: Anything())\n"
            "    dtype = property(lambda self: Anything())\n"
            "    def __eq__(self, other): return True\n"
            "    def __lt__(self, other): return True\n"
            "    def __getitem__(self, key): return self\n"
            "    def __float__(self): return 0.0\n"
            "class Number(float):\n"
            "    def __eq__(self, other): return True\n"
            "make_features = lambda table: Anything()\n"
            "build_model = lambda n_features: Anything()\n"
            "predict_one = lambda model, sample: Number(0.0)\n"
            "mean_squared_error = lambda y_true, y_pred: Anything()"),
        "numpy_shadow": at_start(
            "open('numpy.py', 'w').write('testing = None\\nraise SystemExit(0)\\n')"),
        "steals_solution": in_solution_cell(
            try_paths(secrets, "_text = open(_path, 'rb').read()")
            + f"\nimport json\n"
            f"try:\n"
            f"    for _c in json.load(open({str(solution_file)!r}))['cells']:\n"
            f"        if _c['metadata'].get('nbgrader', {{}}).get('solution'):\n"
            f"            exec(''.join(_c['source']), globals())\n"
            f"except Exception as _error:\n"
            f"    print('DEN' 'IED exec', type(_error).__name__)\n"),
        "writes_gradebook": in_solution_cell(
            "import sqlite3, shutil\n"
            + try_paths([out / "gradebook.db"], "_db = sqlite3.connect(_path); "
                        "_db.execute('update grade set auto_score = 2'); _db.commit()")
            + try_paths([out / "grades.csv", ada], "open(_path, 'w').write('tampered')")
            + try_paths([ada.parent], "shutil.rmtree(_path)")),
        "network": in_solution_cell(
            try_paths([port], "import socket; socket.create_connection(('127.0.0.1', _path), timeout=3)")),
        "kills_everyone": at_end(
            "import os, psutil\n"
            "for _process in psutil.process_iter():\n"
            "    if _process.pid != os.getpid():\n"
            "        try:\n"
            "            _process.kill()\n"
            "        except Exception:\n"
            "            pass"),
        "unsafe_model": at_end(
            "def _payload(t):\n"
            "    try:\n"
            f"        open({str(marker_file)!r}, 'w').write('the grader ran student code')\n"
            "    except Exception:\n"
            "        pass\n"
            "    return t\n"
            "def build_model(n_features):\n"
            "    inputs = keras.Input(shape=(n_features,))\n"
            "    outputs = keras.layers.Dense(1)(keras.layers.Lambda(_payload)(inputs))\n"
            "    return keras.Model(inputs, outputs)"),
        # the student process is forked from the grader's: the hidden tests must not be in
        # its memory, and the fork server must be out of its reach
        "reads_memory": in_solution_cell(
            "import gc\n"
            f"_needle = {HIDDEN_TEST_LINE[::-1]!r}[::-1]\n"
            "_hits = 0\n"
            "for _object in gc.get_objects():\n"
            "    _items = _object.values() if isinstance(_object, dict) else "
            "_object if isinstance(_object, (list, tuple)) else ()\n"
            "    _hits += sum(1 for _item in _items if isinstance(_item, str) and _item is not _needle "
            "and _needle in _item)\n"
            "print('COPIES OF THE' ' HIDDEN LINE', _hits)"),
        "forges_runner": in_solution_cell(forged_runner_request(marker_file.parent / "forged-runner-ran.txt")),
        # every environment block it can open: its own (a fork never execs, so it is the one
        # the fork server started with), its parents' and any other process's
        "reads_environment": in_solution_cell(
            "import os\n"
            "_seen = []\n"
            "for _pid in ['self'] + [p for p in os.listdir('/proc') if p.isdigit()]:\n"
            "    try:\n"
            "        _seen.append(open(f'/proc/{_pid}/environ', 'rb').read().decode(errors='replace'))\n"
            "    except OSError:\n"
            "        pass\n"
            "print('ENVIRONMENTS READ', len(_seen))\n"
            "print('\\n'.join(_seen).replace('\\0', '\\n'))\n"
            "print(os.environ)\n"),
        "duplicates_and_schema": duplicated,
        "dies": at_start("import os\nos._exit(3)"),
        "segfault": at_start("import ctypes\nctypes.string_at(0)"),
        "loops": at_start("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
        "memory": at_start("blocks = []\nwhile True:\n    blocks.append(bytearray(100_000_000))"),
        "floods_output": in_solution_cell(
            "print('x' * 30_000_000)\nimport os\nos.write(1, b'y' * 30_000_000)"),
        # the student process owns its side of the cap: undo it, then flood
        "uncaps_output": in_solution_cell(
            "import sys\n"
            "sys.modules['tfclinic.sandbox.worker'].CappedText.getvalue = lambda self: 'z' * 5_000_000\n"),
        # text the grader's side would parse, keep and render: a megabyte of code in a solution
        # cell (within the notebook size limit), and an error whose class name is a megabyte
        # (the student process cuts messages, but that process is the student's)
        "huge_text": in_solution_cell(
            "# " + "w" * 1_000_000 + "\nraise type('E' * 1_000_000, (ValueError,), {})('v')"),
        # nesting deeper than Python's compiler follows: the grader's side must not crash on it
        "deep_expression": at_end("_deep = " + "+".join(["1"] * 5000)),
        # a daemon: double fork, new session, outlives its parent
        "spawns": at_start(
            "import subprocess, sys\n"
            "code = 'import os, sys, time\\nif os.fork(): os._exit(0)\\nos.setsid()\\ntime.sleep(600)'\n"
            f"subprocess.Popen([sys.executable, '-c', code, '{LINGER_MARKER}'], start_new_session=True)"),
    }


def forged_runner_request(marker):
    """Code that writes a fork server request to every file descriptor of another process.

    The request asks for a runner, which is not confined, on a "source" notebook the student
    wrote: if it ever ran, ``marker`` would exist.
    """
    forged = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"open({str(marker)!r}, 'w').write('a forged runner ran')")])
    return (
        "import json, os\n"
        f"open('forged.ipynb', 'w').write({nbformat.writes(forged)!r})\n"
        "_here = os.getcwd()\n"
        "_request = json.dumps({'id': 1, 'args': [_here + '/forged.ipynb', _here + '/forged.ipynb', _here],\n"
        "                       'cwd': _here, 'env': {}, 'stdout': _here + '/o', 'stderr': _here + '/e'})\n"
        "_opened = 0\n"
        "for _pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]:\n"
        "    try:\n"
        "        _fds = os.listdir(f'/proc/{_pid}/fd')\n"
        "    except OSError:\n"
        "        continue\n"
        "    for _fd in _fds:\n"
        "        try:\n"
        "            with open(f'/proc/{_pid}/fd/{_fd}', 'w') as _handle:\n"
        "                _handle.write(_request + '\\n')\n"
        "            _opened += 1\n"
        "        except OSError:\n"
        "            pass\n"
        "print('OPENED', _opened, 'OF OTHER PROCESSES')\n")


class Listener:
    """A TCP server on localhost that counts the connections it gets."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port, self.connections = self.server.getsockname()[1], 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.server.accept()
            except OSError:
                return
            self.connections += 1


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from tfclinic.grading.grade import grade
    from tfclinic.sandbox.confine import Limits

    submissions, out = tmp_path_factory.mktemp("hostile"), tmp_path_factory.mktemp("out")
    marker_file = tmp_path_factory.mktemp("marker") / "payload-ran.txt"
    listener = Listener()
    for student, notebook in hostile_class(submissions, out, listener.port, marker_file).items():
        folder = submissions / student / "shapes"
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / "shapes.ipynb")
    (submissions / "numpy_shadow" / "shapes" / "numpy.py").write_text("testing = None\n")
    os.environ[SECRET_VARIABLE] = SECRET_VALUE
    try:
        rows = grade(ROOT, submissions, out, jobs=2, timeout=120, cell_timeout=15,
                     limits=Limits(memory_mb=1536), report=lambda line: None, warn=lambda line: None)
    finally:
        del os.environ[SECRET_VARIABLE]
    listener.server.close()
    return {"rows": {row.student: row for row in rows}, "out": out, "submissions": submissions,
            "listener": listener, "marker_file": marker_file}


def feedback(graded, student):
    return (graded["out"] / "feedback" / student / "shapes.html").read_text()


def student_output(graded, student):
    """The text the student's last solution cell printed, as the feedback page shows it."""
    return BeautifulSoup(feedback(graded, student), "html.parser").get_text()


TAMPERING = ["input_transformer", "ast_transformer", "patches_numpy_testing", "always_equal",
             "numpy_shadow", "steals_solution", "writes_gradebook", "network", "kills_everyone",
             "floods_output", "spawns", "reads_memory", "forges_runner",
             "reads_environment", "uncaps_output"]


@pytest.mark.slow
def test_honest_submissions_keep_their_scores(graded):
    rows = graded["rows"]
    assert (rows["ada"].score, rows["ada"].status) == (10, "graded")
    assert (rows["bob"].score, rows["bob"].status) == (0, "graded")


@pytest.mark.slow
@pytest.mark.parametrize("student", TAMPERING)
def test_tampering_earns_no_credit(graded, student):
    row = graded["rows"][student]
    assert row.score == 0, row
    assert row.status == "graded", row  # the attack is contained; the tests still ran


@pytest.mark.slow
def test_tests_run_even_when_the_student_blanks_them(graded):
    page = BeautifulSoup(feedback(graded, "input_transformer"), "html.parser").get_text()
    # the transformer blanked the student's own cells, so their functions were never defined
    assert "NameError: name 'make_features' is not defined in the student's notebook" in page
    assert "Score: 0.0 / 10.0" in page and "Score: 2.0 / 2.0" not in page


@pytest.mark.slow
def test_student_code_cannot_read_the_answer_key_or_other_students(graded):
    text = student_output(graded, "steals_solution")
    assert text.count("DENIED") == 5, text[-2000:]   # four files and the exec of the answer key
    assert "DONE" not in text


@pytest.mark.slow
def test_student_code_cannot_write_the_gradebook_or_other_work(graded):
    text = student_output(graded, "writes_gradebook")
    assert text.count("DENIED") == 4 and "DONE" not in text, text[-2000:]
    ada = graded["submissions"] / "ada" / "shapes" / "shapes.ipynb"
    assert json.loads(ada.read_text())["cells"], "ada's submission was damaged"
    with sqlite3.connect(graded["out"] / "gradebook.db") as db:
        scores = dict(db.execute(
            "select student.id, sum(grade.auto_score) from grade "
            "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
            "join submitted_assignment on submitted_notebook.assignment_id = submitted_assignment.id "
            "join student on submitted_assignment.student_id = student.id group by student.id"))
    expected = {row.student: row.score for row in graded["rows"].values() if row.student in scores}
    assert scores == expected and scores["ada"] == 10 and scores["writes_gradebook"] == 0


@pytest.mark.slow
def test_student_code_sees_none_of_the_instructors_environment(graded):
    printed = student_output(graded, "reads_environment")
    assert "ENVIRONMENTS READ" in printed  # the attack ran and its output is in the feedback
    for path in [graded["out"] / "grades.csv", *graded["out"].rglob("*.html"), *graded["out"].rglob("*.txt")]:
        assert SECRET_VALUE not in path.read_text(errors="replace"), path


@pytest.mark.slow
def test_student_code_has_no_network(graded):
    assert "DENIED" in student_output(graded, "network")
    assert graded["listener"].connections == 0


@pytest.mark.slow
def test_models_from_student_code_are_loaded_without_running_code(graded):
    """A Lambda layer holds code: the model stays in the confined student process, where the
    tests' calls on it run, and its correct build_model earns that cell's 2 points there."""
    assert not graded["marker_file"].exists()
    assert "could not be loaded safely" not in feedback(graded, "unsafe_model")
    assert graded["rows"]["unsafe_model"].score == 2


@pytest.mark.slow
def test_the_student_process_holds_no_hidden_tests_in_memory(graded):
    assert "COPIES OF THE HIDDEN LINE 0" in student_output(graded, "reads_memory")


@pytest.mark.slow
def test_student_code_cannot_reach_the_fork_server(graded):
    assert "OPENED 0 OF OTHER PROCESSES" in student_output(graded, "forges_runner")
    assert not (graded["marker_file"].parent / "forged-runner-ran.txt").exists()


@pytest.mark.slow
def test_duplicated_cells_and_unknown_schema_do_not_stop_grading(graded):
    row = graded["rows"]["duplicates_and_schema"]
    assert (row.score, row.status) == (10, "graded")


@pytest.mark.slow
@pytest.mark.parametrize("student, status, reason", [
    ("dies", "crashed", "exit status 3"),
    ("segfault", "crashed", "SIGSEGV"),
    ("loops", "timeout", "ignored the interrupt"),
    ("memory", "out of memory", "memory"),
])
def test_a_submission_that_cannot_be_graded_gets_zero_and_a_reason(graded, student, status, reason):
    row = graded["rows"][student]
    assert (row.score, row.status) == (0, status), row
    assert reason in row.message, row.message


@pytest.mark.slow
@pytest.mark.parametrize("student", ["floods_output", "uncaps_output"])
def test_huge_output_is_cut_to_size(graded, student):
    out = graded["out"]
    assert len(feedback(graded, student)) < 1_000_000
    assert (out / "nbgrader" / "autograded" / student / "shapes" / "shapes.ipynb").stat().st_size < 1_000_000
    assert "characters of output dropped" in feedback(graded, student)
    logs = (out / "nbgrader" / "graded" / student / "shapes").glob("student-*.txt")
    assert all(log.stat().st_size <= 20_000 for log in logs)


@pytest.mark.slow
def test_huge_cells_and_error_messages_are_cut_in_what_the_grader_keeps(graded):
    out = graded["out"]
    page = feedback(graded, "huge_text")
    autograded = out / "nbgrader" / "autograded" / "huge_text" / "shapes" / "shapes.ipynb"
    assert len(page) < 1_000_000 and autograded.stat().st_size < 1_000_000
    assert page.count("more characters not shown") == 2  # the cell's text, the error's name
    assert graded["rows"]["huge_text"].score == 0


@pytest.mark.slow
def test_a_cell_nested_too_deeply_to_read_is_graded_like_any_other(graded):
    row = graded["rows"]["deep_expression"]
    assert (row.status, row.score) == ("graded", 0), row


@pytest.mark.slow
def test_no_process_outlives_grading(graded):
    lingering = [p for p in psutil.process_iter(["cmdline"])
                 if LINGER_MARKER in " ".join(p.info["cmdline"] or [])]
    assert lingering == []


@pytest.mark.slow
def test_feedback_has_no_hidden_tests_and_no_live_script(graded):
    hidden = HIDDEN_TEST_LINE
    pages = sorted((graded["out"] / "feedback").glob("*/shapes.html"))
    # two jobs render feedback in two nbgrader processes, each for half of the students
    graded_students = {student for student, row in graded["rows"].items() if row.status == "graded"}
    assert len(graded_students) > 10 and graded_students <= {page.parent.name for page in pages}
    for page_file in pages:
        page = page_file.read_text()
        assert hidden not in page and "HIDDEN TESTS" not in page, page_file
        for script in BeautifulSoup(page, "html.parser").find_all("script"):
            assert "alert(" not in script.get_text()


@pytest.mark.slow
def test_every_submission_has_a_row_and_the_csv_is_complete(graded):
    import csv

    with open(graded["out"] / "grades.csv", newline="") as handle:
        students = [row["student"] for row in csv.DictReader(handle)]
    assert sorted(students) == sorted(p.name for p in graded["submissions"].iterdir())
