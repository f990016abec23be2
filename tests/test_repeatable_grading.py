"""The same notebook bytes, lesson and seed get the same score in every test cell, whether
the machine is idle or busy.

A small batch of the losses lesson (the lesson whose regressor cell once failed for correct
repairs on a loaded machine) is graded twice with the same seed: once on an otherwise idle
worker, once beside spinning processes that keep every core busy (``BusyMachine``: each
grading process then gets about a third of a core). The two journals must agree cell by
cell. Limits count CPU seconds and TensorFlow's threads are pinned, so only wall time moves.
"""

import json
import time

import pytest

from lesson_variants import grade_notebooks, solution, with_cell_source
from test_losses import OTHER_CORRECT_FIXES, WRONG_FIXES
from test_time_limits import BusyMachine

# the burners must not slow other groups; this module runs beside test_time_limits' own
pytestmark = [pytest.mark.xdist_group("time_limits"), pytest.mark.proof]

LESSON, SEED = "losses", 3


def _batch():
    """The solution, a correct repair of the regressor and a wrong one of the binary cell."""
    base = solution(LESSON)
    correct = OTHER_CORRECT_FIXES["regressor"]["huber-loss"]
    wrong_name, wrong = sorted(WRONG_FIXES["binary"].items())[0]
    return {"solution": base,
            "huber-regressor": with_cell_source(base, *correct),
            wrong_name: with_cell_source(base, *wrong)}


def _cells(out):
    """``{student: {grade_id: score}}`` from a grading run's journal."""
    entries = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    return {entry["student"]: {cell: test["score"] for cell, test in entry["tests"].items()}
            for entry in entries}


@pytest.mark.slow
def test_a_busy_machine_gives_the_same_score_in_every_cell(tmp_path):
    batch = _batch()
    idle_started = time.monotonic()
    idle = grade_notebooks(LESSON, batch, tmp_path / "idle", seed=SEED)
    idle_wall = time.monotonic() - idle_started
    with BusyMachine():
        busy_started = time.monotonic()
        busy = grade_notebooks(LESSON, batch, tmp_path / "busy", seed=SEED)
        busy_wall = time.monotonic() - busy_started
    print(f"idle {idle_wall:.0f} s, busy {busy_wall:.0f} s of wall time for {len(batch)} notebooks")
    assert busy_wall > 1.5 * idle_wall, "the machine was not busy enough to prove anything"
    assert all(row.status == "graded" for row in (*idle.values(), *busy.values()))
    idle_cells = _cells(tmp_path / "idle" / f"graded-{SEED}")
    busy_cells = _cells(tmp_path / "busy" / f"graded-{SEED}")
    assert sorted(idle_cells) == sorted(batch)
    assert busy_cells == idle_cells
    # the batch is not trivial: full marks, and a wrong fix that loses a cell's points
    full = sum(idle_cells["solution"].values())
    assert full > 0 and sum(idle_cells["huber-regressor"].values()) == full
    assert min(sum(cells.values()) for cells in idle_cells.values()) < full
