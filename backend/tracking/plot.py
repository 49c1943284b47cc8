"""`track --plot`: a few frames with their landmarks beside the recovered curves (jaw, smile, blinks, head)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.core.channels import CHANNELS
from backend.tracking.video import VideoInfo, read_frames

_SHOWN_FRAMES = 4
_CURVES = (
    ("mouthSmileLeft", "smile left"),
    ("mouthSmileRight", "smile right"),
    ("eyeBlinkLeft", "blink left"),
    ("eyeBlinkRight", "blink right"),
)


def plot_tracking(info: VideoInfo, tracked, out: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from backend.core.files import write_atomically

    clip, fps = tracked.clip, tracked.clip.fps
    first = int(round(tracked.start * fps))
    wanted = {first + int(i) for i in np.linspace(0, clip.n_frames - 1, _SHOWN_FRAMES)}
    pictures = {index: picture for index, picture in read_frames(info) if index in wanted}
    figure = plt.figure(figsize=(12, 7.5), dpi=90)
    grid = figure.add_gridspec(3, _SHOWN_FRAMES, height_ratios=(1.25, 1, 1))
    for column, index in enumerate(sorted(pictures)):
        axes = figure.add_subplot(grid[0, column])
        axes.imshow(pictures[index])
        points = tracked.points[index - first]
        axes.scatter(points[:, 0], points[:, 1], s=0.6, c="#00e0ff", linewidths=0)
        axes.set_title(f"{index / fps:.2f} s", fontsize=9)
        axes.axis("off")
    seconds = tracked.start + np.arange(clip.n_frames) / fps
    mouth = figure.add_subplot(grid[1, :])
    mouth.plot(seconds, np.degrees(clip.jaw[:, 0]), label="jaw opening (deg)", color="black")
    axis2 = mouth.twinx()
    for (name, label), colour in zip(_CURVES, ("#d62728", "#ff9896", "#1f77b4", "#aec7e8")):
        axis2.plot(seconds, clip.expression[:, CHANNELS.index(name)], label=label, color=colour, lw=1)
    axis2.set_ylim(0, 1)
    mouth.legend(loc="upper left", fontsize=8)
    axis2.legend(loc="upper right", fontsize=8, ncol=2)
    head = figure.add_subplot(grid[2, :], sharex=mouth)
    for column, label in enumerate(("pitch (nod)", "yaw (turn)", "roll (tilt)")):
        head.plot(seconds, np.degrees(clip.head[:, column]), label=label, lw=1)
    head.set_ylabel("head (deg)")
    head.set_xlabel("seconds into the video")
    head.legend(loc="upper right", fontsize=8, ncol=3)
    figure.suptitle(f"{info.path.name}: {clip.n_frames} frames at {fps:g} fps", fontsize=11)
    figure.tight_layout()
    out = Path(out)
    write_atomically(out, lambda f: figure.savefig(f, format="png"))
    plt.close(figure)
    return out
