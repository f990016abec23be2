"""`tfclinic grade --cluster`: a real scheduler and `dask worker` processes on 127.0.0.1.

One scheduler and three workers serve the whole module: "a" and "b" can confine student
code; "closed" is told by a test-only variable that Landlock is missing, so it must refuse
to grade. The module grades one small class through them, and the same class with
``--jobs 2`` here, and compares the CSVs. The class holds the honest solution and exercise,
a corrupt notebook, and six of the hostile notebooks of ``test_untrusted_code`` chosen for
what a cluster adds: other processes on the host to read, write, signal or reach over the
network (the scheduler and the workers listen on loopback, next to the student), and a
student process that dies, which must stay the student's "crashed", not become the
cluster's failure and be retried. The others attack the runner and the student process
exactly as they do on one machine, and that module grades them all on every run.
"""

import csv
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest

import test_untrusted_code as untrusted
from lesson_variants import ROOT, exercise, solution
from tfclinic.grading.grade import JOURNAL, grade

distributed = pytest.importorskip("distributed")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster")]

DASK = str(Path(sys.executable).with_name("dask"))
HOSTILE = ["steals_solution", "writes_gradebook", "network", "kills_everyone", "forges_runner", "dies"]


class Cluster:
    """A scheduler and named `dask worker` processes, each in a process group of its own."""

    def __init__(self, folder):
        self.folder, self.workers = folder, {}
        scheduler_file = folder / "scheduler.json"
        self.scheduler = self._start("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                                   "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                                   "--scheduler-file", str(scheduler_file)])
        deadline = time.monotonic() + 120
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.address = json.loads(scheduler_file.read_text())["address"]
        self.client = distributed.Client(self.address, timeout=60)

    def _start(self, name, command, env=None):
        log = open(self.folder / f"{name}.log", "wb")
        return subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True,
                                env={**os.environ, **(env or {})})

    def add_worker(self, name, env=None):
        self.workers[name] = self._start(name, [DASK, "worker", self.address, "--name", name, "--nthreads", "1",
                                                "--no-nanny", "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                                "--host", "127.0.0.1"], env)

    def address_of(self, name, wait=60):
        """The address of the worker started as ``name``; waits for one that is reconnecting,
        and otherwise fails naming the workers the scheduler knows and the tail of its log."""
        deadline = time.monotonic() + wait
        while True:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
            found = [address for address, worker in workers.items() if worker["name"] == name]
            if found or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert found, (f"the scheduler does not know worker {name!r} (it knows "
                       f"{sorted(w['name'] for w in workers.values())}; exit status "
                       f"{self.workers[name].poll()}); its log ends:\n"
                       + (self.folder / f"{name}.log").read_text(errors="replace")[-3000:])
        return found[0]

    def kill(self, name):
        os.killpg(self.workers[name].pid, signal.SIGKILL)
        self.workers[name].wait()

    def close(self):
        self.client.close()
        for process in [*self.workers.values(), self.scheduler]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers.values(), self.scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    cluster.add_worker("a")
    cluster.add_worker("b")
    cluster.add_worker("closed", env={"TFCLINIC_TEST_MISSING_LAYERS": "files"})
    try:
        cluster.client.wait_for_workers(3, timeout=120)
        yield cluster
    finally:
        cluster.close()


def write_class(submissions, notebooks):
    for student, notebook in notebooks.items():
        folder = submissions / student / "shapes"
        folder.mkdir(parents=True)
        if isinstance(notebook, str):
            (folder / "shapes.ipynb").write_text(notebook)
        else:
            nbformat.write(notebook, folder / "shapes.ipynb")
    return submissions


def csv_rows(out):
    with open(out / "grades.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def gradebook_counts(out):
    with sqlite3.connect(out / "gradebook.db") as db:
        return dict(db.execute("select student.id, count(*) from submitted_assignment "
                               "join student on submitted_assignment.student_id = student.id group by student.id"))


def scheduler_ports(cluster):
    info = cluster.client.scheduler_info(n_workers=-1)
    return [int(address.rsplit(":", 1)[1]) for address in [cluster.address, *info["workers"]]]


@pytest.fixture(scope="module")
def graded(cluster, tmp_path_factory):
    """The class graded through the cluster and with ``--jobs 2`` here, feedback included."""
    submissions, out = tmp_path_factory.mktemp("hostile"), tmp_path_factory.mktemp("out")
    marker_file = tmp_path_factory.mktemp("marker") / "payload-ran.txt"
    listener = untrusted.Listener()
    hostile = untrusted.hostile_class(submissions, out, listener.port, marker_file)
    # the network attack also tries the scheduler's and every worker's port
    hostile["network"] = untrusted.in_solution_cell(untrusted.try_paths(
        [listener.port, *scheduler_ports(cluster)],
        "import socket; socket.create_connection(('127.0.0.1', _path), timeout=3)"))
    notebooks = {"ada": hostile["ada"], "bob": hostile["bob"], "cy": '{"cells": [',
                 **{student: hostile[student] for student in HOSTILE}}
    write_class(submissions, notebooks)
    warnings = []
    options = dict(timeout=120, cell_timeout=15, report=lambda line: None)
    start = time.perf_counter()
    rows = grade(ROOT, submissions, out, cluster=cluster.address, warn=warnings.append, **options)
    seconds = time.perf_counter() - start
    listener.server.close()
    local = tmp_path_factory.mktemp("local")
    grade(ROOT, submissions, local, jobs=2, warn=lambda line: None, **options)
    return {"rows": {row.student: row for row in rows}, "out": out, "submissions": submissions,
            "listener": listener, "marker_file": marker_file, "warnings": warnings, "local": local,
            "seconds": seconds}


def test_the_cluster_gives_the_same_grades_csv_as_two_local_jobs(graded):
    cluster_csv = (graded["out"] / "grades.csv").read_text()
    assert cluster_csv == (graded["local"] / "grades.csv").read_text()
    rows = {row["student"]: row for row in csv_rows(graded["out"])}
    assert (rows["ada"]["score"], rows["bob"]["score"], rows["cy"]["status"]) == ("10", "0", "corrupt notebook")
    assert all(count == 1 for count in gradebook_counts(graded["out"]).values())
    assert (graded["out"] / "report.html").is_file()


def test_feedback_rendered_on_the_workers_is_the_same_page(graded):
    pages = sorted(path.relative_to(graded["out"]) for path in (graded["out"] / "feedback").rglob("*.html"))
    assert len(pages) == len(HOSTILE) + 2  # all but the corrupt notebook
    assert pages == sorted(path.relative_to(graded["local"]) for path in (graded["local"] / "feedback").rglob("*.html"))
    for page in pages:
        assert same_page(graded["out"] / page) == same_page(graded["local"] / page), page


def same_page(path):
    """A feedback page without the random names of files a traceback may show: the student
    process's private folder and TensorFlow's autograph files in it differ on every run."""
    return re.sub(rb"tfclinic-student-\w+/__autograph_generated_file\w+", b"PRIVATE", path.read_bytes())


def test_a_worker_that_cannot_confine_gets_no_task_and_says_why(cluster, graded):
    closed = cluster.address_of("closed")
    refusals = [line for line in graded["warnings"] if "refuses to grade" in line]
    assert len(refusals) == 1, graded["warnings"]
    assert closed in refusals[0] and socket.gethostname() in refusals[0]
    assert "no files layer (Landlock" in refusals[0]
    states = cluster.client.run(lambda dask_worker: len(dask_worker.plugins["tfclinic-grading"].seen))
    assert states[closed] == 0
    assert states[cluster.address_of("a")] + states[cluster.address_of("b")] >= len(HOSTILE) + 2


@pytest.mark.parametrize("check", [
    "test_honest_submissions_keep_their_scores",
    "test_student_code_cannot_read_the_answer_key_or_other_students",
    "test_student_code_cannot_write_the_gradebook_or_other_work",
    "test_student_code_has_no_network",
    "test_student_code_cannot_reach_the_fork_server",
])
def test_hostile_submissions_are_held_the_same_way(graded, check):
    getattr(untrusted, check)(graded)


@pytest.mark.parametrize("student", ["steals_solution", "writes_gradebook", "network", "kills_everyone",
                                     "forges_runner"])
def test_tampering_through_the_cluster_earns_no_credit(graded, student):
    untrusted.test_tampering_earns_no_credit(graded, student)


def test_no_port_of_the_cluster_is_reachable_from_student_code(cluster, graded):
    text = untrusted.student_output(graded, "network")
    assert text.count("DENIED") == 1 + len(scheduler_ports(cluster)) and "DONE" not in text, text[-2000:]
    assert cluster.client.run(lambda: "alive")  # kills_everyone stopped no worker either
    assert all(worker.poll() is None for worker in cluster.workers.values())


def test_a_student_process_that_dies_is_the_students_crash(graded):
    untrusted.test_a_submission_that_cannot_be_graded_gets_zero_and_a_reason(
        graded, "dies", "crashed", "exit status 3")


def test_an_interrupted_run_resumes_without_regrading(cluster, tmp_path):
    submissions = write_class(tmp_path / "submissions", {"ada": solution("shapes"), "bob": exercise("shapes"),
                                                         "cy": solution("shapes")})
    out = tmp_path / "out"

    def stop_after_two(line):
        if line.startswith("[2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade(ROOT, submissions, out, cluster=cluster.address, report=stop_after_two, warn=lambda line: None,
              feedback=False)
    recorded = [json.loads(line)["student"] for line in (out / JOURNAL).read_text().splitlines()]
    assert len(recorded) == 2
    # one of the two recorded students hands in something else before the run is resumed
    changed = recorded[0]
    nbformat.write(exercise("shapes") if changed != "bob" else solution("shapes"),
                   submissions / changed / "shapes" / "shapes.ipynb")
    lines = []
    rows = grade(ROOT, submissions, out, cluster=cluster.address, resume=True, report=lines.append,
                 warn=lambda line: None)
    earlier = [line for line in lines if "recorded by an earlier run" in line]
    assert len(earlier) == 1 and f" {recorded[1]}/shapes" in earlier[0], lines
    expected = {"ada": 10, "bob": 0, "cy": 10}
    expected[changed] = 10 - expected[changed]
    assert {row.student: row.score for row in rows} == expected
    assert [row["student"] for row in csv_rows(out)] == ["ada", "bob", "cy"]
    assert gradebook_counts(out) == {"ada": 1, "bob": 1, "cy": 1}
    with sqlite3.connect(out / "gradebook.db") as db:
        scores = dict(db.execute(
            "select student.id, sum(grade.auto_score) from grade "
            "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
            "join submitted_assignment on submitted_notebook.assignment_id = submitted_assignment.id "
            "join student on submitted_assignment.student_id = student.id group by student.id"))
    assert scores == expected
    assert (out / "feedback" / changed / "shapes.html").is_file()


def listening_sockets(pids):
    found = []
    for pid in pids:
        try:
            found += [c.laddr for c in psutil.Process(pid).net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN]
        except psutil.Error:
            continue
    return found


def test_a_local_cluster_listens_on_loopback_only(tmp_path):
    submissions = write_class(tmp_path / "submissions", {"ada": solution("shapes"), "bob": exercise("shapes")})
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}  # the module's cluster, if it runs
    mine = listening_sockets([me.pid])
    seen = []

    def snapshot(line):
        if not seen:  # every process of the cluster is up while grading
            started = [p.pid for p in me.children(recursive=True) if p.pid not in before]
            seen.append([a for a in listening_sockets([me.pid, *started]) if a not in mine])

    rows = grade(ROOT, submissions, tmp_path / "out", cluster="local:2", report=snapshot, warn=lambda line: None,
                 feedback=False)
    assert [(row.student, row.score) for row in rows] == [("ada", 10), ("bob", 0)]
    addresses = seen[0]
    assert len(addresses) >= 2, addresses  # the scheduler's, and the worker's own
    assert all(address.ip in ("127.0.0.1", "::1") for address in addresses), addresses


def test_killing_a_worker_mid_run_grades_every_submission_exactly_once(cluster, tmp_path):
    """Runs last: worker "b" does not come back."""
    students = ["ada", "bob", "cy", "dee"]
    submissions = write_class(tmp_path / "submissions", {
        student: solution("shapes") if index % 2 == 0 else exercise("shapes")
        for index, student in enumerate(students)})
    out, done = tmp_path / "out", {}
    victim = cluster.address_of("b")

    def run():
        done["rows"] = grade(ROOT, submissions, out, cluster=cluster.address, report=lambda line: None,
                             warn=lambda line: None, feedback=False)

    grading = threading.Thread(target=run)
    grading.start()
    deadline = time.monotonic() + 300
    while not cluster.client.processing(workers=[victim]).get(victim) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.client.processing(workers=[victim]).get(victim), "worker b never got a task"
    time.sleep(1.5)  # its runner is grading now
    cluster.kill("b")
    grading.join(timeout=600)
    assert not grading.is_alive()
    rows = done["rows"]
    assert [(row.student, row.score, row.status) for row in rows] == [
        (student, 10 if index % 2 == 0 else 0, "graded") for index, student in enumerate(students)]
    assert [row["student"] for row in csv_rows(out)] == students
    assert gradebook_counts(out) == {student: 1 for student in students}
    recorded = [json.loads(line)["student"] for line in (out / JOURNAL).read_text().splitlines()]
    assert sorted(recorded) == students
