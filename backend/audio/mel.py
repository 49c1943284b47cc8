"""Log-mel features on the 100 Hz analysis grid.

The analysis grid is the one time convention of every 100 Hz audio feature in the backend (mel, pitch):
grid frame j is centred on the instant ``j / GRID_RATE`` seconds, i.e. on sample ``j * HOP_LENGTH``, and a wave
of S samples has ``1 + S // HOP_LENGTH`` grid frames (librosa's ``center=True`` with zero padding). Motion frames
are mapped onto this grid in frames.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

SAMPLE_RATE = 16000  # every feature in the backend is computed at this rate; decode.py resamples to it
HOP_LENGTH = 160  # 10 ms
GRID_RATE = SAMPLE_RATE // HOP_LENGTH  # 100 grid frames per second
N_FFT = 512  # next power of two above the window: 31.25 Hz bins
WIN_LENGTH = 400  # 25 ms Hann window, centred inside the n_fft frame
N_MELS = 80
FMIN = 20.0  # below the lowest voice fundamental; drops DC and rumble
FMAX = 8000.0  # Nyquist at 16 kHz
# log(mel + LOG_FLOOR): a floor of 1e-6 sits where white noise at about -67 dBFS RMS lands in these (Slaney
# area-normalised) bands, about 50 dB under normal speech. Soft consonants stay above it, while room noise,
# dither and digital silence all map to about the same value, so recordings with different noise floors look
# alike to the models. Adding (rather than clamping) keeps the curve smooth near the floor.
LOG_FLOOR = 1e-6

_BLOCK_FRAMES = 6000  # 60 s per STFT block: bounds memory on hour-long audio (a full STFT would be ~1 GB)


def grid_frame_count(num_samples: int) -> int:
    """Number of 100 Hz grid frames for a wave of `num_samples` samples (frames centred on 0, 10 ms, ...)."""
    return 1 + num_samples // HOP_LENGTH


def grid_frame_times(num_frames: int) -> np.ndarray:
    """Centre instant (seconds) of each grid frame: ``j / GRID_RATE``."""
    return np.arange(num_frames) / GRID_RATE


def grid_frame_blocks(
    wave: np.ndarray, frame_length: int, block_frames: int = _BLOCK_FRAMES
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_grid_frame, segment)`` covering the grid in blocks of at most `block_frames` frames.

    Framing a segment with `frame_length` and HOP_LENGTH (no centring) gives exactly that block's grid frames,
    each centred on its grid instant, with zeros beyond the ends of the wave: the same frames as framing the
    whole zero-padded wave, without ever padding or framing the whole wave at once.
    """
    total = grid_frame_count(len(wave))
    lead = frame_length // 2
    for first in range(0, total, block_frames):
        count = min(block_frames, total - first)
        start = first * HOP_LENGTH - lead
        stop = start + (count - 1) * HOP_LENGTH + frame_length
        segment = np.zeros(stop - start, dtype=np.float32)
        inside_start, inside_stop = max(start, 0), min(stop, len(wave))
        if inside_stop > inside_start:
            segment[inside_start - start : inside_stop - start] = wave[inside_start:inside_stop]
        yield first, segment


def log_mel(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Log-mel spectrogram ``[N, N_MELS]`` float32 of a mono wave, N = grid_frame_count(len(wave)).

    Row j describes the 25 ms window centred on j * 10 ms. `sample_rate` must be SAMPLE_RATE: it is asked for
    so that a caller holding audio at another rate fails loudly instead of getting features on a wrong grid.
    """
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"log_mel needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz: decode with load_audio()")
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"log_mel needs a mono 1-D wave, got shape {wave.shape}")
    if not np.isfinite(wave).all():
        raise ValueError("log_mel got NaN or infinite samples")
    import librosa  # lazy: importing librosa costs ~1 s and is not needed by callers that only decode

    filters = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX).astype(np.float32)
    out = np.empty((grid_frame_count(len(wave)), N_MELS), dtype=np.float32)
    for first, segment in grid_frame_blocks(wave, N_FFT):
        spectrum = librosa.stft(
            segment, n_fft=N_FFT, hop_length=HOP_LENGTH, win_length=WIN_LENGTH, window="hann", center=False
        )
        power = np.square(np.abs(spectrum))
        block = (filters @ power).T
        out[first : first + len(block)] = np.log(block + LOG_FLOOR)
    return out
