"""What a student's self-check says: `tfclinic validate`'s messages in full (ACTUAL/DESIRED and
inner causes kept, machine paths out), and the Validate button's answer as N/M with points."""

import nbformat
import numpy as np
import pytest

from tfclinic.display import format_error
from tfclinic.course.lab_validate import SelfCheckValidator, dialog_results
from tfclinic.validate import HIDDEN_TESTS_NOTE, CellResult, _failure, format_report, visible_summary


def failed_cell(error, traceback=None):
    """A test cell whose output is ``error``, as a kernel records it."""
    cell = nbformat.v4.new_code_cell("...")
    text = traceback if traceback is not None else [f"{type(error).__name__}: {error}"]
    cell.outputs = [nbformat.v4.new_output("error", ename=type(error).__name__,
                                           evalue=str(error), traceback=text)]
    return cell


def raised(function):
    try:
        function()
    except Exception as error:  # noqa: BLE001 - the error is what the test looks at
        return error
    raise AssertionError("nothing was raised")


def test_an_allclose_failure_keeps_actual_and_desired():
    error = raised(lambda: np.testing.assert_allclose(3.25, 10 / 3, rtol=1e-6,
                                                      err_msg="labels of shape (batch,)"))
    message = _failure(failed_cell(error))
    assert "labels of shape (batch,)" in message
    assert "ACTUAL: array(3.25)" in message and "DESIRED: array(3.333333)" in message, message
    assert len(message.splitlines()) > 3  # the old three-line cut dropped these


def test_the_cause_of_an_error_inside_a_library_call_is_named():
    def inner():
        raise ValueError("Dimensions must be equal, but are 3 and 4")

    def wrapped():
        try:
            inner()
        except ValueError as cause:
            raise RuntimeError("the training step failed") from cause

    error = raised(wrapped)
    traceback = ["\n".join(format_error(error, error.__traceback__))]
    message = _failure(failed_cell(error, traceback))
    assert message.startswith("RuntimeError: the training step failed")
    assert "caused by ValueError: Dimensions must be equal, but are 3 and 4" in message, message


def test_a_message_names_no_path_of_the_machine_and_no_keras_argument_list():
    error = ValueError("in user code:\n\n    File \"/tmp/ipykernel_4242/123456.py\", line 2, in step\n"
                       "\n    ValueError: Input 0 of layer \"dense\" is incompatible\n\n"
                       "Arguments received by Dense.call():\n  • inputs=tf.Tensor(shape=(4, 1, 10))")
    message = _failure(failed_cell(error))
    assert "ipykernel" not in message and "/tmp/" not in message, message
    assert "Input 0 of layer \"dense\" is incompatible" in message
    assert "Arguments received" not in message and "inputs=tf.Tensor" not in message


def test_a_traced_functions_error_keeps_the_cells_frame_and_drops_the_librarys():
    import sysconfig

    library = sysconfig.get_paths()["purelib"]
    error = ValueError(
        "in user code:\n\n"
        "    File \"/tmp/ipykernel_77/9.py\", line 12, in step  *\n"
        "        loss = loss_fn(y, model(x, training=True))\n"
        f"    File \"{library}/keras/src/utils/traceback_utils.py\", line 122, in error_handler  **\n"
        "        raise e.with_traceback(filtered_tb) from None\n"
        f"    File \"{library}/keras/src/layers/input_spec.py\", line 256, in assert_input_compatibility\n"
        "        raise ValueError(\n\n"
        "    ValueError: Input 0 of layer 'functional_6' is incompatible with the layer: "
        "expected shape=(None, 8), found shape=(200, 5)")
    message = _failure(failed_cell(error)).splitlines()
    assert [line.strip() for line in message] == [
        "ValueError: in user code:",
        'File "a cell", line 12, in step  *',
        "loss = loss_fn(y, model(x, training=True))",
        "ValueError: Input 0 of layer 'functional_6' is incompatible with the layer: "
        "expected shape=(None, 8), found shape=(200, 5)"], message


def test_the_report_gives_visible_tests_as_n_of_m_and_says_hidden_tests_run_later():
    results = [CellResult("a-test", 2, True), CellResult("b-test", 3, False, "AssertionError: x")]
    report = format_report("nb.ipynb", results, None, 1.0)
    assert report.splitlines()[0] == "nb.ipynb: Visible tests: 1/2 test cells passed (2/5 points), 1.0 s"
    assert HIDDEN_TESTS_NOTE in report and "passes all" not in report
    report = format_report("nb.ipynb", [CellResult("a-test", 2, True)], None, 1.0)
    assert "Visible tests: 1/1 test cells passed (2/2 points)" in report
    assert HIDDEN_TESTS_NOTE in report  # said when everything visible passes too


def test_the_dialog_answer_puts_the_summary_first_and_keeps_nbgraders_warnings():
    selfcheck = {"summary": visible_summary(4, 5, 8, 10), "note": HIDDEN_TESTS_NOTE}
    failing = {"source": "assert False", "error": "AssertionError", "raw_error": "AssertionError"}
    answer = dialog_results({"failed": [failing], "selfcheck": dict(selfcheck)})
    summary, rest = answer["failed"][0], answer["failed"][1:]
    assert summary["source"] == "Visible tests: 4/5 test cells passed (8/10 points)"
    assert "Hidden tests call your functions again" in summary["raw_error"]
    assert "<style>" in summary["error"] and rest == [failing]
    assert "selfcheck" not in answer
    # every visible test passed: the dialog still gets a list, so it never says "all the tests"
    assert len(dialog_results({"selfcheck": dict(selfcheck)})["failed"]) == 1
    # edited test cells: nbgrader's own warning, unchanged
    changed = {"changed": [{"source": "assert True"}], "selfcheck": dict(selfcheck)}
    assert dialog_results(changed) == {"changed": [{"source": "assert True"}]}


def graded(source, points, grade_id):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": False,
                                 "points": points, "grade_id": grade_id, "schema_version": 3}
    return cell


@pytest.mark.slow
def test_the_validator_counts_visible_test_cells_and_points(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("value = 3"),
        graded("assert value == 3", 2, "t-passes"),
        graded("assert value == 4, f'value is {value}, expected 4'", 3, "t-fails"),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, path)
    results = SelfCheckValidator().validate(str(path))
    assert results["selfcheck"]["summary"] == "Visible tests: 1/2 test cells passed (2/5 points)"
    assert [cell["source"] for cell in results["failed"]] == ["assert value == 4, f'value is {value}, expected 4'"]
    answer = dialog_results(results)
    assert [entry["source"] for entry in answer["failed"]][0].startswith("Visible tests: 1/2")
