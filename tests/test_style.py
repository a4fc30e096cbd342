"""Projector mode: one explicit call makes every later book figure bigger; nothing on import."""

import matplotlib as mpl
import pytest

from mini_vllm import plots, style
from mini_vllm.catalog import get_model
from mini_vllm.hardware import get_gpu
from mini_vllm.widgets import explore_kv_growth


@pytest.fixture
def restore_rc():
    saved = {k: mpl.rcParams[k] for k in ("font.size", "lines.linewidth")}
    yield
    mpl.rcParams.update(saved)


def test_importing_the_package_leaves_rcparams_alone(restore_rc):
    assert style.figure_scale() == 1.0
    assert style.figure_dpi() == style.DPI


def test_projector_mode_scales_plots_and_widget_redraws(restore_rc):
    normal = plots.plot_kv_growth(get_model("Llama-3-8B"), get_gpu("H100 SXM5 80GB")).figure
    widget = explore_kv_growth(show=False)
    normal_png = widget.snapshot().data
    style.projector_mode(True)
    big = plots.plot_kv_growth(get_model("Llama-3-8B"), get_gpu("H100 SXM5 80GB")).figure
    assert big.dpi == pytest.approx(normal.dpi * style.PROJECTOR_SCALE)
    widget.redraw()
    assert len(widget.snapshot().data) > len(normal_png)
    assert mpl.rcParams["lines.linewidth"] == pytest.approx(
        mpl.rcParamsDefault["lines.linewidth"] * style.PROJECTOR_SCALE)
    style.projector_mode(False)
    assert style.figure_dpi() == style.DPI
    assert plots.plot_kv_growth(get_model("Llama-3-8B"), get_gpu("H100 SXM5 80GB")).figure.dpi == normal.dpi
