"""`tfclinic workshop`: a student workspace that keeps students' work, and JupyterLab in it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lesson_variants import tuned_build_model
from tfclinic.course.book import lesson_chapters
from tfclinic.project import exercise_notebook, lessons
from tfclinic.course.workshop import (MINUTES_PER_FUNCTION, MINUTES_TO_CHECK,
                                     NBGRADER_VALIDATE_EXTENSION, VALIDATE_SERVER_EXTENSION,
                                     WORDS_PER_MINUTE, lab_command, lesson_plan)

TFCLINIC = str(Path(sys.executable).with_name("tfclinic"))


def workshop(*args, env=None, timeout=120):
    return subprocess.run([TFCLINIC, "workshop", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def assert_user_error(done, *fragments):
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_names_every_option():
    done = workshop("--help")
    assert done.returncode == 0
    assert "usage: tfclinic workshop" in done.stdout
    for option in ["DIR", "--port", "--no-browser", "--prepare-only"]:
        assert option in done.stdout
    done = subprocess.run([TFCLINIC, "book", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--with-solutions" in done.stdout


def test_prepare_only_copies_every_exercise_and_a_readme(project, tmp_path):
    folder = tmp_path / "class"
    done = workshop(folder, "--prepare-only")
    assert done.returncode == 0, done.stderr
    names = lessons(project)
    notebooks = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.ipynb"))
    assert notebooks == sorted(f"{name}/{name}.ipynb" for name in names)
    for name in names:
        copied = folder / name / f"{name}.ipynb"
        assert copied.read_bytes() == exercise_notebook(project, name).read_bytes()
    readme = (folder / "README.md").read_text()
    assert "tfclinic validate" in readme and "Validate" in readme
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names, "README.md"])
    assert "copied" in done.stdout and "tfclinic workshop" in done.stdout


def test_existing_work_is_never_overwritten(project, tmp_path):
    name = lessons(project)[0]
    mine = tmp_path / name / f"{name}.ipynb"
    mine.parent.mkdir()
    mine.write_text("my repaired notebook")
    notes = tmp_path / "README.md"
    notes.write_text("my notes")
    done = workshop(tmp_path, "--prepare-only")
    assert done.returncode == 0, done.stderr
    assert mine.read_text() == "my repaired notebook"
    assert notes.read_text() == "my notes"
    assert f"kept your existing work (not overwritten): {name}/{name}.ipynb" in done.stdout
    other = lessons(project)[1]
    assert (tmp_path / other / f"{other}.ipynb").is_file()  # the others are still handed out


def test_a_file_is_not_a_workspace(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("x")
    assert_user_error(workshop(target, "--prepare-only"), "is a file")


def test_a_taken_port_is_one_clear_line_and_nothing_is_written(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = workshop(tmp_path / "class", "--port", port, "--no-browser")
    assert_user_error(done, f"port {port}", "already in use", "--port")
    assert not (tmp_path / "class").exists()


def test_an_impossible_port_is_refused(tmp_path):
    assert_user_error(workshop(tmp_path, "--port", "70000"), "--port must be between 1 and 65535")


def test_the_server_has_only_the_students_nbgrader_extension(tmp_path):
    command = lab_command(tmp_path, 9999, open_browser=False)
    assert f"--ServerApp.jpserver_extensions={VALIDATE_SERVER_EXTENSION}=True" in command
    # nbgrader's own handler would answer "passes all the tests": tfclinic's serves its URLs
    assert f"--ServerApp.jpserver_extensions={NBGRADER_VALIDATE_EXTENSION}=False" in command
    assert "--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=False" in command
    assert "--ServerApp.port=9999" in command and "--ServerApp.port_retries=0" in command
    assert "--ServerApp.open_browser=False" in command


def test_the_lesson_plan_counts_functions_and_points(project):
    names = lesson_chapters(project)
    plan = lesson_plan(project, names)
    assert [row.lesson for row in plan] == names
    shapes = next(row for row in plan if row.lesson == "shapes")
    assert shapes.title == "Input shape mismatches"
    assert shapes.functions == 4  # make_features, build_model, predict_one, loss
    assert shapes.points == 10
    assert shapes.exercise_minutes == 4 * MINUTES_PER_FUNCTION + MINUTES_TO_CHECK
    assert shapes.walkthrough_minutes % 5 == 0 and shapes.walkthrough_minutes >= 5


def test_the_instructor_guide_states_the_rule_the_timetable_uses(project):
    guide = " ".join((project / "book" / "instructors.md").read_text().split())
    assert f"at {WORDS_PER_MINUTE} words of chapter prose a minute" in guide
    assert (f"at {MINUTES_PER_FUNCTION} minutes per broken function plus {MINUTES_TO_CHECK} "
            "minutes to validate") in guide
    assert "{lesson-timetable}" in guide


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url, data=None, headers=None, timeout=5):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def read_validate_dialog(base, token, path):
    """Open ``path`` in JupyterLab in headless Chromium, press Validate, return the dialog's text."""
    from test_browser import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1366, "height": 900})
        tab.route(lambda url: not url.startswith(base), lambda route: route.abort())
        tab.goto(f"{base}/lab/tree/{path}?token={token}", wait_until="load", timeout=120_000)
        tab.get_by_role("button", name="Validate").first.click(timeout=120_000)
        dialog = tab.locator("#validation-message")
        dialog.wait_for(state="visible", timeout=240_000)
        shots = os.environ.get("TFCLINIC_SHOTS")
        if shots:
            tab.screenshot(path=str(Path(shots) / "lab-validate-dialog.png"))
        text = dialog.inner_text()
        clipped = tab.evaluate("""() => Array.from(document.querySelectorAll(
            '#validation-message pre')).filter(b => b.scrollWidth > b.clientWidth + 1).length""")
        browser.close()
    assert clipped == 0, f"{clipped} blocks of the dialog are clipped"
    return text


@pytest.mark.slow
def test_jupyterlab_starts_with_the_validate_extension(project, tmp_path):
    port, token = free_port(), "tfclinic-test-token"
    (tmp_path / "class" / "shapes").mkdir(parents=True)
    import nbformat

    nbformat.write(tuned_build_model(), tmp_path / "class" / "shapes" / "shapes.ipynb")
    env = {**os.environ, "JUPYTER_TOKEN": token, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen([TFCLINIC, "workshop", str(tmp_path / "class"), "--port", str(port),
                               "--no-browser"], stdout=log, stderr=subprocess.STDOUT, env=env,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "lab.log").read_text()
            try:
                code, _ = get(f"{base}/api/status?token={token}")
                if code == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 90 s:\n" + (tmp_path / "lab.log").read_text())
        assert get(f"{base}/lab?token={token}")[0] == 200
        code, body = get(f"{base}/nbgrader_version?version=0.9.6&token={token}")
        assert code == 200 and json.loads(body) == {"success": True}  # the Validate button's server side
        assert get(f"{base}/formgrader?token={token}")[0] == 404  # instructors' tools are off
        name = lessons(project)[0]
        code, body = get(f"{base}/api/contents/{name}/{name}.ipynb?content=0&token={token}")
        assert code == 200 and json.loads(body)["name"] == f"{name}.ipynb"
        # The Validate button's answer for a build_model tuned to the notebook's 8 features:
        # every visible test passes, and the answer says so as N/M, never "all the tests".
        code, body = get(f"{base}/assignments/validate", data=json.dumps(
            {"path": "shapes/shapes.ipynb"}).encode(), timeout=240,
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
        answer = json.loads(body)
        assert code == 200 and answer["success"], body
        summary, *failed = answer["value"]["failed"]
        assert summary["source"] == "Visible tests: 5/5 test cells passed (10/10 points)"
        assert "Hidden tests call your functions again on fresh data" in summary["raw_error"]
        assert failed == []
        if Path("/usr/bin/chromium").is_file():
            dialog = read_validate_dialog(base, token, "shapes/shapes.ipynb")
            assert "Visible tests: 5/5 test cells passed (10/10 points)" in dialog, dialog
            assert "Hidden tests call your functions again" in dialog, dialog
            assert "passes all the tests" not in dialog and "cell failed" not in dialog, dialog
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    with pytest.raises(ProcessLookupError):
        os.killpg(server.pid, 0)  # nothing of the group is left
