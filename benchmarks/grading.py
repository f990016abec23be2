"""Time `tfclinic grade` with 1 and 2 jobs against the floor: the same notebooks run by nbclient.

The class: 24 submissions, 4 per lesson (2 solutions, 2 untouched exercises). The floor runs,
for each submission, what nbgrader's own autograde would run (the source notebook with the
student's solution cells, hidden tests included) in one Jupyter kernel with nbclient, one
after the other, with no isolation and no gradebook. Targets on a 2-core machine: isolation
takes at most 0.5x the floor's time per submission (the fork server imports TensorFlow once
a run, nbclient's kernels once a notebook), and 2 jobs are at least 1.7x faster than 1.

It also reports the CPU seconds of each grading run (the grader and every process below it)
and how many cores that kept busy on average, and splits the speedup into those two parts:
cores kept busy, and CPU seconds spent. One job already keeps more than one core busy, so
the first part alone stays below 2 on a 2-core machine.
The machine itself is noisy, so ``--repeat N`` alternates N runs of each and keeps the
fastest of each.

``--cluster local:2`` also grades the class through a Dask ``LocalCluster`` whose one worker
grades 2 at once (``tfclinic grade --cluster``), alternating with the other runs. Target: at
most 10% slower per submission than ``--jobs 2``. It reports the coordinator's CPU per
submission: the grading process itself and the nbgrader processes it starts (preparing the
lessons); that is what bounds how many workers one coordinator can feed. A local cluster's
scheduler and worker run in the grading process too, so for ``local:N`` that figure also
holds the worker's side (its task threads, the feedback it renders) and is an upper bound;
the grading loop's own thread is reported apart.

It also reports the physical limit: the CPU seconds of the notebooks' own cells (what
nbgrader executes, hidden tests included) run in a fork of a process that has already
imported TensorFlow, one fork per submission, with the thread settings of ``--jobs 2``; and
each grading run's CPU per submission as a ratio to it (target at most 1.2x). Of a ``--jobs 2``
run it also reports what is spent once per run whatever the class size (the fork server's
start, nbgrader preparing the lessons), and the ratio of the rest: what each submission of a
large class costs.

    python benchmarks/grading.py             # prints the table; exit 1 if a target is missed
    python benchmarks/grading.py --per-lesson 2 --repeat 2
    python benchmarks/grading.py --cluster local:2
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from tfclinic.grading.grade import grade
from tfclinic.course.nbgrader_course import NbgraderCourse
from tfclinic.project import exercise_notebook, lessons, project_root, solution_notebook
from tfclinic.runtime import quiet_environment
from tfclinic.sandbox.forkserver import server_environment

RATIO_TARGET, SPEEDUP_TARGET = 0.5, 1.7
CLUSTER_SLOWDOWN_TARGET, LIMIT_RATIO_TARGET = 1.10, 1.2


def make_class(project, folder, per_lesson):
    """Write ``per_lesson`` submissions of every lesson; returns ``[(lesson, path)]``."""
    written = []
    for lesson in lessons(project):
        for index in range(per_lesson):
            kind = solution_notebook if index % 2 == 0 else exercise_notebook
            target = folder / f"student{index:02d}" / lesson / f"{lesson}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kind(project, lesson), target)
            written.append((lesson, target))
    return written


def as_nbgrader_runs_it(project, lesson, submission):
    """The source notebook with the submission's solution cells: what nbgrader executes."""
    source = nbformat.read(solution_notebook(project, lesson), as_version=4)
    student = nbformat.read(submission, as_version=4)
    answers = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in student.cells}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell.source = answers[meta["grade_id"]]
    return source


def floor_seconds(project, submissions):
    """Seconds to execute every submission with nbclient, one kernel each, one at a time."""
    from nbclient import NotebookClient

    os.environ.update(quiet_environment())
    start = time.perf_counter()
    for lesson, path in submissions:
        notebook = as_nbgrader_runs_it(project, lesson, path)
        NotebookClient(notebook, timeout=30, allow_errors=True, kernel_name="python3",
                       extra_arguments=["--Application.log_level=ERROR"],  # no TCP warnings
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


# Runs in `python -c`: import what the fork server imports, then run each notebook's code
# cells in a fork of its own and print the fork's CPU seconds (argv[1]: a JSON list of paths).
_LIMIT_PROBE = r"""
import json, os, sys
from tfclinic.processes import skip_slow_unused_imports
skip_slow_unused_imports()
from tfclinic.sandbox.forkserver import warm
warm()
import nbformat
from IPython.core.interactiveshell import InteractiveShell
notebooks = [(path, nbformat.read(path, as_version=4)) for path in json.loads(sys.argv[1])]
seconds = []
for path, notebook in notebooks:
    pid = os.fork()
    if pid == 0:
        os.chdir(os.path.dirname(path))
        shell = InteractiveShell.instance()
        for cell in notebook.cells:
            if cell.cell_type == "code":
                shell.run_cell(cell.source, store_history=False, silent=True)
        os._exit(0)
    _, _, usage = os.wait4(pid, 0)
    seconds.append(usage.ru_utime + usage.ru_stime)
print(json.dumps(seconds))
"""


def limit_cpu_seconds(project, submissions):
    """CPU seconds of every submission's cells with TensorFlow already imported (summed)."""
    folder = Path(tempfile.mkdtemp(prefix="tfclinic-limit-"))
    try:
        paths = []
        for index, (lesson, path) in enumerate(submissions):
            target = folder / f"{index:03d}" / f"{lesson}.ipynb"
            target.parent.mkdir()
            nbformat.write(as_nbgrader_runs_it(project, lesson, path), target)
            paths.append(str(target))
        done = subprocess.run([sys.executable, "-c", _LIMIT_PROBE, json.dumps(paths)], capture_output=True,
                              text=True, env=_two_jobs_environment(), timeout=3600)
        if done.returncode != 0:
            raise SystemExit(f"the physical limit probe failed: {done.stderr[-2000:]}")
        return sum(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def server_start_cpu_seconds():
    """CPU seconds a fork server spends before its first fork (imports, warm-up), measured in a
    process of its own that does just that."""
    code = ("from tfclinic.processes import skip_slow_unused_imports\nskip_slow_unused_imports()\n"
            "from tfclinic.sandbox.forkserver import warm\nwarm()\nimport os\nos._exit(0)\n")
    before = _cpu_seconds(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-I", "-c", code], env=_two_jobs_environment(), check=True, timeout=600)
    return _cpu_seconds(resource.RUSAGE_CHILDREN) - before


def _two_jobs_environment():
    """This environment with a fork server's for ``--jobs 2`` on this machine (its thread settings)."""
    return {**os.environ, **server_environment(max(1, (os.cpu_count() or 1) // 2))}


def _cpu_seconds(who=None):
    """CPU seconds of this process and of every child it has waited for (or of ``who`` alone)."""
    return sum(getattr(resource.getrusage(each), field) for each in
               ((who,) if who is not None else (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
               for field in ("ru_utime", "ru_stime"))


class NbgraderCPU:
    """Counts the CPU seconds of the nbgrader processes a grading run starts (prepare, feedback).

    While a grading run is under way, the only children this process reaps are nbgrader's
    (the fork server and the workers are reaped after the last runner, before feedback is
    rendered), so what the children's CPU grows by while at least one ``NbgraderCourse.run``
    is under way is nbgrader's. Runs that overlap (feedback in ``jobs`` shares) are counted
    once, over the time any of them runs.
    """

    def __init__(self):
        self.seconds, self._lock, self._run = 0.0, threading.Lock(), NbgraderCourse.run
        self._running, self._since = 0, 0.0
        self.by_command = {}  # nbgrader's subcommand -> CPU seconds (prepare and feedback never overlap)

    def __enter__(self):
        counter = self

        def run(course, *args, **kwargs):
            with counter._lock:
                if counter._running == 0:
                    counter._since = _cpu_seconds(resource.RUSAGE_CHILDREN)
                counter._running += 1
            try:
                return counter._run(course, *args, **kwargs)
            finally:
                with counter._lock:
                    counter._running -= 1
                    if counter._running == 0:
                        spent = _cpu_seconds(resource.RUSAGE_CHILDREN) - counter._since
                        counter.seconds += spent
                        counter.by_command[args[0]] = counter.by_command.get(args[0], 0.0) + spent

        NbgraderCourse.run = run
        return self

    def __exit__(self, *exc):
        NbgraderCourse.run = self._run


def grading_run(project, folder, jobs, cluster=None):
    """Grade ``folder`` once; returns ``(wall s, CPU s, total score, coordinator CPU s,
    nbgrader CPU s, loop CPU s, prepare CPU s)``: the coordinator's is this process's own, the
    prepare's that of nbgrader preparing the lessons (once per run), the loop's that
    of its main thread (the grading loop; the other threads are Dask's client, a local
    cluster's scheduler and worker, or the runners' waiting threads), nbgrader's that of its
    runs."""
    out = Path(tempfile.mkdtemp(prefix=f"tfclinic-grade-{'cluster' if cluster else f'j{jobs}'}-"))
    cpu, own, start = _cpu_seconds(), _cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
    loop = time.thread_time()
    with NbgraderCPU() as nbgrader:
        rows = grade(project, folder, out, jobs=jobs, report=lambda line: None, warn=print, cluster=cluster)
    seconds, cpu, loop = time.perf_counter() - start, _cpu_seconds() - cpu, time.thread_time() - loop
    own = _cpu_seconds(resource.RUSAGE_SELF) - own
    shutil.rmtree(out, ignore_errors=True)
    wrong = [r for r in rows if r.status != "graded"]
    if wrong:
        raise SystemExit(f"{len(wrong)} submissions were not graded: {wrong[:2]}")
    return (seconds, cpu, sum(r.score for r in rows), own, nbgrader.seconds, loop,
            nbgrader.by_command.get("generate_assignment", 0.0))


def fastest_runs(project, folder, repeat, cluster=None):
    """``{jobs: (wall s, CPU s, total score, ...)}``, the fastest of ``repeat`` runs with 1 and 2
    jobs (and under the key ``"cluster"`` through ``cluster``).

    The runs alternate (1, 2, 1, 2...), so a slow spell of the machine falls on both.
    """
    runs = {1: [], 2: [], **({"cluster": []} if cluster else {})}
    for _ in range(repeat):
        for jobs in runs:
            runs[jobs].append(grading_run(project, folder, 2, cluster) if jobs == "cluster"
                              else grading_run(project, folder, jobs))
    for jobs, each in runs.items():
        if len({run[2] for run in each}) > 1:
            raise SystemExit(f"repeated runs with {jobs} jobs disagree on the total score: {each}")
    return {jobs: min(each) for jobs, each in runs.items()}


def main(argv=None):
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--per-lesson", type=int, default=4, help="submissions per lesson")
    options.add_argument("--repeat", type=int, default=1,
                         help="grading runs per job count, alternating (the fastest counts)")
    options.add_argument("--cluster", default=None, metavar="ADDRESS",
                         help="also grade through this Dask cluster, e.g. local:2")
    args = options.parse_args(argv)
    project = project_root()
    folder = Path(tempfile.mkdtemp(prefix="tfclinic-class-"))
    try:
        submissions = make_class(project, folder, args.per_lesson)
        count = len(submissions)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"{count} submissions ({args.per_lesson} per lesson), {os.cpu_count()} CPUs, "
              f"load {load:.2f} at the start", flush=True)
        floor = floor_seconds(project, submissions)
        print(f"floor (nbclient, no isolation)  {floor:7.1f} s  {floor / count:5.2f} s/submission", flush=True)
        limit = limit_cpu_seconds(project, submissions)
        print(f"physical limit (cells only, TensorFlow imported)  {limit:5.1f} CPU s  "
              f"{limit / count:5.2f} CPU s/submission", flush=True)
        fastest = fastest_runs(project, folder, args.repeat, args.cluster)
        (one, cpu_one, score_one, *_), (two, cpu_two, score_two, own_two, nbgrader_two, loop_two, prepare_two) = \
            fastest[1], fastest[2]
        server = server_start_cpu_seconds()
        print(f"tfclinic grade --jobs 1         {one:7.1f} s  {one / count:5.2f} s/submission  "
              f"{one / floor:4.2f}x the floor  {cpu_one:5.1f} CPU s  {cpu_one / one:.2f} cores busy",
              flush=True)
        print(f"tfclinic grade --jobs 2         {two:7.1f} s  {two / count:5.2f} s/submission  "
              f"{two / floor:4.2f}x the floor  {cpu_two:5.1f} CPU s  {cpu_two / two:.2f} cores busy",
              flush=True)
        print(f"CPU per submission over the physical limit: {cpu_one / limit:.2f}x with --jobs 1, "
              f"{cpu_two / limit:.2f}x with --jobs 2 (target <= {LIMIT_RATIO_TARGET})")
        print(f"  --jobs 2: this process {own_two / count:.2f} CPU s/submission ({loop_two / count:.2f} in "
              f"the grading loop's thread), its nbgrader runs {nbgrader_two / count:.2f}")
        rest = cpu_two - server - prepare_two
        print(f"  --jobs 2, once per run whatever the class size: the fork server's start {server:.1f} CPU s, "
              f"nbgrader preparing the lessons {prepare_two:.1f}; the rest, per submission: {rest / count:.2f} "
              f"CPU s, {rest / limit:.2f}x the physical limit (what each submission of a large class costs)")
        missed = []
        if args.cluster:
            many, cpu_many, score_many, own_many, nbgrader_many, loop_many, _ = fastest["cluster"]
            print(f"tfclinic grade --cluster {args.cluster:8s} {many:7.1f} s  {many / count:5.2f} s/submission  "
                  f"{many / two:4.2f}x --jobs 2 (target <= {CLUSTER_SLOWDOWN_TARGET})  {cpu_many:5.1f} CPU s  "
                  f"{cpu_many / limit:.2f}x the physical limit", flush=True)
            local = args.cluster.startswith("local:")
            print(f"  coordinator CPU per submission: {own_many / count:.2f} s in the grading process "
                  f"({loop_many / count:.2f} in the grading loop's thread, the rest Dask's client and "
                  + ("the scheduler and worker, in this process) " if local else "its threads) ")
                  + f"+ {nbgrader_many / count:.2f} s in nbgrader (prepare"
                  + ("; the feedback the local worker renders)" if local else "; feedback is rendered on the workers)"))
            if score_many != score_two:
                print(f"the cluster disagrees with --jobs 2: total score {score_many} vs {score_two}")
                return 1
            if many / two > CLUSTER_SLOWDOWN_TARGET:
                missed.append("cluster")
        if cpu_two / limit > LIMIT_RATIO_TARGET:
            missed.append("limit")
        speedup = one / two
        print(f"speedup of 2 jobs over 1: {speedup:.2f}x (target >= {SPEEDUP_TARGET}); "
              f"isolation at 1 job: {one / floor:.2f}x the floor (target <= {RATIO_TARGET})")
        print(f"speedup = {(cpu_two / two) / (cpu_one / one):.2f} (cores busy, 2 jobs over 1) "
              f"x {cpu_one / cpu_two:.2f} (CPU seconds, 1 job over 2)")
        if score_one != score_two:
            print(f"the two runs disagree: total score {score_one} vs {score_two}")
            return 1
        return 0 if speedup >= SPEEDUP_TARGET and one / floor <= RATIO_TARGET and not missed else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
