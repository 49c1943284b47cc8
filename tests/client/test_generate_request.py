"""The worker's `generate` request, sent by the add-on's client to a real worker running a tiny trained checkpoint:
the clip it writes, progress, cancellation, and the errors the artist sees."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile

from adamesh_blender.client import BackendError, JobCancelled, JobState
from backend.audio.frames import motion_frame_count
from backend.clips import load_clip
from backend.core.channels import CHANNELS

from .conftest import generate_request as generate
from .conftest import progress_messages

pytestmark = pytest.mark.slow  # the real worker on a trained checkpoint

NTSC_30 = 30 / 1.001  # what the add-on sends for a 29.97 fps scene: fps / fps_base


def test_the_clip_has_one_row_per_scene_frame_of_the_sound(worker, tiny_checkpoint, heldout_speech, tmp_path):
    audio, duration = heldout_speech
    out = tmp_path / "speech.npz"
    job = worker.submit(
        *generate(
            audio=str(audio), out=str(out), fps=NTSC_30, checkpoint=str(tiny_checkpoint), rig_channels=CHANNELS[:-2]
        )
    )
    messages = progress_messages(worker, job)
    result = job.outcome()
    clip = load_clip(out)  # the backend's own validation of the written file
    assert result["clip"] == str(out)
    assert result["frames"] == clip.n_frames == motion_frame_count(duration, NTSC_30)
    assert result["fps"] == pytest.approx(30000 / 1001) and clip.fps == pytest.approx(30000 / 1001)
    assert result["seconds"] == pytest.approx(clip.n_frames / clip.fps)
    assert tuple(result["channels"]) == tuple(clip.expression_names) == CHANNELS
    assert np.ptp(clip.jaw[:, 0]) > 0.05  # speech opens and closes the jaw
    # the rig lacks the last two channels: the note names them before the add-on tries to key them
    (note,) = result["notes"]
    assert "no shape key for 2 of the clip's 37 channels" in note and CHANNELS[-1] in note
    assert "recognising phones" in messages and "expression" in messages and job.fraction == 1.0
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temp file left beside it


def test_the_same_request_gives_the_same_clip(worker, tiny_checkpoint, heldout_speech, tmp_path):
    """The checkpoint stays loaded between requests; reusing it must not change the result."""
    audio, _ = heldout_speech
    clips = []
    for name in ("first", "second"):
        out = tmp_path / f"{name}.npz"
        worker.request(
            *generate(audio=str(audio), out=str(out), fps=24.0, checkpoint=str(tiny_checkpoint), seed=3), timeout=120
        )
        clips.append(load_clip(out))
    np.testing.assert_array_equal(clips[0].expression, clips[1].expression)
    np.testing.assert_array_equal(clips[0].head, clips[1].head)


@pytest.mark.parametrize(
    "change, code, words",
    [
        ({"audio": "missing.wav"}, "bad_audio", "does not exist"),
        ({"audio": "notes.wav"}, "bad_audio", "notes.wav"),
        ({"fps": 0.0}, "bad_request", "'fps' must be a positive frame rate"),
        ({"out": "no-such-folder/clip.npz"}, "bad_request", "folder"),
        ({"checkpoint": "missing.safetensors"}, "bad_checkpoint", "missing.safetensors does not exist"),
        ({"style": "missing-style.safetensors"}, "bad_style", "missing-style.safetensors does not exist"),
    ],
)
def test_what_the_artist_can_fix_comes_back_as_a_coded_error(
    worker, tiny_checkpoint, heldout_speech, tmp_path, change, code, words
):
    (tmp_path / "notes.wav").write_text("meeting notes, not sound")
    fields = {
        "audio": str(heldout_speech[0]),
        "out": str(tmp_path / "clip.npz"),
        "fps": 24.0,
        "checkpoint": str(tiny_checkpoint),
    }
    fields |= {key: str(tmp_path / value) if isinstance(value, str) else value for key, value in change.items()}
    with pytest.raises(BackendError) as caught:
        worker.request(*generate(**fields), timeout=120)
    assert caught.value.code == code and words in str(caught.value)
    assert caught.value.traceback is None  # the artist's problem, not a bug
    assert not (tmp_path / "clip.npz").exists()


def test_cancel_stops_generation_writes_nothing_and_the_worker_serves_on(
    worker, tiny_checkpoint, heldout_corpus, heldout_speech, tmp_path
):
    # every held-out utterance in one file (~20 s): recognising its phones alone takes seconds
    waves = [soundfile.read(path)[0] for path in sorted((heldout_corpus / "audio").iterdir())]
    long_audio = tmp_path / "long.wav"
    soundfile.write(long_audio, np.concatenate(waves), soundfile.info(heldout_speech[0]).samplerate)
    out = tmp_path / "long.npz"
    job = worker.submit(*generate(audio=str(long_audio), out=str(out), fps=25.0, checkpoint=str(tiny_checkpoint)))
    while job.message == "":
        worker.pump(0.05)
    job.cancel()
    cancelled_at = time.monotonic()
    with pytest.raises(JobCancelled):
        worker.wait(job, timeout=30)
    assert job.state is JobState.CANCELLED and time.monotonic() - cancelled_at < 5.0
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    short = tmp_path / "short.npz"
    worker.request(
        *generate(audio=str(heldout_speech[0]), out=str(short), fps=25.0, checkpoint=str(tiny_checkpoint)), timeout=120
    )
    assert load_clip(short).n_frames > 0
