"""Solving jawOpen and mouthClose for the lip-gap contract on a rig's own lip millimetres (pure numpy)."""

import numpy as np
import pytest

from adamesh_blender.anim.lip_retarget import (
    JAW_GAP_MM_PER_RAD,
    LIP_GAP_MM,
    LipCalibration,
    contract_separation,
    retarget_lips,
)
from backend.core.channels import CHANNELS
from backend.core.lip_gap import JAW_GAP_MM_PER_RAD as BACKEND_JAW_MM
from backend.core.lip_gap import LIP_GAP_MM as BACKEND_LIP_GAP_MM
from backend.core.lip_gap import lip_separation

# Like the ICT head: the jaw opens the midline more than the sides, mouthClose closes more than the jaw opens.
CALIBRATION = LipCalibration(
    rest_mm=(0.76, 0.83, 0.83),
    gains_mm={
        "jawOpen": (32.75, 26.99, 26.99),
        "mouthClose": (-38.94, -36.34, -36.34),
        "mouthPressLeft": (-1.27, -0.47, -1.53),
        "mouthFunnel": (13.73, 9.38, 9.38),
    },
)


def test_the_contract_is_the_backends():
    assert JAW_GAP_MM_PER_RAD == BACKEND_JAW_MM and LIP_GAP_MM == BACKEND_LIP_GAP_MM
    rng = np.random.default_rng(1)
    expression, jaw = rng.uniform(0, 1, (20, len(CHANNELS))), rng.uniform(0, 0.3, (20, 3))
    by_name = {name: expression[:, i] for i, name in enumerate(CHANNELS)}
    np.testing.assert_allclose(contract_separation(by_name, jaw[:, 0]), lip_separation(expression, jaw))


def test_calibration_reads_millimetres_along_z():
    rest = np.array([[0, 0, 0.0010], [0, 0, 0.0002], [0.01, 0, 0.001], [0.01, 0, 0.0]])
    opened = rest + [[0, 0, 0.002], [0, 0, -0.02], [0, 0, 0.0], [0, 0, -0.01]]
    calibration = LipCalibration.from_points(rest, {"jawOpen": opened})
    np.testing.assert_allclose(calibration.rest_mm, (0.8, 1.0))
    np.testing.assert_allclose(calibration.gains_mm["jawOpen"], (22.0, 10.0))


def _gaps(jaw_open, close, others):
    gains = CALIBRATION.gains_mm
    gaps = np.asarray(CALIBRATION.rest_mm) + np.outer(jaw_open, gains["jawOpen"]) + np.outer(close, gains["mouthClose"])
    for key, values in others.items():
        gaps += np.outer(values, gains[key])
    return gaps


def test_closed_frames_meet_within_a_millimetre_and_open_frames_reach_the_contract():
    jaw_x = np.array([0.0, 0.10, 0.20, 0.25, 0.10, 0.20])
    press = np.array([0.0, 0.8, 0.8, 0.0, 0.0, 0.0])
    funnel = np.array([0.0, 0.0, 0.0, 0.0, 0.6, 0.0])
    target = np.array([-0.5, -0.3, -0.2, 16.0, 11.0, 12.0])
    others = {"mouthPressLeft": press, "mouthFunnel": funnel}
    jaw_open, close = retarget_lips(CALIBRATION, jaw_x, target, others, "jawOpen", "mouthClose")
    np.testing.assert_allclose(jaw_open, np.clip(JAW_GAP_MM_PER_RAD * np.sin(jaw_x) / 32.75, 0, 1))
    assert np.all(close >= 0) and np.all(close <= jaw_open)  # ARKit's rule
    gaps = _gaps(jaw_open, close, others)
    closed = target <= 0
    assert np.all(gaps[closed, 0] < 1.0) and np.all(gaps[closed] > -1.0)
    np.testing.assert_allclose(gaps[~closed, 0], target[~closed], atol=1e-9)


def test_a_rig_that_cannot_open_enough_is_left_open_not_pushed_below_zero():
    jaw_open, close = retarget_lips(CALIBRATION, np.array([0.05]), np.array([30.0]), {}, "jawOpen", "mouthClose")
    assert close[0] == 0.0 and jaw_open[0] == pytest.approx(80 * np.sin(0.05) / 32.75)
