"""Head-motion style as a viewer sees it: how far the head moves about each axis, and at what rhythm.

- amplitude: the standard deviation of the head rotation about each axis (nod x, turn y, tilt z), in degrees, about
  its mean (a tilt held to one side is an offset, not an amplitude; `pose_offset` gives it);
- rhythm: the frequency of the strongest periodic component of an axis between RHYTHM_BAND_HZ, from a Hann-
  windowed periodogram zero-padded to a fine grid (a 10 s clip resolves 0.1 Hz; the peak of the padded spectrum
  places a single sinusoid to a few hundredths of a hertz).

The dominant axis of a reference is the one with the largest rhythmic peak: a person who nods at 0.6 Hz has their
rhythm on x, whatever the other axes do. `compare_pose` reports generated motion against a reference in these terms
(amplitude ratio per axis, rhythm error on the reference's dominant axis); the benchmark and the tests use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.inference.pose_calibration import RHYTHM_BAND_HZ

AXES = ("nod", "turn", "tilt")  # rotation about x, y, z
_FREQUENCY_STEP_HZ = 0.005  # spectrum grid after zero padding


def pose_amplitude(head: np.ndarray) -> np.ndarray:
    """Standard deviation of the rotation about each axis [3], degrees."""
    return np.degrees(np.std(np.asarray(head, np.float64), axis=0))


def pose_offset(head: np.ndarray) -> np.ndarray:
    """Mean rotation about each axis [3], degrees (a head held tilted or turned)."""
    return np.degrees(np.mean(np.asarray(head, np.float64), axis=0))


def rhythm_spectrum(signal: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, amplitude spectrum) of one axis [T] within RHYTHM_BAND_HZ: linear trend removed, Hann window."""
    x = np.asarray(signal, np.float64)
    if len(x) < 4:
        raise ValueError(f"a rhythm needs at least 4 frames, got {len(x)}")
    t = np.arange(len(x))
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    window = np.hanning(len(x))
    n_fft = max(len(x), int(np.ceil(fps / _FREQUENCY_STEP_HZ)))
    spectrum = np.abs(np.fft.rfft(x * window, n_fft)) * 2.0 / window.sum()  # a sinusoid's peak = its amplitude
    frequencies = np.fft.rfftfreq(n_fft, 1.0 / fps)
    band = (frequencies >= RHYTHM_BAND_HZ[0]) & (frequencies <= RHYTHM_BAND_HZ[1])
    return frequencies[band], spectrum[band]


def dominant_rhythm(signal: np.ndarray, fps: float) -> tuple[float, float]:
    """(frequency in Hz, peak amplitude in the signal's units) of one axis's strongest rhythm."""
    frequencies, spectrum = rhythm_spectrum(signal, fps)
    k = int(np.argmax(spectrum))
    return float(frequencies[k]), float(spectrum[k])


def dominant_axis(head: np.ndarray, fps: float) -> int:
    """The axis whose strongest rhythm is largest."""
    return int(np.argmax([dominant_rhythm(head[:, a], fps)[1] for a in range(3)]))


@dataclass(frozen=True)
class PoseComparison:
    amplitude_ratio: tuple[float, float, float]  # generated / reference amplitude per axis
    axis: int  # the reference's dominant rhythm axis (0 nod, 1 turn, 2 tilt)
    reference_hz: float  # the reference's dominant rhythm on that axis
    generated_hz: float  # the generated motion's strongest rhythm on the same axis
    offset_error_deg: tuple[float, float, float]  # generated - reference mean rotation per axis

    @property
    def rhythm_error_hz(self) -> float:
        return self.generated_hz - self.reference_hz

    def to_dict(self) -> dict:
        return {
            "amplitude_ratio": list(self.amplitude_ratio),
            "axis": AXES[self.axis],
            "reference_hz": self.reference_hz,
            "generated_hz": self.generated_hz,
            "rhythm_error_hz": self.rhythm_error_hz,
            "offset_error_deg": list(self.offset_error_deg),
        }


def compare_pose(generated: np.ndarray, reference: np.ndarray, fps: float) -> PoseComparison:
    """Generated head motion [T, 3] (on new speech) against a reference's [T', 3], both radians at `fps`."""
    axis = dominant_axis(reference, fps)
    ratio = pose_amplitude(generated) / np.maximum(pose_amplitude(reference), 1e-9)
    offset = pose_offset(generated) - pose_offset(reference)
    return PoseComparison(
        tuple(float(r) for r in ratio),
        axis,
        dominant_rhythm(reference[:, axis], fps)[0],
        dominant_rhythm(generated[:, axis], fps)[0],
        tuple(float(o) for o in offset),
    )
