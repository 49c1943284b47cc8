"""The worker's `adapt` request, sent by the add-on's client to a real worker process with a tiny trained
checkpoint: progress with steps, the style file it writes, cancellation in the middle, and the artist's errors."""

from __future__ import annotations

import time

import pytest
import soundfile

from adamesh_blender.client import BackendError, JobCancelled, JobState
from backend.audio.decode import load_audio
from backend.clips import MotionClip, load_clip, save_clip
from backend.inference.style_files import load_style

from .conftest import adapt_request as adapt
from .conftest import progress_messages

pytestmark = pytest.mark.slow  # Adapt Style through the real worker


def test_adapt_reports_steps_and_writes_the_style(worker, tiny_checkpoint, reference, tmp_path):
    audio, motion = reference
    out = tmp_path / "speaker.safetensors"
    job = worker.submit(
        *adapt(audio=str(audio), motion=str(motion), out=str(out), checkpoint=str(tiny_checkpoint), steps=30)
    )
    messages = progress_messages(worker, job)
    result = job.outcome()
    assert job.state is JobState.SUCCEEDED and job.fraction == 1.0
    assert result["style"] == str(out) and "steps" in result["summary"] and "pose:" in result["summary"]
    style = load_style(out)  # the backend's own reading of the file the worker wrote
    assert style.name == "test style" and 0 < result["adaptation"]["steps"] <= 30
    assert tuple(result["channels"]) == style.channel_names
    assert any(m.startswith("step ") and "s left" in m for m in messages)
    assert "reading the reference and recognising its phones" in messages  # pocketsphinx ran on the reference
    assert not list(tmp_path.glob(".*.tmp"))


def test_cancel_in_the_middle_of_adapt_stops_within_a_second(worker, tiny_checkpoint, reference, tmp_path):
    audio, motion = reference
    out = tmp_path / "cancelled.safetensors"
    job = worker.submit(
        *adapt(audio=str(audio), motion=str(motion), out=str(out), checkpoint=str(tiny_checkpoint), steps=5000)
    )
    while not job.message.startswith("step "):  # training has started
        worker.pump(0.02)
    cancelled_at = time.monotonic()
    job.cancel()
    with pytest.raises(JobCancelled):
        worker.wait(job, timeout=5)
    assert time.monotonic() - cancelled_at < 1.0 and job.state is JobState.CANCELLED
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    assert worker.request("ping")["jobs"] == []  # the worker serves on


def test_the_artists_mistakes_come_back_as_specific_errors(worker, tiny_checkpoint, reference, tmp_path):
    audio, motion = reference
    short = tmp_path / "short.wav"
    soundfile.write(short, load_audio(audio)[:32000], 16000, subtype="PCM_16")  # 2 s of the 6 s motion
    with pytest.raises(BackendError) as mismatch:
        worker.request(
            *adapt(
                audio=str(short),
                motion=str(motion),
                out=str(tmp_path / "a.safetensors"),
                checkpoint=str(tiny_checkpoint),
            ),
            timeout=60,
        )
    assert mismatch.value.code == "bad_reference" and "lasts 2.00 s but the motion" in str(mismatch.value)
    clip = load_clip(motion)
    short_motion = tmp_path / "short.npz"
    save_clip(
        MotionClip(25.0, clip.expression[:50], clip.expression_names, clip.jaw[:50], clip.head[:50]), short_motion
    )
    with pytest.raises(BackendError) as too_short:
        worker.request(
            *adapt(
                audio=str(short),
                motion=str(short_motion),
                out=str(tmp_path / "b.safetensors"),
                checkpoint=str(tiny_checkpoint),
            ),
            timeout=60,
        )
    assert too_short.value.code == "bad_reference" and "needs at least 3 s" in str(too_short.value)
    with pytest.raises(BackendError) as not_a_style:
        worker.request(
            *adapt(
                audio=str(audio), motion=str(motion), out=str(tmp_path / "style.npz"), checkpoint=str(tiny_checkpoint)
            ),
            timeout=60,
        )
    assert not_a_style.value.code == "bad_request" and ".safetensors" in str(not_a_style.value)
    with pytest.raises(BackendError) as missing:
        worker.request("adapt", {"audio": str(audio), "out": str(tmp_path / "c.safetensors")}, timeout=60)
    assert missing.value.code == "bad_request" and "'motion'" in str(missing.value)
    with pytest.raises(BackendError) as both:
        worker.request(
            "adapt",
            {"video": str(audio), "audio": str(audio), "motion": str(motion), "out": str(tmp_path / "d.safetensors")},
            timeout=60,
        )
    assert both.value.code == "bad_request" and "either 'video' or 'audio' with 'motion'" in str(both.value)
    assert missing.value.traceback is None
