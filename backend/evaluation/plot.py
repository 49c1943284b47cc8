"""`python -m backend plot`: a motion clip drawn over its audio, for eyes rather than numbers.

Four rows share one time axis: the waveform with the phone timeline (bilabials and open vowels coloured, since
those are what lip sync is judged on), the most active expression channels, the jaw opening, and the head angles.
With a second clip to compare (the same speech in another style, say), it is drawn dashed in the same colours, and
the expression row shows the channels where the two differ most on average instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.clips import MotionClip
from backend.core.files import write_atomically
from backend.core.phones import BILABIALS, OPEN_VOWELS, SILENCE, Phone

MAX_CHANNEL_LINES = 8


def plot_clip(
    clip: MotionClip,
    out_path: str | Path,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    phones: list[Phone] | None = None,
    title: str | None = None,
    compare: tuple[str, MotionClip] | None = None,
    label: str = "",
) -> Path:
    """`compare`: (its label, a clip at the same fps) drawn dashed over `clip` (solid, called `label`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = np.arange(clip.n_frames) / clip.fps
    rows = 4 if audio is not None or phones else 3
    fig, axes = plt.subplots(rows, 1, figsize=(12, 2.2 * rows + 0.6), sharex=True, constrained_layout=True)
    axes = list(axes)
    if rows == 4:
        draw_audio_and_phones(axes.pop(0), audio, sample_rate, phones)
    if compare is None:
        draw_channels(axes[0], times, clip)
    else:
        draw_channel_differences(axes[0], clip, compare[1])
    clips = [(clip, "-")] + ([(compare[1], "--")] if compare else [])
    for shown, style in clips:
        shown_times = np.arange(shown.n_frames) / shown.fps
        axes[1].plot(shown_times, np.degrees(shown.jaw[:, 0]), style, color="tab:red")
        for column, (name, colour) in enumerate(
            (("nod x", "tab:blue"), ("turn y", "tab:green"), ("tilt z", "tab:purple"))
        ):
            axes[2].plot(
                shown_times,
                np.degrees(shown.head[:, column]),
                style,
                color=colour,
                label=name if style == "-" else None,
            )
    axes[1].set_ylabel("jaw open (deg)")
    axes[2].set_ylabel("head (deg)")
    if compare:
        axes[0].set_title(f"solid: {label}, dashed: {compare[0]}", fontsize=8, loc="left")
    axes[2].legend(loc="upper right", fontsize=7, ncol=3)
    axes[2].set_xlabel("time (s)")
    fig.suptitle(title or f"{clip.n_frames} frames at {clip.fps:g} fps", fontsize=10)
    return save_figure_atomically(fig, Path(out_path))


def draw_audio_and_phones(ax, audio: np.ndarray | None, sample_rate: int, phones: list[Phone] | None) -> None:
    if audio is not None:
        ax.plot(np.arange(len(audio)) / sample_rate, audio, color="0.55", linewidth=0.4)
    for phone in phones or []:
        if phone.phone == SILENCE:
            continue
        colour = "tab:red" if phone.phone in BILABIALS else "tab:orange" if phone.phone in OPEN_VOWELS else None
        if colour:
            ax.axvspan(phone.start, phone.end, color=colour, alpha=0.25, linewidth=0)
        ax.text(
            (phone.start + phone.end) / 2,
            0.92,
            phone.phone,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=6,
            color=colour or "0.2",
        )
    ax.set_ylabel("audio")
    ax.set_title("phones: red = P B M (lips must close), orange = open vowels (jaw must open)", fontsize=8, loc="left")


def draw_channels(ax, times: np.ndarray, clip: MotionClip) -> None:
    """Only the channels that move the most, so a 100-channel FLAME clip stays readable."""
    spread = clip.expression.max(axis=0) - clip.expression.min(axis=0)
    for index in np.argsort(spread)[::-1][:MAX_CHANNEL_LINES]:
        ax.plot(times, clip.expression[:, index], label=clip.expression_names[index], linewidth=1)
    ax.set_ylabel("expression")
    ax.legend(loc="upper right", fontsize=6, ncol=4)


def draw_channel_differences(ax, clip: MotionClip, other: MotionClip) -> None:
    """The channels (of those both clips have) whose mean differs most: clip solid, other dashed, same colour."""
    shared = [name for name in clip.expression_names if name in set(other.expression_names)]
    columns = [(list(clip.expression_names).index(n), list(other.expression_names).index(n)) for n in shared]
    gaps = [abs(clip.expression[:, a].mean() - other.expression[:, b].mean()) for a, b in columns]
    for rank, k in enumerate(np.argsort(gaps)[::-1][: MAX_CHANNEL_LINES // 2]):
        colour = f"C{rank}"
        a, b = columns[k]
        ax.plot(np.arange(clip.n_frames) / clip.fps, clip.expression[:, a], color=colour, label=shared[k], linewidth=1)
        ax.plot(np.arange(other.n_frames) / other.fps, other.expression[:, b], "--", color=colour, linewidth=1)
    ax.set_ylabel("expression")
    ax.legend(loc="upper right", fontsize=6, ncol=4)


def save_figure_atomically(fig, out_path: Path) -> Path:
    import matplotlib.pyplot as plt

    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomically(out_path, lambda f: fig.savefig(f, dpi=110, format=out_path.suffix.lstrip(".") or "png"))
    finally:
        plt.close(fig)
    return out_path
