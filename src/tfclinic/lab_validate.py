"""JupyterLab's *Validate* button, made honest: visible tests as N/M with points, never
"passes all the tests".

nbgrader's Lab extension shows "Success! Your notebook passes all the tests." whenever its
server handler reports no failed cell, even though the hidden tests have not run. The text
is fixed in the extension's JavaScript; what the server answers is not. This module is a
Jupyter server extension (``tfclinic workshop`` switches it on next to nbgrader's validate
extension) that makes the handler use :class:`SelfCheckValidator`. Its answer always holds
one more entry, the summary, listed first: ``Visible tests: 4/5 test cells passed (8/10
points)`` and a line saying that hidden tests on fresh data run at grading. So the dialog
never reaches its success message, and its title line above the summary is nbgrader's.
"""

import nbformat
from nbgrader import utils
from nbgrader.validator import Validator

SUMMARY_SOURCE = "Your self-check (a summary, not a cell of your notebook)"
HIDDEN_TESTS_NOTE = ("Hidden tests call your functions again on fresh data, with other sizes, "
                     "when your work is graded; no self-check runs them. "
                     "`tfclinic validate --fresh NOTEBOOK` (or, in Colab, "
                     "`from tfclinic.practice import check; check(globals())` in a cell) "
                     "tries your functions on freshly drawn sizes and data before you hand in.")


def visible_summary(passed_cells, total_cells, points, max_points):
    """The one-line verdict every self-check prints: N/M cells and points, visible only."""
    return (f"Visible tests: {passed_cells}/{total_cells} test cells passed "
            f"({points:g}/{max_points:g} points)")


class SelfCheckValidator(Validator):
    """nbgrader's Validator, reporting visible tests as N/M and the hidden ones as not run."""

    def _grade_cells(self, nb):
        return [cell for cell in nb.cells if utils.is_grade(cell) and cell.cell_type == "code"]

    def summary(self, nb):
        """``(verdict line, note)`` for an executed notebook."""
        cells = self._grade_cells(nb)
        scores = [utils.determine_grade(cell, self.log) for cell in cells]
        passed = sum(1 for score, top in scores if score is not None and score >= top)
        points = sum(score or 0 for score, _ in scores)
        top = sum(top or 0 for _, top in scores)
        return visible_summary(passed, len(cells), points, top), HIDDEN_TESTS_NOTE

    def _get_failed_cells(self, nb):
        failed = super()._get_failed_cells(nb)
        if self.invert:
            return failed
        verdict, note = self.summary(nb)
        summary = nbformat.v4.new_code_cell(SUMMARY_SOURCE)
        summary.metadata["nbgrader"] = {"grade": True, "points": 0, "grade_id": "tfclinic-summary"}
        summary.outputs = [nbformat.v4.new_output(
            "error", ename="Summary", evalue=verdict, traceback=[f"{verdict}.\n{note}"])]
        self._summary = verdict
        return [summary, *failed]

    def _print_num_failed(self, num_failed):
        verdict = getattr(self, "_summary", "Visible tests")
        self.stream.write(f"{verdict}. {HIDDEN_TESTS_NOTE}\n")


def _load_jupyter_server_extension(server_app):
    """Make nbgrader's validate handler build a :class:`SelfCheckValidator`."""
    from nbgrader.server_extensions.validate_assignment import handlers

    handlers.Validator = SelfCheckValidator
    server_app.log.info("tfclinic: the Validate button reports visible tests as N/M")


def _jupyter_server_extension_points():
    return [{"module": "tfclinic.lab_validate"}]
