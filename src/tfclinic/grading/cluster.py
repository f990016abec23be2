"""Grade on Dask distributed workers: ``tfclinic grade --cluster ADDRESS`` (extra ``cluster``).

``DaskExecutor`` is the grading loop's executor for a cluster, next to
``tfclinic.grading.grade.ThreadExecutor`` for this machine; the loop, the gradebook, the CSV and the
journal stay in ``tfclinic.grading.grade`` and in this process, the only writer of them all.

- Each task carries data only: the submission's bytes, the lesson's source notebook and the
  grading options. It returns data only: the outcome (status, message, score per test cell,
  seconds, confinement layers), the graded notebook and the tails of its logs.
- Each worker gets ``GradingPlugin``: it checks, in a confined probe process
  (``tfclinic.doctor.confinement_report``, which uses ``tfclinic.sandbox.confine``), that the
  host holds every confinement layer, and only then starts one fork server for the worker's
  threads and advertises the resource ``tfclinic-grading`` that every grading task needs. A
  host that cannot confine student code never advertises it, so the scheduler never gives it
  a task (fail closed); its refusal names the host and the missing layer, on the worker's
  log and in the grader's warnings.
- A worker that dies mid-task has its tasks run again elsewhere (Dask reschedules them, up to
  ``distributed.scheduler.allowed-failures`` times); the grader records each submission once.
  A task that still fails, or a cluster that goes away, ends as a ``not graded`` row with the
  reason, which ``--resume`` grades again.
- Feedback is rendered on the workers too (``DaskExecutor.render_feedback``): batches of
  graded notebooks and their scores go out, nbgrader renders them there exactly as it would
  here, and HTML pages come back; the grader only writes them.
- Time limits stay tfclinic's: the runner's per-cell limit and the fork server's
  per-submission limit, as on one machine.
- ``local:N`` starts a ``LocalCluster`` on 127.0.0.1 (nothing listens elsewhere, no dashboard)
  with one worker that grades N submissions at once: one fork server for the host, as on a
  cluster's host, whose runners keep to cores of their own like ``--jobs N``. The scheduler
  and the worker run in this process and talk over TCP on loopback, as a cluster's would:
  a worker process of its own would cost its start (Python, Dask, tfclinic: 1.2 s before the
  fork server could start) and its shutdown, and would hold nothing the runners don't.
"""

import asyncio
import logging
import os
import socket
import tempfile
import threading
import time
import warnings
from pathlib import Path

from ..errors import TfclinicError
from ..sandbox.confine import LAYERS

RESOURCE = "tfclinic-grading"
PLUGIN_NAME = "tfclinic-grading"
TASK_PREFIX = "tfclinic-grade-"
FEEDBACK_PREFIX = "tfclinic-feedback-"
FEEDBACK_BATCH = 100      # submissions per nbgrader process that renders feedback on a worker
RETRIES = 1               # a task that raised (not one whose worker died) runs once more
LOG_TAIL_BYTES = 20_000   # of each log a task sends back
WORKER_WAIT_SECONDS = 120

# Only tests set this: comma-separated layers that the confinement check then reports as
# missing on this worker. It can only take layers away, never make one hold.
TEST_MISSING_LAYERS = "TFCLINIC_TEST_MISSING_LAYERS"

# The layers a worker host must hold, and what each needs; the others of
# ``tfclinic.sandbox.confine.LAYERS`` are reported, not required.
LAYER_NEEDS = {layer: LAYERS[layer] for layer in ("limits", "network", "files", "processes")}

log = logging.getLogger("tfclinic.grading.cluster")


def confinement_problem():
    """None when this host confines student code with every layer, else what is missing."""
    from ..doctor import confinement_report, missing_layers

    report = confinement_report()
    if "error" in report:
        return f"the confinement probe failed: {report['error']}"
    taken = {layer.strip() for layer in os.environ.get(TEST_MISSING_LAYERS, "").split(",")}
    missing = [layer for layer in LAYER_NEEDS if layer in missing_layers(report) or layer in taken]
    if not missing:
        return None
    return "cannot confine student code: no " + "; no ".join(
        f"{layer} layer ({LAYER_NEEDS[layer]})" for layer in missing)


def _worker_plugin_base():
    try:
        from distributed.diagnostics.plugin import WorkerPlugin
    except ImportError:  # the module stays importable without the extra; DaskExecutor says why
        return object
    return WorkerPlugin


class GradingPlugin(_worker_plugin_base()):
    """On each worker: check confinement, then run one fork server for the worker's threads.

    Run one worker process per host with a thread per core (``dask worker --nworkers 1
    --nthreads CORES``): its fork server imports TensorFlow once for the host, and each of
    its runners keeps to cores of its own, as with ``--jobs``.
    """

    idempotent = True  # a second grading run on the same cluster keeps the running servers
    name = PLUGIN_NAME

    async def setup(self, worker):
        from ..processes import skip_slow_unused_imports

        skip_slow_unused_imports()  # 1.3 s of CPU in every worker that reads a notebook
        self.worker, self.host = worker, socket.gethostname()
        self.server, self.seen, self._lock = None, set(), threading.Lock()
        self.refusal = await asyncio.to_thread(self._start)  # set once known: see _plugin_state
        if self.refusal:
            log.error("tfclinic: %s", self.refusal)
            return
        await worker.set_resources(**{RESOURCE: worker.state.nthreads})
        log.info("tfclinic: worker %s on %s grades %d submissions at once", worker.address, self.host,
                 worker.state.nthreads)

    def _start(self):
        """In a thread of its own: the confinement check, then the fork server."""
        problem = confinement_problem()
        if problem:
            return f"worker {self.worker.address} on host {self.host} refuses to grade: {problem}"
        with self._lock:
            self.server = self._new_server()
        return None

    def _new_server(self):
        from ..sandbox.forkserver import ForkServer

        return ForkServer(self.worker.state.nthreads)

    def fork_server(self):
        """The running fork server, started again if it ended."""
        if self.refusal:
            raise RuntimeError(self.refusal)
        with self._lock:
            if self.server is None or self.server.process.poll() is not None:
                if self.server is not None:
                    self.server.close()
                self.server = self._new_server()
            return self.server

    def transition(self, key, start, finish, **kwargs):
        if str(key).startswith((TASK_PREFIX, FEEDBACK_PREFIX)):
            self.seen.add(key)  # tests read it: a worker that refused must never get a task

    def teardown(self, worker):
        if getattr(self, "server", None) is not None:
            self.server.close()


def _plugin_state(dask_worker):
    """Run on each worker by ``Client.run``: what its plugin knows."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    started = plugin is not None and hasattr(plugin, "refusal")  # its setup has run
    return {"ready": started and plugin.refusal is None, "refusal": plugin.refusal if started else None,
            "received": len(plugin.seen) if started else 0, "host": plugin.host if started else "",
            "threads": dask_worker.state.nthreads}


def grade_remote(job, source):
    """The task: grade one submission on this worker; data in, data out.

    Args:
        job: ``{"lesson", "notebook" (bytes), "seed", "timeout", "limits" (dict), "cell_timeout"}``.
        source: the bytes of the lesson's source notebook, hidden tests included.

    Returns:
        ``{"outcome", "notebook" (graded, bytes or None), "logs" {name: bytes}, "worker", "host"}``.
    """
    import json

    from distributed import get_worker

    from .grade import CORRUPT, _ungraded, runner_outcome
    from ..validate import read_notebook

    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN_NAME)
    if plugin is None:
        raise RuntimeError(f"worker {worker.address} has no {PLUGIN_NAME} plugin")
    server = plugin.fork_server()
    start = time.perf_counter()
    reply = {"notebook": None, "logs": {}, "worker": worker.address, "host": plugin.host}
    with tempfile.TemporaryDirectory(prefix="tfclinic-task-") as folder:
        folder = Path(folder)
        lesson = job["lesson"]
        submission, source_file = folder / f"{lesson}.ipynb", folder / "source" / f"{lesson}.ipynb"
        source_file.parent.mkdir()
        submission.write_bytes(job["notebook"])
        source_file.write_bytes(source)
        try:
            read_notebook(submission)
        except TfclinicError as error:
            reply["outcome"] = _ungraded(CORRUPT, str(error).split(": ", 1)[-1])
            return reply
        work = folder / "work"
        work.mkdir()
        args = [str(source_file), str(submission), str(work), "--seed", str(job["seed"]),
                "--cell-timeout", str(job["cell_timeout"]), "--limits", json.dumps(job["limits"])]
        done = server.run(args, cwd=work, env={"TFCLINIC_SEED": str(job["seed"])}, timeout=job["timeout"],
                          stdout=work / "runner-stdout.txt", stderr=work / "runner-stderr.txt")
        reply["outcome"] = runner_outcome(done, work, job["timeout"], time.perf_counter() - start)
        if not done.timed_out and done.returncode == 0 and (work / "result.json").is_file():
            reply["notebook"] = (work / "autograded.ipynb").read_bytes()
        for path in work.iterdir():
            if path.is_file() and path.suffix in (".txt", ".json"):
                with open(path, "rb") as handle:
                    handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
                    reply["logs"][path.name] = handle.read()
    return reply


class DaskExecutor:
    """Grade on a Dask distributed cluster; the interface of ``tfclinic.grading.grade.ThreadExecutor``.

    Args:
        address: a scheduler's address (TLS and other settings come from Dask's own
            configuration), or ``local:N`` for a ``LocalCluster`` on 127.0.0.1 that grades
            N at once.
        warn: called with a line per worker that refuses to grade.
        window: tasks in flight per worker thread (the rest wait here, not in memory there).
    """

    def __init__(self, address, warn=print, window=4):
        self.address, self.warn, self.window = address, warn, window
        self.cluster = self.client = None
        self.graded_by = {}  # (student, lesson) -> worker address, for reports and tests
        self._futures, self._template, self._token = {}, None, f"{os.getpid()}-{time.time_ns()}"

    def __enter__(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise TfclinicError("--cluster needs Dask distributed: pip install 'tfclinic[cluster]'") from None
        try:
            if self.address.startswith("local:"):
                with warnings.catch_warnings():  # "port 8787 is in use": its health page moves
                    warnings.simplefilter("ignore", UserWarning)
                    self.cluster = LocalCluster(n_workers=1, threads_per_worker=_count(self.address), processes=False,
                                                protocol="tcp://", host="127.0.0.1", dashboard_address=None,
                                                worker_dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
            else:
                self.client = Client(self.address, timeout=30)
                self.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except (OSError, TimeoutError) as error:
            self.__exit__()
            raise TfclinicError(f"--cluster {self.address}: cannot reach the cluster: {error}") from None
        try:
            self.client.register_plugin(GradingPlugin(), name=PLUGIN_NAME)
            states = self.client.run(_plugin_state)
        except Exception as error:  # e.g. workers with another tfclinic, which cannot load the plugin
            self.__exit__()
            raise TfclinicError(f"--cluster {self.address}: the workers could not start grading: "
                                f"{type(error).__name__}: {str(error)[:500]}") from None
        for state in states.values():
            if state["refusal"]:
                self.warn(state["refusal"])
        self.threads = sum(state["threads"] for state in states.values() if state["ready"])
        if not self.threads:
            self.__exit__()
            raise TfclinicError(f"--cluster {self.address}: no worker can grade; nothing was graded"
                                + "".join(f"\n{s['refusal']}" for s in states.values() if s["refusal"]))
        return self

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def workers(self):
        """``{address: what its plugin knows}`` (``ready``, ``refusal``, ``received``, ``host``)."""
        return self.client.run(_plugin_state)

    def grade(self, course, found, options):
        """Start grading ``found`` now; returns an iterator of ``((student, lesson), outcome)``."""
        from distributed import as_completed

        job = {"seed": options["seed"], "timeout": options["timeout"], "cell_timeout": options["cell_timeout"],
               "limits": dict(options["limits"].__dict__)}
        sources = {lesson: (course.root / "source" / lesson / f"{lesson}.ipynb").read_bytes()
                   for lesson in {lesson for _, lesson, _ in found}}
        waiting, ready, token = list(reversed(found)), [], self._token
        running = as_completed()

        def submit_more():
            while waiting and running.count() < self.window * self.threads:
                student, lesson, notebook = waiting.pop()
                if not notebook.is_file():
                    from .grade import MISSING, _ungraded

                    ready.append(((student, lesson), _ungraded(MISSING, f"no {lesson}.ipynb in {notebook.parent}")))
                    continue
                course.add_submission(student, lesson, notebook)
                future = self.client.submit(
                    grade_remote, {**job, "lesson": lesson, "notebook": notebook.read_bytes()}, sources[lesson],
                    key=f"{TASK_PREFIX}{student}/{lesson}-{token}", resources={RESOURCE: 1}, retries=RETRIES,
                    pure=False)
                self._futures[future.key] = (future, (student, lesson))
                running.add(future)

        submit_more()

        def outcomes():  # first asked for once the gradebook has the lessons, and nothing else new
            self._template = _snapshot(course.gradebook)
            while ready or waiting or running.count():
                while ready:
                    yield ready.pop(0)
                if not running.count():
                    submit_more()
                    continue
                future = next(running)
                key = self._futures.pop(future.key)[1]
                yield key, self._received(course, key, future)
                future.release()
                submit_more()

        return outcomes()

    def _received(self, course, key, future):
        """The outcome of a finished task; its graded notebook and logs go into ``course``."""
        from .grade import FAILED, _ungraded

        student, lesson = key
        try:
            reply = future.result()
        except Exception as error:  # noqa: BLE001 - the cluster's failure, never the student's
            name = type(error).__name__
            why = ("the workers grading it died, each time" if name == "KilledWorker" else
                   f"the cluster could not grade it ({name}: {str(error)[:300]})")
            return _ungraded(FAILED, f"{why}; `tfclinic grade --resume` grades it again")
        self.graded_by[key] = reply["worker"]
        work = course.path("graded", student, lesson).parent
        work.mkdir(parents=True, exist_ok=True)
        for name, data in reply["logs"].items():
            (work / Path(name).name).write_bytes(data)
        if reply["notebook"] is not None:
            target = course.path("autograded", student, lesson)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(reply["notebook"])
        return tuple(reply["outcome"])

    def cancel(self):
        if self.client is not None:
            self.client.cancel([future for future, _ in self._futures.values()])

    def render_feedback(self, course, out, rows, tests, deadlines, warn):
        """Render feedback on the workers, in batches, with nbgrader as on one machine.

        Each batch carries the gradebook as it was before this run recorded anything (the
        lessons only, taken when the first outcome was asked for), the course's nbgrader
        settings, and per submission its row, test scores and graded notebook; it comes back
        as HTML pages, written here. One nbgrader process per batch of up to
        ``FEEDBACK_BATCH`` submissions, so this process does no rendering at all.
        """
        from distributed import wait

        from .grade import _collect_feedback

        with_notebook = [row for row in rows if course.path("autograded", row.student, row.lesson).is_file()]
        if not with_notebook:
            return True
        if self._template is None:  # no outcome was asked for (nothing to grade): render here
            _collect_feedback(course, out, rows, os.cpu_count() or 1, warn)
            return True
        config = (course.project / "autograder" / "nbgrader_config.py").read_text()
        size = max(1, min(FEEDBACK_BATCH, -(-len(with_notebook) // self.threads)))
        futures = []
        for index in range(0, len(with_notebook), size):
            batch = [(row, tests[row.student, row.lesson], deadlines.get(row.lesson),
                      course.path("autograded", row.student, row.lesson).read_bytes())
                     for row in with_notebook[index:index + size]]
            futures.append(self.client.submit(
                render_remote, self._template, config, batch, resources={RESOURCE: 1}, retries=RETRIES,
                pure=False, key=f"{FEEDBACK_PREFIX}{index}-{self._token}"))
        wait(futures)
        for future in futures:
            try:
                reply = future.result()
            except Exception as error:  # noqa: BLE001 - the cluster's failure: say so, go on
                warn(f"feedback failed on the cluster: {type(error).__name__}: {str(error)[:300]}")
                continue
            if reply["error"]:
                warn(f"feedback failed: {reply['error']}")
            for (student, lesson), page in reply["pages"].items():
                for target in (course.path("feedback", student, lesson, suffix=".html"),
                               out / "feedback" / student / f"{lesson}.html"):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(page)
            future.release()
        return True


def render_remote(template, config, batch):
    """The task: render the feedback pages of ``batch`` with nbgrader on this worker.

    Args:
        template: the bytes of a gradebook that has the lessons.
        config: the text of the course's ``autograder/nbgrader_config.py``.
        batch: ``[(Grade row, test results, deadline or None, graded notebook bytes)]``.

    Returns:
        ``{"pages": {(student, lesson): HTML bytes}, "error": nbgrader's last error line or None}``.
    """
    from nbgrader.api import Gradebook, MissingEntry

    from .grade import _record
    from ..course.nbgrader_course import NbgraderCourse, last_error_line

    with tempfile.TemporaryDirectory(prefix="tfclinic-feedback-") as folder:
        folder = Path(folder)
        (folder / "project" / "autograder").mkdir(parents=True)
        (folder / "project" / "autograder" / "nbgrader_config.py").write_text(config)
        (folder / "gradebook.db").write_bytes(template)
        course = NbgraderCourse(folder / "project", folder / "course", gradebook=folder / "gradebook.db")
        with Gradebook(f"sqlite:///{course.gradebook}") as gradebook, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for row, tests, deadline, notebook in batch:
                target = course.path("autograded", row.student, row.lesson)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(notebook)
                try:
                    gradebook.remove_submission(row.lesson, row.student)  # recorded before a resume
                except MissingEntry:
                    pass
                _record(gradebook, row, tests, deadline)
        done = course.run("generate_feedback", "*", "--force")
        pages = {}
        for row, *_ in batch:
            page = course.path("feedback", row.student, row.lesson, suffix=".html")
            if page.is_file():
                pages[row.student, row.lesson] = page.read_bytes()
        return {"pages": pages, "error": last_error_line(done) if done.returncode != 0 else None}


def _snapshot(database):
    """The bytes of a consistent copy of the SQLite file ``database``."""
    import sqlite3

    with tempfile.TemporaryDirectory(prefix="tfclinic-gradebook-") as folder:
        copy = Path(folder) / "gradebook.db"
        with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        return copy.read_bytes()


def _count(address):
    try:
        workers = int(address.split(":", 1)[1])
    except ValueError:
        workers = 0
    if workers < 1:
        raise TfclinicError(f"--cluster {address}: expected local:N with N at least 1")
    return workers
