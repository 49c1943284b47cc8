"""Evaluation measures on constructed lip gaps, head motion and beats, where the right answer is known."""

from __future__ import annotations

import math

import numpy as np

from backend.core.phones import CLOSE_VOWELS, OPEN_VOWELS, Phone
from backend.evaluation.metrics import (
    BEAT_SIGMA_S,
    beat_alignment,
    closure_rate,
    motion_beats,
    open_close_ratio,
    opening_rate,
    peak_openings,
    pose_diversity_deg,
    usual_opening,
)

FPS = 25.0


def test_closure_counts_a_close_within_40_ms_of_the_phone():
    gap = np.full(50, 8.0)
    phones = [Phone("M", 0.40, 0.48), Phone("P", 1.00, 1.06), Phone("B", 1.60, 1.66)]
    gap[9] = 0.0  # 0.36 s: 40 ms before M -> counts
    gap[23] = 0.5  # 0.92 s: 80 ms before P -> too early
    gap[42] = 0.9  # 1.68 s: inside B's +-40 ms, and below 1 mm
    assert closure_rate(phones, gap, FPS) == (2 / 3, 3)
    assert closure_rate(phones, gap, FPS, frozenset({"M"})) == (1.0, 1)
    assert closure_rate([Phone("AA", 0, 1)], gap, FPS) == (None, 0)
    # a 20 ms phone between two frame instants still gets the nearest frames
    short = np.full(10, 5.0)
    short[3] = 0.0
    assert closure_rate([Phone("P", 0.125, 0.135)], short, FPS) == (1.0, 1)


def test_open_vowels_open_past_half_the_usual_opening():
    gap = np.zeros(40)
    gap[5], gap[20] = 7.0, 4.0
    phones = [Phone("AA", 0.18, 0.24), Phone("AE", 0.78, 0.84), Phone("IY", 1.2, 1.3)]
    assert opening_rate(phones, gap, FPS, usual_opening_mm=10.0) == (0.5, 2)
    assert peak_openings(phones, gap, FPS, OPEN_VOWELS) == [7.0, 4.0]
    assert peak_openings(phones, gap, FPS, CLOSE_VOWELS) == [0.0]
    assert open_close_ratio([8.0, 4.0], [2.0, 1.0]) == 4.0
    assert open_close_ratio([8.0], []) is None


def test_usual_opening_is_a_percentile_over_speech_frames_only():
    gap = np.concatenate([np.full(25, 30.0), np.linspace(0, 10, 25)])  # the first second is silence
    phones = [Phone("SIL", 0, 1.0), Phone("AA", 1.0, 2.0)]
    assert math.isclose(usual_opening([gap], [phones], FPS), np.percentile(np.linspace(0, 10, 25), 95))


def test_motion_beats_are_the_stops_of_a_nod():
    t = np.arange(100) / FPS
    head = np.stack([0.1 * np.sin(2 * np.pi * 1.0 * t), np.zeros_like(t), np.zeros_like(t)], axis=1)
    beats = motion_beats(head, FPS)
    # a 1 Hz nod stops at its extremes: 0.25 s, 0.75 s, ... (within a frame)
    expected = np.arange(0.25, 3.9, 0.5)
    assert len(beats) == len(expected) and np.abs(beats - expected).max() <= 1 / FPS
    assert len(motion_beats(np.zeros((50, 3)), FPS)) == 0
    assert math.isclose(pose_diversity_deg(head), np.degrees(head[:, 0].std()) / 3)


def test_beat_alignment_is_bailandos_score():
    audio = np.array([1.0, 2.0, 3.0])
    assert beat_alignment(audio, audio) == (1.0, 3)
    score, n = beat_alignment(audio, audio + BEAT_SIGMA_S)
    assert n == 3 and math.isclose(score, math.exp(-0.5))
    assert beat_alignment(audio, np.zeros(0)) == (0.0, 3)
    assert beat_alignment(np.zeros(0), audio) == (None, 0)
