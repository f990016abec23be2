"""The first code cell of every notebook a reader or student opens: install tfclinic if missing.

A notebook opened in Colab, or in any Python without tfclinic, would fail at its first
``import tfclinic``. The setup cell installs the pinned tfclinic there, quietly, and does
nothing where tfclinic is importable or where ``TFCLINIC_NO_INSTALL`` is set (``tfclinic
validate`` and the grader set it: no network there). It installs the core package only, whose
dependencies (NumPy, Matplotlib, psutil, packaging) Colab already has, so pip leaves Colab's
kernel packages alone; TensorFlow is Colab's own.

The cell is generated, never written by hand: ``tfclinic release`` refreshes it in
``solutions/`` (and so in ``exercises/``), and the chapter notebooks are built with it. It is
an nbgrader read-only cell (``locked``, and not editable in Jupyter); at grading it runs like
any other cell, and finds tfclinic installed.
"""

NO_INSTALL_VARIABLE = "TFCLINIC_NO_INSTALL"
SETUP_TAG = "tfclinic-setup"  # the tag that marks the cell, so a refresh finds and replaces it

_TEMPLATE = '''\
# Setup: installs tfclinic {version} where it is missing (Google Colab, a fresh Python).
# It changes nothing where tfclinic is installed; leave this cell as it is.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("tfclinic") is None and not os.environ.get("{variable}"):
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    {requirement!r}], check=True)
    importlib.invalidate_caches()'''


def cell_source(requirement, version):
    """The Python source of the setup cell that installs ``requirement`` (a pip requirement)."""
    return _TEMPLATE.format(version=version, variable=NO_INSTALL_VARIABLE, requirement=requirement)


def setup_cell(requirement, version, grade_id=None):
    """The setup cell as a notebook cell (a dict in nbformat 4's layout).

    Args:
        requirement: what pip installs, from :func:`tfclinic.publishing.install_requirement`.
        version: the tfclinic version the cell names.
        grade_id: for an nbgrader notebook, the id of the read-only cell (``shapes-setup``).
    """
    metadata = {"editable": False, "deletable": False, "tags": [SETUP_TAG]}
    if grade_id:
        metadata["nbgrader"] = {"grade": False, "grade_id": grade_id, "locked": True,
                                "schema_version": 3, "solution": False, "task": False}
    return {"cell_type": "code", "execution_count": None, "metadata": metadata, "outputs": [],
            "source": cell_source(requirement, version)}


def is_setup_cell(cell):
    """Whether ``cell`` is a setup cell written by this module."""
    return SETUP_TAG in (cell.get("metadata", {}).get("tags") or [])


def with_setup_cell(notebook, cell):
    """Return ``notebook`` (a dict) with ``cell`` as its first code cell.

    An earlier setup cell is replaced in place; otherwise the cell goes after the leading
    Markdown cells (the title), before the first code cell. In a notebook whose cells have
    ids (nbformat 4.5) it gets a fixed one, so that refreshing it changes nothing.
    """
    if (notebook.get("nbformat") or 0, notebook.get("nbformat_minor") or 0) >= (4, 5):
        cell = {**cell, "id": SETUP_TAG}
    cells = [c for c in notebook["cells"]]
    for index, existing in enumerate(cells):
        if is_setup_cell(existing):
            cells[index] = cell
            break
    else:
        index = next((i for i, c in enumerate(cells) if c["cell_type"] != "markdown"), len(cells))
        cells.insert(index, cell)
    return {**notebook, "cells": cells}


def source_text(cell):
    """A cell's source as one string (nbformat files may store it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source
