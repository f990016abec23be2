"""The command line: help everywhere, and one clear line (never a traceback) for mistakes."""

import subprocess
import sys
from pathlib import Path

import pytest

TFCLINIC = str(Path(sys.executable).with_name("tfclinic"))


def run(*args, cwd=None):
    return subprocess.run([TFCLINIC, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def subcommands():
    """Every subcommand the parser has, so a new one cannot miss this test."""
    import argparse

    from tfclinic.cli import parser

    action = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


def test_the_parser_has_the_documented_subcommands():
    assert {"book", "release", "validate", "collect", "grade", "workshop", "checkup", "doctor"} <= set(subcommands())


@pytest.mark.parametrize("command", [[]] + [[name] for name in subcommands()])
def test_every_subcommand_has_help(command):
    done = run(*command, "--help")
    assert done.returncode == 0
    assert "usage: tfclinic" in done.stdout


def assert_user_error(done, *fragments):
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_grade_missing_folder(tmp_path):
    assert_user_error(run("grade", tmp_path / "nowhere", "--out", tmp_path / "out"), "does not exist")
    assert not (tmp_path / "out").exists()


def test_grade_unknown_lesson(tmp_path):
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    assert_user_error(run("grade", tmp_path / "subs", "--out", tmp_path / "out", "--lesson", "shapez"),
                      "unknown lesson 'shapez'", "shapes")


def test_grade_empty_folder(tmp_path):
    (tmp_path / "subs").mkdir()
    assert_user_error(run("grade", tmp_path / "subs", "--out", tmp_path / "out"), "nothing to grade")


def test_grade_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "subs" / "ada" / "shapes").mkdir(parents=True)
    keep = tmp_path / "out" / "my-notes.txt"
    keep.parent.mkdir()
    keep.write_text("precious")
    assert_user_error(run("grade", tmp_path / "subs", "--out", tmp_path / "out"), "not empty")
    assert keep.read_text() == "precious"


def test_release_unknown_lesson():
    assert_user_error(run("release", "nope"), "unknown lesson 'nope'")


def test_validate_missing_notebook(tmp_path):
    assert_user_error(run("validate", tmp_path / "missing.ipynb"), "no notebook at")


def test_validate_corrupt_notebook(tmp_path):
    corrupt = tmp_path / "shapes.ipynb"
    corrupt.write_text('{"cells": [')
    assert_user_error(run("validate", corrupt), "not a valid notebook")


def test_validate_notebook_without_tests(tmp_path):
    import nbformat

    plain = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), plain)
    assert_user_error(run("validate", plain), "no graded test cells")


def test_commands_work_from_outside_the_checkout(tmp_path):
    done = run("release", "--check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


@pytest.mark.slow
def test_validate_reports_each_test_cell(project):
    done = run("validate", project / "exercises" / "shapes" / "shapes.ipynb")
    assert done.returncode == 1
    assert "Visible tests: 0/5 test cells passed (0/10 points)" in done.stdout
    assert "FAIL shapes-make-features-test (2 pt): AssertionError: expected (samples, features)" in done.stdout
    done = run("validate", project / "solutions" / "shapes" / "shapes.ipynb")
    assert done.returncode == 0, done.stdout
    assert "Visible tests: 5/5 test cells passed (10/10 points)" in done.stdout and "Hidden tests" in done.stdout


def test_checkup_runs_a_training_script_and_stops_when_strict(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import keras, numpy as np\n"
        "x = np.random.default_rng(0).normal(size=(64, 10)).astype('float32')\n"
        "model = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(1)])\n"
        "model.compile(optimizer='adam', loss='mse')\n"
        "model.fit(x, x[:, 0], epochs=1, verbose=0)\n")
    done = run("checkup", "--strict", script)
    assert done.returncode == 1, done
    assert "SHP001" in done.stdout + done.stderr
