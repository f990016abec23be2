"""Publishing the course: one config names the repository, the book's address and the install
source; the setup cell, the chapter notebooks, the version line, the CI workflow and the
one-line error for a missing extra."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tfclinic import __version__, publishing
from tfclinic.course.book import chapters
from tfclinic.course.chapter_notebooks import FOLDER, chapter_notebook_path, stale_chapter_notebooks
from tfclinic.cli import main
from tfclinic.errors import TfclinicError
from tfclinic.extras import COMMAND_EXTRAS, install_command, missing_extra
from tfclinic.project import exercise_notebook, lessons, solution_notebook
from tfclinic.course.release import refresh_setup_cells
from tfclinic.runtime import pinned_versions, version_note
from tfclinic.course.setup_cell import (NO_INSTALL_VARIABLE, cell_source, is_setup_cell, setup_cell,
                                 with_setup_cell)

REAL = {"repository": {"url": "https://github.com/Ada-L/course"}}


def config(project):
    return publishing.read_config(project)


# --- the one config -----------------------------------------------------------------------

@pytest.mark.parametrize("url, placeholder", [
    ("https://github.com/your-github-account/tfclinic", True),
    ("https://github.com/YOUR_ORG/course", True),
    ("https://github.com/OWNER/REPO", True),
    ("https://github.com/ada/course", False),
    ("https://github.com/yourself/course", False),  # a real account may start with "your"
    ("https://gitlab.com/ada/course", False),  # not a placeholder: refused for another reason
])
def test_placeholder_repositories_are_recognised(url, placeholder):
    assert publishing.is_placeholder(url) is placeholder


def test_the_book_address_follows_github_pages_unless_baseurl_is_set():
    assert publishing.book_url(REAL) == "https://ada-l.github.io/course/"
    assert publishing.book_url({**REAL, "html": {"baseurl": "https://books.example.org/tf"}}) == \
        "https://books.example.org/tf/"


def test_the_install_source_is_a_template_filled_from_the_config():
    custom = {**REAL, "tfclinic": {"install": "tfclinic @ git+{repository}@v{version}"}}
    assert publishing.install_requirement(custom, "1.2.3") == \
        "tfclinic @ git+https://github.com/Ada-L/course@v1.2.3"
    assert publishing.install_requirement(REAL, "1.2.3") == \
        "tfclinic @ https://ada-l.github.io/course/_static/wheels/tfclinic-1.2.3-py3-none-any.whl"
    with pytest.raises(TfclinicError, match="not a valid template"):
        publishing.install_requirement({**REAL, "tfclinic": {"install": "tfclinic=={tag}"}})


def test_publishing_refuses_a_placeholder_and_urls_that_disagree(project):
    placeholder = config(project)
    assert publishing.is_placeholder(publishing.repository(placeholder)[0])
    with pytest.raises(TfclinicError, match="placeholder"):
        publishing.check_publishable(placeholder, publishing.project_urls(project))
    with pytest.raises(TfclinicError, match="GitHub repository address"):
        publishing.check_publishable({"repository": {"url": "https://gitlab.com/a/b"}}, {})
    good = {"Repository": "https://github.com/Ada-L/course", "Book": "https://ada-l.github.io/course/"}
    assert publishing.check_publishable(REAL, good) == "https://ada-l.github.io/course/"
    with pytest.raises(TfclinicError, match=r"\[project.urls\] Book"):
        publishing.check_publishable(REAL, {**good, "Book": "https://elsewhere.org/"})


def test_pyproject_names_the_repository_and_book_of_the_book_config(project):
    urls, cfg = publishing.project_urls(project), config(project)
    assert urls["Repository"] == publishing.repository(cfg)[0]
    assert urls["Book"] == publishing.book_url(cfg)


def test_book_publish_refuses_the_placeholder_before_building(capsys, monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("the book was built")

    monkeypatch.setattr(subprocess, "run", no_build)
    assert main(["book", "--publish"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "placeholder" in err and "repository.url" in err


def test_checkup_links_start_at_the_book_address(monkeypatch):
    monkeypatch.setenv(publishing.BOOK_URL_VARIABLE, "https://ada-l.github.io/course/")
    assert publishing.installed_book_url() == "https://ada-l.github.io/course/"
    monkeypatch.setenv(publishing.BOOK_URL_VARIABLE, "")  # a local book build: relative
    assert publishing.installed_book_url() == ""
    monkeypatch.delenv(publishing.BOOK_URL_VARIABLE)
    # this checkout still has the placeholder, so an installed copy links relatively
    assert publishing.installed_book_url() == ""


def test_an_installed_copy_links_to_its_published_book(monkeypatch):
    import email.message
    import importlib.metadata

    def fake(book):
        message = email.message.Message()
        message["Project-URL"] = "Repository, https://github.com/ada/course"
        message["Project-URL"] = f"Book, {book}"
        return lambda name: message

    monkeypatch.delenv(publishing.BOOK_URL_VARIABLE, raising=False)
    monkeypatch.setattr(importlib.metadata, "metadata", fake("https://ada.github.io/course"))
    assert publishing.installed_book_url() == "https://ada.github.io/course/"
    monkeypatch.setattr(importlib.metadata, "metadata", fake("https://your-account.github.io/course/"))
    assert publishing.installed_book_url() == ""


# --- the setup cell --------------------------------------------------------------------

def run_cell(source, env, python_args=()):
    return subprocess.run([sys.executable, *python_args, "-c", source], capture_output=True,
                          text=True, env=env, timeout=120)


def test_setup_cell_does_nothing_where_tfclinic_is_installed(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != NO_INSTALL_VARIABLE}
    marker = tmp_path / "pip-ran"
    source = cell_source(f"tfclinic @ file://{tmp_path}/missing.whl", __version__)
    done = run_cell(source.replace('"-m", "pip"', f'"-c", "open({str(marker)!r}, \'w\')", "-m", "pip"'), env)
    assert done.returncode == 0, done.stderr
    assert not marker.exists() and done.stdout == ""


def test_setup_cell_installs_only_where_tfclinic_is_missing_and_installing_is_allowed(tmp_path):
    """``python -S`` cannot import tfclinic: the cell then calls pip, unless told not to."""
    env = {k: v for k, v in os.environ.items() if k != NO_INSTALL_VARIABLE}
    marker = tmp_path / "pip-ran"
    spy = f'"-c", "open({str(marker)!r}, \'w\')"'
    source = cell_source("tfclinic==0.0.0", __version__).replace('"-m", "pip"', spy)
    done = run_cell(source, env, ["-S", "-I"])
    assert done.returncode == 0, done.stderr
    assert marker.exists()  # it would have installed
    marker.unlink()
    done = run_cell(source, {**env, NO_INSTALL_VARIABLE: "1"}, ["-S", "-I"])
    assert done.returncode == 0 and not marker.exists()  # validate and grading: nothing


def test_validate_and_the_grader_tell_the_setup_cell_not_to_install():
    from tfclinic.runtime import quiet_environment
    from tfclinic.sandbox.forkserver import server_environment

    assert quiet_environment()[NO_INSTALL_VARIABLE] == "1"
    assert server_environment(1)[NO_INSTALL_VARIABLE] == "1"


def test_with_setup_cell_goes_after_the_title_and_replaces_an_old_one():
    notebook = {"cells": [{"cell_type": "markdown", "source": "# Title", "metadata": {}},
                          {"cell_type": "code", "source": "x = 1", "metadata": {}}]}
    first = with_setup_cell(notebook, setup_cell("tfclinic==1", "1"))
    assert [c["cell_type"] for c in first["cells"]] == ["markdown", "code", "code"]
    assert is_setup_cell(first["cells"][1]) and first["cells"][2]["source"] == "x = 1"
    second = with_setup_cell(first, setup_cell("tfclinic==2", "2"))
    assert len(second["cells"]) == 3 and "tfclinic==2" in second["cells"][1]["source"]


def notebooks_readers_open(project):
    names = lessons(project)
    return ([solution_notebook(project, n) for n in names] + [exercise_notebook(project, n) for n in names]
            + sorted((project / FOLDER).glob("*.ipynb")))


def test_every_notebook_starts_with_the_current_read_only_setup_cell(project):
    expected = cell_source(publishing.install_requirement(config(project)), __version__)
    paths = notebooks_readers_open(project)
    assert len(paths) >= 2 * len(lessons(project)) + len(lessons(project))
    for path in paths:
        notebook = json.loads(path.read_text())
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert "".join(code[0]["source"]) == expected, f"{path}: run `tfclinic release`"
        assert sum(is_setup_cell(c) for c in notebook["cells"]) == 1, path
        assert code[0]["metadata"]["editable"] is False, path
        if path.parent.parent.name in ("solutions", "exercises"):
            assert code[0]["metadata"]["nbgrader"]["locked"] is True, path
            assert code[0]["metadata"]["nbgrader"]["grade_id"] == f"{path.stem}-setup"


def test_release_refreshes_a_stale_setup_cell_and_check_reports_it(project, tmp_path):
    lesson = lessons(project)[0]
    (tmp_path / "book").mkdir()
    shutil.copy(project / "book" / "_config.yml", tmp_path / "book" / "_config.yml")
    target = solution_notebook(tmp_path, lesson)
    target.parent.mkdir(parents=True)
    shutil.copy(solution_notebook(project, lesson), target)
    assert refresh_setup_cells(tmp_path, [lesson], write=False) == []
    text = (tmp_path / "book" / "_config.yml").read_text()
    (tmp_path / "book" / "_config.yml").write_text(
        text.replace(re.search(r'install: "(.*)"', text)[1], "tfclinic @ git+{repository}@v{version}"))
    before = target.read_bytes()
    assert refresh_setup_cells(tmp_path, [lesson], write=False) == [lesson]
    assert target.read_bytes() == before  # --check writes nothing
    assert refresh_setup_cells(tmp_path, [lesson]) == [lesson]
    assert "git+https://github.com/" in target.read_text()
    assert refresh_setup_cells(tmp_path, [lesson], write=False) == []


# --- the chapter notebooks ----------------------------------------------------------------

def test_chapter_notebooks_match_the_book(project):
    assert stale_chapter_notebooks(project, chapters(project)) == [], "run `tfclinic release`"


def test_every_chapter_with_code_has_a_clean_notebook_of_its_code(project):
    for chapter in chapters(project):
        source = (project / "book" / f"{chapter}.md").read_text()
        fences = re.findall(r"^```\{code-cell\}", source, flags=re.MULTILINE)
        path = chapter_notebook_path(project, chapter)
        if not fences:
            assert not path.exists()
            continue
        notebook = json.loads(path.read_text())
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert len(code) == len(fences) + 1  # the setup cell, then the chapter's code
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
        assert set(notebook["metadata"]) == {"kernelspec", "language_info"}
        assert "SEED = begin()" in "".join(code[1]["source"])


# --- versions -------------------------------------------------------------------------------

def test_the_pins_come_from_the_installed_metadata(project):
    text = (project / "pyproject.toml").read_text()
    pins = pinned_versions()
    assert set(pins) == {"tensorflow", "keras"}
    assert f'tensorflow-cpu{pins["tensorflow"]}' in text.replace(" ", "")
    assert f'keras{pins["keras"]}' in text.replace(" ", "")


def test_version_note_only_when_a_version_differs():
    pins = {"tensorflow": SpecifierSet("==2.21.*"), "keras": SpecifierSet("==3.15.*")}
    assert version_note({"tensorflow": "2.21.0", "keras": "3.15.1"}, pins) is None
    note = version_note({"tensorflow": "2.19.0", "keras": "3.15.1"}, pins)
    assert note.count("\n") == 0 and "TensorFlow 2.19.0" in note and "==2.21.*" in note
    assert "may differ from the book" in note
    assert "Keras 3.10.0" in version_note({"tensorflow": "2.21.0", "keras": "3.10.0"}, pins)
    assert version_note({"tensorflow": "2.19.0"}, {}) is None  # no pins: nothing to say


def test_begin_says_it_once_when_the_runtime_differs(monkeypatch, capsys):
    import tensorflow as tf

    from tfclinic import runtime

    monkeypatch.setattr(runtime, "_VERSIONS_TOLD", False)
    monkeypatch.setattr(runtime, "pinned_versions",
                        lambda: {"tensorflow": SpecifierSet(f"!={tf.__version__}")})
    runtime.begin()
    runtime.begin()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and f"TensorFlow {tf.__version__}" in lines[0]


# --- extras ---------------------------------------------------------------------------------

def test_a_missing_extra_names_its_install_command():
    error = ModuleNotFoundError("No module named 'nbgrader'", name="nbgrader")
    assert missing_extra("grade", error).endswith(install_command("course"))
    assert install_command("validate") in missing_extra("validate", ModuleNotFoundError(name="nbclient"))
    assert "tfclinic[cluster]" in missing_extra("grade", ModuleNotFoundError(name="distributed"))
    assert missing_extra("grade", ModuleNotFoundError(name="tfclinic.nothing")) is None
    assert set(COMMAND_EXTRAS) <= {"book", "release", "validate", "grade", "collect", "workshop"}


def test_a_course_command_without_nbgrader_exits_2_in_one_line(monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "tfclinic.course.release" or m.startswith("nbgrader")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "nbgrader", None)  # import nbgrader now fails
    assert main(["release", "--check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "tfclinic[course]"' in err and "Traceback" not in err


# --- the workflow that publishes the book -------------------------------------------------

def test_the_pages_workflow_runs_the_readme_build_and_deploys_its_folder(project):
    workflow = yaml.safe_load((project / ".github" / "workflows" / "book.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job.get("steps", [])]
    runs = [step["run"] for step in steps if "run" in step]
    readme = (project / "README.md").read_text()
    first = readme[readme.index("## First commands"):]
    book_command = re.search(r"^(make book)\b", first, flags=re.MULTILINE)[1]
    assert any(run.startswith(book_command) and "BOOK_FLAGS=--publish" in run for run in runs)
    assert "$(BIN)/tfclinic book $(BOOK_FLAGS)" in (project / "Makefile").read_text()
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert [s["with"]["path"] for s in uploads] == ["book/_build/html"]
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in steps)
    assert workflow["permissions"]["pages"] == "write"


def test_a_publish_build_gives_the_book_its_address_and_carries_the_wheel(project, tmp_path, monkeypatch):
    """The publish path without executing the chapters: Jupyter Book's run is recorded, pip's
    wheel build is real, and the wheel is the one the setup cell's address names."""
    import zipfile

    from tfclinic.course import book

    good = {"Repository": "https://github.com/Ada-L/course", "Book": "https://ada-l.github.io/course/"}
    monkeypatch.setattr(book, "read_config", lambda project: REAL)
    monkeypatch.setattr(book, "project_urls", lambda project: good)
    real_run, seen = subprocess.run, {}

    def run(command, **kwargs):
        if "jupyter-book" in " ".join(map(str, command)):
            seen["env"] = kwargs["env"]
            (tmp_path / "_build" / "html").mkdir(parents=True)
            return subprocess.CompletedProcess(command, 0, "", "")
        return real_run(command, **kwargs)

    monkeypatch.setattr(book.subprocess, "run", run)
    index = book.build(project, output=tmp_path, echo=False, publish=True)
    assert seen["env"][publishing.BOOK_URL_VARIABLE] == "https://ada-l.github.io/course/"
    wheel_url = publishing.install_requirement(REAL).split(" @ ")[1]
    wheel = index.parent / book.WHEELS_FOLDER / wheel_url.rsplit("/", 1)[1]
    assert wheel_url == "https://ada-l.github.io/course/" + f"{book.WHEELS_FOLDER}/{wheel.name}"
    names = zipfile.ZipFile(wheel).namelist()
    assert "tfclinic/runtime.py" in names and "tfclinic/datasets/breast_cancer.csv.gz" in names
