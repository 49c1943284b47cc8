"""`python -m backend plot --compare`: a second clip of the same speech drawn over the first."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from backend.clips import MotionClip  # noqa: E402
from backend.evaluation.plot import draw_channel_differences, plot_clip  # noqa: E402


def clip(offsets: dict[str, float], names=("mouthClose", "mouthSmileLeft", "mouthLeft", "jawOpen", "browInnerUp")):
    expression = np.tile([offsets.get(name, 0.0) for name in names], (50, 1)).astype(np.float32)
    expression += np.sin(np.arange(50) / 5.0)[:, None].astype(np.float32) * 0.1
    return MotionClip(
        fps=25.0,
        expression=expression,
        expression_names=list(names),
        jaw=np.zeros((50, 3), np.float32),
        head=np.zeros((50, 3), np.float32),
    )


def test_the_channels_shown_are_those_whose_means_differ_most():
    styled = clip({"mouthSmileLeft": 0.8, "mouthLeft": 0.3, "browInnerUp": 0.05})
    base = clip(
        {"mouthSmileLeft": 0.1, "browInnerUp": 0.1},
        names=("browInnerUp", "mouthSmileLeft", "mouthLeft", "mouthClose", "jawOpen"),
    )
    fig, ax = plt.subplots()
    draw_channel_differences(ax, styled, base)
    shown = [text.get_text() for text in ax.get_legend().get_texts()]
    plt.close(fig)
    assert shown[:3] == ["mouthSmileLeft", "mouthLeft", "browInnerUp"]  # matched by name, not by column
    assert len(shown) == 4


def test_a_comparison_plot_is_written(tmp_path):
    out = plot_clip(clip({"mouthSmileLeft": 0.8}), tmp_path / "curves.png", compare=("base", clip({})), label="styled")
    assert out.stat().st_size > 10_000
