"""The two installs: the wheel's core serves every notebook without the course tools, and
each notebook's setup cell installs it into a runtime that has only what Colab brings.

Both tests build the wheel from this checkout and use fresh virtualenvs (tests/fresh_runtime.py)
that see only the distributions named, linked from this environment: nothing is downloaded.
"""

import ast
import json
import os
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from packaging.requirements import Requirement

from fresh_runtime import canonical, make_runtime
from tfclinic import __version__
from tfclinic.course.book import build_wheel, chapters
from tfclinic.course.chapter_notebooks import chapter_notebook_path
from tfclinic.project import exercise_notebook, lessons, solution_notebook
from tfclinic.course.setup_cell import NO_INSTALL_VARIABLE, is_setup_cell, setup_cell, with_setup_cell

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("install")]

COURSE_TOOLS = ["nbgrader", "jupyter_book", "sphinx", "nbclient", "nbformat", "jupyterlab"]
# What a runtime such as Colab already has: the interpreter's kernel, NumPy, Matplotlib and
# TensorFlow. The setup cell may add tfclinic and at most this many other distributions.
RUNTIME = ["numpy", "matplotlib", "tensorflow-cpu" if sys.platform != "darwin" else "tensorflow",
           "ipykernel"]
MAX_OTHERS_ADDED = 3


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(Path(__file__).resolve().parents[1], tmp_path_factory.mktemp("wheel"),
                       echo=False)


def core_requirements(wheel):
    """The wheel's requirements outside every extra, as ``Requirement``s."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    lines = [line.split(":", 1)[1].strip() for line in metadata.splitlines()
             if line.startswith("Requires-Dist:")]
    return [r for r in map(Requirement, lines) if "extra" not in str(r.marker or "")]


def notebook_sources(project):
    """The code of every notebook and chapter a reader or student runs."""
    paths = [*(solution_notebook(project, n) for n in lessons(project)),
             *(exercise_notebook(project, n) for n in lessons(project)),
             *(chapter_notebook_path(project, c) for c in chapters(project))]
    for path in paths:
        if path.is_file():
            for cell in json.loads(path.read_text())["cells"]:
                if cell["cell_type"] == "code":
                    yield path, "".join(cell["source"])


def tfclinic_modules(project):
    """Every ``tfclinic`` module the notebooks import, found by parsing their code."""
    modules = set()
    for _, source in notebook_sources(project):
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tfclinic"):
                modules.add(node.module)
                modules |= {f"{node.module}.{a.name}" for a in node.names
                            if (project / "src" / node.module.replace(".", "/") / f"{a.name}.py").exists()}
            elif isinstance(node, ast.Import):
                modules |= {a.name for a in node.names if a.name.startswith("tfclinic")}
    return sorted(modules)


def test_the_core_install_needs_none_of_the_course_tools(wheel):
    names = {canonical(r.name) for r in core_requirements(wheel)}
    assert names and not names & {canonical(n) for n in COURSE_TOOLS + ["jupyter-book", "ipykernel"]}
    assert not names & {"tensorflow", "tensorflow-cpu", "keras"}  # Colab brings its own


def test_the_core_install_imports_every_notebook_module_without_the_course_tools(project, wheel, tmp_path):
    modules = tfclinic_modules(project)
    assert {"tfclinic.runtime", "tfclinic.data"} <= set(modules)
    core = [r.name for r in core_requirements(wheel)
            if r.marker is None or r.marker.evaluate()]
    runtime = make_runtime(tmp_path / "core", core + [RUNTIME[2]])
    done = runtime.run("-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel))
    assert done.returncode == 0, done.stderr
    probe = (f"import importlib, importlib.util, json\n"
             f"absent = [m for m in {COURSE_TOOLS!r} if importlib.util.find_spec(m)]\n"
             f"assert not absent, absent\n"
             f"for name in {modules + ['tfclinic.checkup']!r}:\n"
             f"    importlib.import_module(name)\n"
             f"import tfclinic\n"
             f"print(json.dumps(tfclinic.__file__))")
    done = runtime.run("-c", probe, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert Path(json.loads(done.stdout)).is_relative_to(runtime.site_packages)
    print(f"\ncore install: {len(modules)} notebook modules import with "
          f"{', '.join(sorted(map(canonical, core)))} and TensorFlow; no {', '.join(COURSE_TOOLS)}")

    # a command of an extra ends in one line that names the install
    for command, extra in [(["book"], "course"), (["release"], "course"),
                           (["grade", str(tmp_path), "--out", str(tmp_path / "out")], "course"),
                           (["validate", "x.ipynb"], "validate")]:
        done = runtime.run("-m", "tfclinic.cli", *command, cwd=tmp_path, timeout=120,
                           env={**os.environ, "TFCLINIC_ROOT": str(project)})
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert f'pip install "tfclinic[{extra}]"' in done.stderr


def kernel_for(runtime, folder):
    """A Jupyter kernelspec named ``fresh`` that starts the runtime's Python."""
    spec = folder / "kernels" / "fresh"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(runtime.python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh", "language": "python"}))
    return folder


# The setup cell is the same in every exercise: `make test` runs one lesson's exercise in a
# fresh runtime, `make proofs` every other one.
EVERY_EXERCISE = [pytest.param(lesson, marks=() if lesson == "shapes" else pytest.mark.proof)
                  for lesson in lessons(Path(__file__).resolve().parents[1])]


@pytest.mark.parametrize("lesson", EVERY_EXERCISE)
def test_the_setup_cell_installs_tfclinic_and_the_exercise_runs(project, wheel, lesson, tmp_path,
                                                                monkeypatch):
    runtime = make_runtime(tmp_path / "runtime", RUNTIME)
    before = runtime.own_distributions()
    assert "tfclinic" not in before and runtime.run("-c", "import tfclinic").returncode != 0

    notebook = nbformat.read(exercise_notebook(project, lesson), as_version=4)
    assert is_setup_cell(notebook.cells[[c.cell_type for c in notebook.cells].index("code")])
    # the published book's wheel, here: the one just built
    local = setup_cell(f"tfclinic @ {wheel.as_uri()}", __version__, grade_id=f"{lesson}-setup")
    notebook = nbformat.from_dict(with_setup_cell(notebook, local))
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_for(runtime, tmp_path / "jupyter")))
    env = {k: v for k, v in os.environ.items() if k not in (NO_INSTALL_VARIABLE, "PYTHONPATH")}
    env.update(PIP_NO_INDEX="1", TF_CPP_MIN_LOG_LEVEL="3")  # no network: the wheel is local
    work = tmp_path / "work"
    work.mkdir()
    client = NotebookClient(notebook, kernel_name="fresh", timeout=180, allow_errors=True,
                            resources={"metadata": {"path": str(work)}})
    client.execute(env=env)

    added = sorted(set(runtime.own_distributions()) - set(before))
    others = [name for name in added if name != "tfclinic"]
    print(f"\n{lesson}: the setup cell added {len(added)} distributions: {', '.join(added)}")
    assert "tfclinic" in added
    assert len(others) <= MAX_OTHERS_ADDED, others
    errors = [(c.metadata.get("nbgrader", {}).get("grade", False), c.source.splitlines()[0])
              for c in notebook.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    # the exercise's broken functions fail its test cells, and nothing else fails
    assert all(graded for graded, _ in errors), errors
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)  # top to bottom
