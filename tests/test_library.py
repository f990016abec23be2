"""The small library pieces: data generators, plots, the seed, the project layout."""

import numpy as np
import pytest

from tfclinic import data
from tfclinic.errors import TfclinicError
from tfclinic.plots import plot_loss_curves
from tfclinic.project import check_lesson, lessons, project_root
from tfclinic.runtime import DEFAULT_SEED, lesson_seed


def test_generators_are_seeded_and_typed():
    x1, y1, w1 = data.linear_regression(64, 5, seed=3)
    x2, y2, w2 = data.linear_regression(64, 5, seed=3)
    assert x1.shape == (64, 5) and y1.shape == (64,) and w1.shape == (5,)
    assert x1.dtype == y1.dtype == np.float32
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(x1, data.linear_regression(64, 5, seed=4)[0])
    np.testing.assert_allclose(y1, x1 @ w1, atol=0.5)


def test_sensor_table_columns_in_order():
    table, y = data.sensor_table(10, 3, seed=0)
    assert list(table) == ["sensor_00", "sensor_01", "sensor_02"]
    assert all(column.shape == (10,) for column in table.values()) and y.shape == (10,)


def test_images_have_no_channel_axis_and_two_classes():
    images, labels = data.digit_like_images(40, size=8, seed=1)
    assert images.shape == (40, 8, 8) and set(np.unique(labels)) <= {0, 1}
    assert images.max() == 1.0


def test_plot_draws_one_line_per_curve():
    class History:
        history = {"loss": [3.0, 2.0, 1.0]}

    figure = plot_loss_curves({"broken": [3, 3, 3], "fixed": History()}, log_scale=True)
    axis = figure.axes[0]
    assert [line.get_label() for line in axis.lines] == ["broken", "fixed"]
    assert axis.get_yscale() == "log"
    with pytest.raises(ValueError, match="at least one curve"):
        plot_loss_curves({})


def test_seed_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("TFCLINIC_SEED", raising=False)
    assert lesson_seed() == DEFAULT_SEED
    monkeypatch.setenv("TFCLINIC_SEED", "17")
    assert lesson_seed() == 17
    monkeypatch.setenv("TFCLINIC_SEED", "seventeen")
    with pytest.raises(ValueError, match="must be an integer"):
        lesson_seed()


def test_project_root_and_lessons(project, monkeypatch, tmp_path):
    assert project_root() == project
    assert "shapes" in lessons(project)
    with pytest.raises(TfclinicError, match="unknown lesson 'nope'"):
        check_lesson(project, "nope")
    monkeypatch.setenv("TFCLINIC_ROOT", str(tmp_path))
    with pytest.raises(TfclinicError, match="not a tfclinic checkout"):
        project_root()
