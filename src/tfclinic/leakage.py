"""Checks for leakage between data splits: the test set must hold nothing the model trained on.

The checks here use NumPy only, so the checkup can run them on any pair of arrays before
TensorFlow is even imported.
"""

import numpy as np

_KINDS = {"b": "bool", "i": "signed integer", "u": "unsigned integer", "f": "float"}


def _as_table(name, values):
    array = np.asarray(values)
    if array.dtype.kind not in _KINDS:
        raise TypeError(
            f"shared_rows compares numeric tables, but {name} has dtype {array.dtype}. "
            "Expected bool, integer or float columns; encode text or object columns as "
            "numbers first (for example with np.unique(column, return_inverse=True))."
        )
    if array.ndim != 2:
        hint = (" If each value is one row, pass values.reshape(-1, 1)." if array.ndim == 1 else
                " Flatten each sample first, for example values.reshape(len(values), -1).")
        raise ValueError(
            f"shared_rows expects 2-D tables of shape (rows, columns), but {name} has shape "
            f"{array.shape}.{hint}"
        )
    return array


def _row_keys(table, dtype):
    """One bytes object per row, equal exactly when the rows are equal by content."""
    table = np.array(table, dtype=dtype, order="C", copy=True)
    if table.dtype.kind == "f":
        table += 0.0  # -0.0 + 0.0 is +0.0: the two zeros get the same bytes
        table[np.isnan(table)] = np.nan  # one NaN bit pattern, whatever the sign or payload
    rows = table.view(np.dtype((np.void, table.dtype.itemsize * table.shape[1])))
    return rows.ravel().tolist()


def shared_rows(a, b):
    """Indices of the rows of ``b`` that also occur in ``a``, compared by content.

    Use it to find test rows that are exact copies of training rows, whatever their index:
    ``shared_rows(x_train, x_test)`` should be empty.

    Rows are compared value by value after both tables are converted to their common NumPy
    dtype (``np.result_type(a, b)``), so a float32 row equals the float64 row with the same
    values. Two choices for floats, both made so that a copy of a row is always found:

    - ``-0.0`` and ``0.0`` are the same value (as ``==`` says).
    - ``NaN`` equals ``NaN`` (unlike ``==``): a missing value copied with its row is still
      a copy. All NaNs are alike, whatever their sign or payload bits.

    Args:
        a: the reference table, shape (rows_a, columns); bool, integer or float.
        b: the table to check, shape (rows_b, columns), with the same number of columns.

    Returns:
        The indices ``i`` (ascending, dtype ``np.intp``) such that ``b[i]`` equals some row
        of ``a``. A row of ``b`` that occurs several times is listed at every position.

    Raises:
        TypeError: when a table is not bool, integer or float (text, objects, complex,
            dates, ``np.longdouble``).
        ValueError: when a table is not 2-D, or the two tables have different numbers of
            columns.

    Example:
        >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> b = np.array([[3.0, 4.0], [5.0, 6.0], [1.0, 2.0]])
        >>> shared_rows(a, b)
        array([0, 2])
    """
    a, b = _as_table("a", a), _as_table("b", b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"shared_rows compares rows of equal length, but a has {a.shape[1]} columns and "
            f"b has {b.shape[1]}. Select the same feature columns from both tables."
        )
    dtype = np.result_type(a, b)
    if dtype.kind not in _KINDS or dtype == np.longdouble and dtype.itemsize > 8:
        raise TypeError(
            f"shared_rows cannot compare rows of dtype {dtype} exactly (it has padding bytes "
            "or no exact common type); convert both tables to float64 or an integer type."
        )
    if len(a) == 0 or len(b) == 0:
        return np.zeros(0, dtype=np.intp)
    if a.shape[1] == 0:  # every row is the empty row
        return np.arange(len(b), dtype=np.intp)
    seen = set(_row_keys(a, dtype))
    found = np.fromiter((key in seen for key in _row_keys(b, dtype)), dtype=bool, count=len(b))
    return np.flatnonzero(found).astype(np.intp, copy=False)
