"""JupyterLab's *Validate* button, made honest: visible tests as N/M with points, never
"passes all the tests".

nbgrader's Lab extension posts the notebook's path to ``/assignments/validate`` and draws
what the server answers. Its success line, "Success! Your notebook passes all the tests.",
is fixed in its JavaScript and shown whenever the answer lists no failed, changed or
type-changed cell, though the hidden tests have not run. The server side is ours to choose:
this module is a Jupyter server extension that serves nbgrader's two URLs with a subclass
of nbgrader's own handler, and ``tfclinic workshop`` switches it on *instead of*
``nbgrader.server_extensions.validate_assignment`` (``ServerApp.jpserver_extensions``
config; nothing of nbgrader is patched).

Its :class:`SelfCheckValidator` is nbgrader's ``Validator`` (same execution, same config
from ``nbgrader_config.py``) that also counts the visible test cells and their points. The
answer always starts the dialog's list with one entry, the self-check: ``Visible tests:
4/5 test cells passed (8/10 points)`` and the note that hidden tests on fresh data run at
grading. The dialog draws every entry under a fixed "The following cell failed:" line; the
summary entry carries a style rule that hides that line for itself, so it reads as a
summary, and the cells that really failed follow it as nbgrader shows them.
"""

import html
import traceback
from pathlib import Path

from nbgrader import utils
from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError
from nbgrader.server_extensions.validate_assignment.handlers import (
    NbGraderVersionHandler,
    ValidateAssignmentHandler,
)
from nbgrader.validator import Validator

from ..validate import HIDDEN_TESTS_NOTE, visible_summary

SUMMARY_CLASS = "tfclinic-selfcheck"
# The dialog puts each entry in #validation-message as <div><p>heading</p></div> followed by
# a block for the source and one for the error; the summary is the first entry, so its
# heading is the first child. (tests/test_workshop.py reads the dialog in Chromium.)
# The note wraps inside its box (the dialog's blocks are <pre>, which would clip it).
_HIDE_SUMMARY_HEADING = ("<style>#validation-message > div:first-child {display: none} "
                         f"#validation-message .{SUMMARY_CLASS} {{white-space: pre-wrap}}</style>")


def hidden_tests_note():
    """What no self-check runs, and the practice checks that come closest."""
    return HIDDEN_TESTS_NOTE


def score_visible_tests(nb):
    """``(passed cells, test cells, points, max points)`` of an executed notebook, the way
    nbgrader scores its grade cells (a code cell earns its points when it raised nothing)."""
    cells = [cell for cell in nb.cells if utils.is_grade(cell) and cell.cell_type == "code"]
    scores = [utils.determine_grade(cell) for cell in cells]
    passed = sum(1 for score, top in scores if score is not None and score >= top)
    return passed, len(cells), sum(s or 0 for s, _ in scores), sum(t or 0 for _, t in scores)


class SelfCheckValidator(Validator):
    """nbgrader's Validator that also says how the visible tests went, as N/M with points.

    ``validate`` returns nbgrader's answer plus ``selfcheck``: ``{"summary": ..., "note":
    ..., "passed": N, "total": M, "points": P, "max_points": T}`` (absent when nbgrader
    stopped before running the notebook, for a cell whose type changed).
    """

    def _preprocess(self, nb):
        nb = super()._preprocess(nb)
        passed, total, points, top = score_visible_tests(nb)
        self._selfcheck = {"summary": visible_summary(passed, total, points, top),
                           "note": hidden_tests_note(), "passed": passed, "total": total,
                           "points": points, "max_points": top}
        return nb

    def validate(self, filename):
        self._selfcheck = None
        results = super().validate(filename)
        if self._selfcheck is not None:
            results["selfcheck"] = self._selfcheck
        return results


def dialog_results(results):
    """nbgrader's answer rearranged for the stock dialog: the self-check first, as an entry
    of ``failed`` whose heading is hidden, then the cells that failed. A notebook whose
    test cells were edited keeps nbgrader's own warning (``changed``, ``type_changed``)."""
    selfcheck = results.pop("selfcheck", None)
    if selfcheck is None or "changed" in results or "type_changed" in results:
        return results
    text = f"{selfcheck['summary']}.\n{selfcheck['note']}"
    entry = {"source": selfcheck["summary"],
             "error": (f'<span class="{SUMMARY_CLASS}">{html.escape(selfcheck["note"])}</span>'
                       + _HIDE_SUMMARY_HEADING),
             "raw_error": text}
    results["failed"] = [entry, *results.get("failed", [])]
    return results


class SelfCheckHandler(ValidateAssignmentHandler):
    """nbgrader's ``/assignments/validate`` handler, answering with the self-check."""

    def validate_notebook(self, path):
        root = Path(self.root_dir).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            from tornado import web

            raise web.HTTPError(403, "Access denied: path outside allowed directory")
        try:
            results = SelfCheckValidator(config=self.load_config()).validate(str(target))
        except (SchemaTooOldError, SchemaTooNewError) as error:
            self.log.error(traceback.format_exc())
            return {"success": False, "value": f"{target}: the nbgrader metadata of this "
                    f"notebook is of another version ({type(error).__name__}); ask your "
                    "instructor for a fresh copy."}
        except Exception:  # noqa: BLE001 - what nbgrader's handler does: the dialog shows it
            self.log.error(traceback.format_exc())
            return {"success": False, "value": traceback.format_exc()}
        return {"success": True, "value": dialog_results(results)}


def _load_jupyter_server_extension(server_app):
    """Serve nbgrader's validate URLs with :class:`SelfCheckHandler`."""
    from jupyter_server.utils import url_path_join

    web_app = server_app.web_app
    web_app.settings["root_dir"] = server_app.root_dir
    base = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [(url_path_join(base, "/assignments/validate"), SelfCheckHandler),
                                 (url_path_join(base, "/nbgrader_version"), NbGraderVersionHandler)])
    server_app.log.info("tfclinic: the Validate button reports visible tests as N/M")


def _jupyter_server_extension_points():
    return [{"module": "tfclinic.course.lab_validate"}]

