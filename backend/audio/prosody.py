"""Loudness and voice pitch per motion frame: what couples synthetic head motion to speech.

Both follow the frame convention of frames.py: motion frame i stands for [t_i - 0.5/fps, t_i + 0.5/fps).
Loudness is the RMS level of exactly that interval's samples. Pitch is estimated on the 100 Hz grid of mel.py
(librosa.yin over a 40 ms window centred on each grid instant) and each motion frame takes the grid frames
centred inside its interval: voiced when at least half of them are, pitch the median of the voiced ones.

YIN always returns a period, even for noise, so voicing is decided apart: a grid frame is voiced when the
signal correlates with itself one estimated period later (normalised correlation over a window centred on the
grid instant) and is not near silence. pyin would give voicing too, but measured 13x real time here (about
100x at its coarsest settings); this runs at several hundred times real time.
"""

from __future__ import annotations

import numpy as np

from backend.audio.frames import motion_frame_intervals, motion_frame_times
from backend.audio.mel import GRID_RATE, HOP_LENGTH, SAMPLE_RATE, grid_frame_blocks, grid_frame_count

LOUDNESS_FLOOR_DB = -100.0  # digital silence; 16-bit dither sits at about -101 dBFS
PITCH_FMIN = 60.0  # lowest speaking fundamental (deep male voices); the 40 ms window holds 2.4 of its periods
PITCH_FMAX = 500.0  # highest speaking fundamental (children, raised voices)
VOICED_MIN_CORRELATION = 0.5  # periodic enough to be a voice: vowels ~0.8-1.0, fricatives and noise ~0
VOICED_MIN_DB = -50.0  # quieter frames are pauses: keeps mains hum and room tone from counting as voice

_PITCH_FRAME_LENGTH = 640  # 40 ms
_PITCH_BLOCK_FRAMES = 3000  # 30 s of grid frames per block: bounds memory on long audio
_INTERVAL_BLOCK_FRAMES = 2048  # motion frames per block of the loudness sums


def frame_loudness_db(wave: np.ndarray, sample_rate: int, fps: float, num_frames: int) -> np.ndarray:
    """RMS level (dB re full scale, float32 [T], >= LOUDNESS_FLOOR_DB) of the samples in each frame's interval.

    Intervals are cut at the ends of the wave (frame 0 has half an interval of sound); frames with no samples
    left are silent.
    """
    wave = _checked_wave(wave, sample_rate)
    starts, ends = (np.clip(_first_sample_at(edge), 0, len(wave)) for edge in motion_frame_intervals(num_frames, fps))
    mean_square = np.zeros(num_frames)
    for first in range(0, num_frames, _INTERVAL_BLOCK_FRAMES):
        block = slice(first, first + _INTERVAL_BLOCK_FRAMES)
        origin = starts[first]
        segment = wave[origin : ends[block][-1]].astype(np.float64)
        energy = np.concatenate([[0.0], np.cumsum(np.square(segment))])
        counts = ends[block] - starts[block]
        sums = energy[ends[block] - origin] - energy[starts[block] - origin]
        mean_square[block] = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    floor = 10 ** (LOUDNESS_FLOOR_DB / 10)
    return (10 * np.log10(np.maximum(mean_square, floor))).astype(np.float32)


def frame_pitch_hz(wave: np.ndarray, sample_rate: int, fps: float, num_frames: int) -> np.ndarray:
    """Voice pitch (Hz, float32 [T]) of each motion frame, 0 where the frame is unvoiced (never NaN)."""
    return _pitch_per_motion_frame(pitch_on_grid(_checked_wave(wave, sample_rate)), num_frames, fps)


def pitch_on_grid(wave: np.ndarray) -> np.ndarray:
    """Voice pitch (Hz, float32 [N]) of a mono SAMPLE_RATE wave on the 100 Hz grid, 0 where unvoiced."""
    import librosa  # lazy: costs ~1 s to import

    count = grid_frame_count(len(wave))
    pitch = np.zeros(count, dtype=np.float32)
    for first, segment in grid_frame_blocks(wave, _PITCH_FRAME_LENGTH, _PITCH_BLOCK_FRAMES):
        f0 = librosa.yin(
            segment,
            fmin=PITCH_FMIN,
            fmax=PITCH_FMAX,
            sr=SAMPLE_RATE,
            frame_length=_PITCH_FRAME_LENGTH,
            hop_length=HOP_LENGTH,
            center=False,
        )
        frames = librosa.util.frame(segment, frame_length=_PITCH_FRAME_LENGTH, hop_length=HOP_LENGTH)
        level_db = 10 * np.log10(np.maximum(np.mean(np.square(frames), axis=0), 1e-20))
        is_voiced = (_period_correlation(frames, SAMPLE_RATE / f0) >= VOICED_MIN_CORRELATION) & (
            level_db >= VOICED_MIN_DB
        )
        pitch[first : first + len(f0)] = np.where(is_voiced, f0, 0.0)
    return pitch


def _period_correlation(frames: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Normalised correlation of each frame (column) with itself one period later, over a centred window.

    Window a = frame[o : o+W] and b = frame[o+P : o+P+W] with o = (L - W - P) / 2, so a and b together span
    the frame's middle, centred on its grid instant; W is what fits for the longest period.
    """
    length = frames.shape[0]
    lag = np.clip(np.rint(period).astype(np.int64), 1, int(np.ceil(SAMPLE_RATE / PITCH_FMIN)))
    window = length - int(np.ceil(SAMPLE_RATE / PITCH_FMIN))
    start = (length - window - lag) // 2
    rows = start[None, :] + np.arange(window)[:, None]
    columns = np.arange(frames.shape[1])[None, :]
    a, b = frames[rows, columns], frames[rows + lag[None, :], columns]
    energy = np.sqrt(np.sum(np.square(a), axis=0) * np.sum(np.square(b), axis=0))
    return np.sum(a * b, axis=0) / np.maximum(energy, 1e-20)


def _pitch_per_motion_frame(grid_pitch: np.ndarray, num_frames: int, fps: float) -> np.ndarray:
    """Aggregate grid pitch over each motion frame's interval (module docstring); 0 where unvoiced."""
    count = len(grid_pitch)
    starts, ends = motion_frame_intervals(num_frames, fps)
    first = np.clip(_first_grid_frame_at(starts), 0, count)
    stop = np.clip(_first_grid_frame_at(ends), 0, count)
    # Above 100 fps an interval may hold no grid instant: it takes the nearest grid frame instead.
    nearest = np.rint(motion_frame_times(num_frames, fps) * GRID_RATE).astype(np.int64)
    empty = (stop <= first) & (nearest < count)
    first, stop = np.where(empty, nearest, first), np.where(empty, nearest + 1, stop)

    width = max(int(np.max(stop - first, initial=0)), 1)
    index = first[:, None] + np.arange(width)[None, :]
    inside = index < stop[:, None]
    index = np.minimum(index, count - 1)
    is_voiced = (grid_pitch[index] > 0) & inside
    voiced_count = is_voiced.sum(axis=1)
    voiced = (voiced_count > 0) & (2 * voiced_count >= inside.sum(axis=1))

    values = np.sort(np.where(is_voiced, grid_pitch[index], np.inf), axis=1)  # voiced values first, ascending
    low, high = np.maximum(voiced_count - 1, 0) // 2, voiced_count // 2
    rows = np.arange(num_frames)
    median = 0.5 * (values[rows, low] + values[rows, high])
    return np.where(voiced, median, 0.0).astype(np.float32)


def _checked_wave(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"prosody needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz: decode with load_audio()")
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"prosody needs a mono 1-D wave, got shape {wave.shape}")
    return wave


def _first_sample_at(seconds: np.ndarray) -> np.ndarray:
    """Index of the first audio sample at or after each instant (tolerant of float rounding)."""
    return np.ceil(seconds * SAMPLE_RATE - 1e-6).astype(np.int64)


def _first_grid_frame_at(seconds: np.ndarray) -> np.ndarray:
    """Index of the first grid frame centred at or after each instant (tolerant of float rounding)."""
    return np.ceil(seconds * GRID_RATE - 1e-6).astype(np.int64)
