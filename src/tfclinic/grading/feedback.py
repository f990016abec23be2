"""Feedback students can be given: no hidden test source, no live HTML or JavaScript.

nbgrader's feedback is the autograded notebook rendered to HTML. Stock, it shows the hidden
tests (their code, and their lines again in every traceback) and renders whatever HTML the
student's notebook produced. These preprocessors run before rendering; the course config puts
them in front of nbgrader's own (see autograder/nbgrader_config.py).
"""

from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from nbgrader.utils import is_grade
from traitlets import Bool


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden test regions from the feedback copy of a notebook.

    A student may type the hidden-test delimiters into a cell of their own; in feedback that
    must not be an error, so metadata is not enforced here.
    """

    enforce_metadata = Bool(False)


class RedactTestTracebacks(NbGraderPreprocessor):
    """In test cells, reduce each error to ``ename: evalue``.

    A traceback quotes the failing source line, which for a hidden test is the test itself.
    The error message is written by the test's author for the student to read, so it stays.
    """

    enabled = Bool(True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and is_grade(cell):
            for output in cell.outputs:
                if output.output_type == "error":
                    summary = f"{output.ename}: {output.evalue}" if output.evalue else output.ename
                    output.traceback = [summary]
        return cell, resources


class SanitizeStudentHTML(SanitizeHTML):
    """nbconvert's SanitizeHTML, switched on (nbconvert ships its preprocessors disabled).

    It escapes HTML in markdown and raw cells, escapes HTML outputs with bleach, and drops
    JavaScript outputs.
    """

    enabled = Bool(True)


def feedback_preprocessors(stock):
    """nbgrader's feedback steps ``stock``, preceded by the redaction and sanitising steps."""
    return [HideHiddenTests, RedactTestTracebacks, SanitizeStudentHTML, *stock]
