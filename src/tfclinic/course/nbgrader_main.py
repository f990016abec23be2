"""``python -m tfclinic.course.nbgrader_main ARGS`` is ``nbgrader ARGS``, with less CPU spent.

tfclinic starts nbgrader this way (``NbgraderCourse.run``), to prepare the lessons and to
render feedback. Two things nbgrader would spend CPU on, and that change nothing it writes:

- an import it never uses (``tfclinic.processes.SLOW_UNUSED_MODULES``): 1.3 s per process;
- the revision it stamps on a new gradebook. nbgrader asks for it by running ``alembic heads``,
  a second Python process that imports SQLAlchemy and every migration again (2.2 s of CPU, in
  every grading run); here the same question goes to alembic in this process (0.3 s).
"""

from tfclinic.processes import skip_slow_unused_imports


def alembic_head():
    """The newest revision of nbgrader's gradebook schema, read from its migration scripts."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


def main():
    skip_slow_unused_imports()
    from nbgrader import api
    from nbgrader.apps.nbgraderapp import main as run_nbgrader

    api.get_alembic_version = alembic_head  # read where Gradebook() creates a database
    run_nbgrader()


if __name__ == "__main__":
    main()
