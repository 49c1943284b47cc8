"""Reliability, audio: every kind of sound file the artist may hand to Generate Animation, sent by the add-on's client
to a real worker running a tiny checkpoint. A usable file gives one clip row per scene frame of its sound (with a
note when something about it is worth knowing); an unusable one gives a bad_audio error naming the file and what
to do, and leaves no clip, no temp file and no child process behind. docs/reliability.md lists the outcomes."""

from __future__ import annotations

import wave as stdlib_wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from adamesh_blender.client import BackendError
from backend.audio.frames import motion_frame_count
from backend.clips import load_clip
from backend.core.lip_gap import lip_gap
from tests.media import write_media, write_silent_video

from .conftest import assert_nothing_left, assert_one_line_error, generate_request, run_cli

pytestmark = pytest.mark.slow  # the real worker on a trained checkpoint, an hour of audio

FPS = 24.0


@pytest.fixture(scope="module")
def speech(heldout_speech) -> np.ndarray:
    """A held-out utterance of synthetic speech, 16 kHz mono."""
    wave, rate = soundfile.read(heldout_speech[0], dtype="float32")
    assert rate == 16000
    return wave


def at_rate(wave: np.ndarray, rate: int) -> np.ndarray:
    return wave if rate == 16000 else soxr.resample(wave, 16000, rate)


def written(codec: str, rate: int = 44100, channels: int = 1, **options):
    """A maker of `speech` encoded with `codec` at `rate` over `channels` (the voice in every one; 5.1: LFE silent)."""

    def make(path: Path, wave: np.ndarray) -> Path:
        mono = at_rate(wave, rate)
        stacked = np.stack([mono] * channels)
        if channels == 6:
            stacked[3] = 0.0  # the subwoofer channel carries no voice
        return write_media(path, stacked, rate, codec, **options)

    return make


# name, maker(path, speech) -> path of the file to generate from
USABLE = {
    "speech 8 kHz.wav": written("pcm_s16le", 8000),
    "speech 96 kHz.wav": written("pcm_s24le", 96000),
    "stereo.wav": written("pcm_s16le", 44100, channels=2),
    "six channels.wav": written("pcm_s16le", 48000, channels=6),
    "speech.mp3": written("libmp3lame", 44100),
    "speech.ogg": written("libopus", 48000),
    "speech.flac": written("flac", 44100),
    "take.mp4": written("aac", 44100, video=True),
    "prise de son été/Stimme 声音 take 1.wav": written("pcm_s16le", 16000),
}


def send(worker, audio: Path, out: Path, checkpoint: Path) -> dict:
    return worker.request(
        *generate_request(audio=str(audio), out=str(out), fps=FPS, checkpoint=str(checkpoint)), timeout=120
    )


@pytest.mark.parametrize("name", list(USABLE))
def test_every_usable_kind_of_sound_file_gives_a_clip_of_its_length(
    module_worker, worker_temp_dir, tiny_checkpoint, speech, tmp_path, name
):
    audio = USABLE[name](tmp_path / name if "/" not in name else _folder(tmp_path, name), speech)
    folder = audio.parent
    out = folder / "motion ü.npz"
    result = send(module_worker, audio, out, tiny_checkpoint)
    clip = load_clip(out)  # the backend's own validation of what the worker wrote
    seconds = len(speech) / 16000
    # codecs pad or trim their ends by at most a frame of their own (AAC, Opus: ~20 ms)
    assert abs(result["seconds"] - seconds) < 0.05 and result["frames"] == clip.n_frames
    assert clip.n_frames in {motion_frame_count(seconds + d, FPS) for d in np.linspace(-0.05, 0.05, 11)}
    assert result["notes"] == []
    assert np.ptp(clip.jaw[:, 0]) > 0.02  # the speech moves the jaw in every format
    assert_nothing_left(module_worker, worker_temp_dir, folder, {audio.name, out.name})


def _folder(tmp_path: Path, name: str) -> Path:
    folder, file = name.split("/")
    (tmp_path / folder).mkdir()
    return tmp_path / folder / file


def test_silence_gives_a_resting_mouth_and_says_the_file_is_silent(module_worker, speech, tmp_path):
    """With the starter checkpoint (the tiny one is trained too briefly to have learnt a resting mouth). The model's
    own output is kept (no rest pose is pasted in): on silence it is a still, resting mouth."""
    silent = tmp_path / "room tone.wav"
    soundfile.write(silent, np.zeros(3 * 16000, dtype=np.float32), 16000, subtype="PCM_16")
    spoken = tmp_path / "speech.wav"
    soundfile.write(spoken, speech, 16000, subtype="PCM_16")
    gaps, jaws, notes = {}, {}, {}
    for audio in (silent, spoken):
        out = audio.with_suffix(".npz")
        result = module_worker.request(*generate_request(audio=str(audio), out=str(out), fps=FPS), timeout=120)
        clip = load_clip(out)
        gaps[audio] = lip_gap(clip.expression, clip.jaw)  # inner-lip opening in mm, the demo head's contract
        jaws[audio] = clip.jaw[:, 0]
        notes[audio] = result["notes"]
    (note,) = notes[silent]
    assert "room tone.wav is silent (peak -inf dBFS): the mouth stays at rest" in note and notes[spoken] == []
    assert len(gaps[silent]) == motion_frame_count(3.0, FPS)
    # at rest: the lips stay within a hair of closing (the starter: ~1.1 mm, the contract's "closed" is < 1 mm) and
    # never open the way speech opens them (median ~3.3 mm), and the jaw keeps still
    assert np.percentile(gaps[silent], 95) < 0.5 * np.median(gaps[spoken])
    assert np.ptp(jaws[silent]) < 0.3 * np.ptp(jaws[spoken])


def test_clipped_speech_still_animates_like_the_clean_speech(module_worker, tiny_checkpoint, speech, tmp_path):
    clean, clipped = tmp_path / "clean.wav", tmp_path / "clipped.wav"
    soundfile.write(clean, speech, 16000, subtype="PCM_16")
    loud = np.clip(speech * (4.0 / np.abs(speech).max()), -1.0, 1.0)  # a quarter of the range and more flattened
    assert np.mean(np.abs(loud) >= 1.0) > 0.01
    soundfile.write(clipped, loud, 16000, subtype="PCM_16")
    result = send(module_worker, clipped, tmp_path / "clipped.npz", tiny_checkpoint)
    send(module_worker, clean, tmp_path / "clean.npz", tiny_checkpoint)
    assert result["notes"] == []
    clean_jaw = load_clip(tmp_path / "clean.npz").jaw[:, 0]
    clipped_jaw = load_clip(tmp_path / "clipped.npz").jaw[:, 0]
    assert np.corrcoef(clean_jaw, clipped_jaw)[0, 1] > 0.7  # the same openings at the same frames


def test_a_truncated_file_animates_what_decodes_and_says_so(
    module_worker, worker_temp_dir, tiny_checkpoint, speech, tmp_path
):
    whole = tmp_path / "whole.wav"
    soundfile.write(whole, np.tile(speech, 2), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])  # a copy that stopped at 60 %
    whole.unlink()
    result = send(module_worker, cut, tmp_path / "cut.npz", tiny_checkpoint)
    (note,) = result["notes"]
    assert note.startswith("cut.wav looks truncated (its header declares") and "copy or export the file again" in note
    assert result["seconds"] == pytest.approx(2 * len(speech) / 16000 * 0.6, abs=0.05)
    assert_nothing_left(module_worker, worker_temp_dir, tmp_path, {"cut.wav", "cut.npz"})


def _header_only_wav(path: Path, wave: np.ndarray) -> Path:
    with stdlib_wave.open(str(path), "wb") as header_only:  # FFmpeg writes no file without packets; the stdlib does
        header_only.setnchannels(1)
        header_only.setsampwidth(2)
        header_only.setframerate(16000)
    return path


def _nan_wav(path: Path, wave: np.ndarray) -> Path:
    broken = wave.copy()
    broken[len(broken) // 2 :] = np.nan  # a faulty tool's float export
    return write_media(path, broken, 16000, "pcm_f32le")


def _cut(fraction: float, maker):
    def make(path: Path, wave: np.ndarray) -> Path:
        whole = maker(path.with_name("whole" + path.suffix), wave)
        path.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * fraction)])
        whole.unlink()
        return path

    return make


def _write(data: bytes):
    def make(path: Path, wave: np.ndarray) -> Path:
        path.write_bytes(data)
        return path

    return make


# name, maker, words the message must hold (besides the file's name)
UNUSABLE = {
    "empty.wav": (_write(b""), "is empty (0 bytes): it holds no sound. Export or copy the sound again"),
    "zero length.wav": (_header_only_wav, "holds no sound (0 samples): the recording is empty"),
    "nan.wav": (_nan_wav, "holds invalid samples (NaN or infinity) near"),
    "no sound.mp4": (
        lambda path, wave: write_silent_video(path),
        "has no audio track (it holds: video (mpeg4)). Choose a file with sound",
    ),
    "stub.wav": (_cut(0.1, written("pcm_s16le", 16000)), "is truncated or damaged"),
    "unfinished.mp4": (_cut(0.7, written("aac", 44100, video=True)), "damaged or incomplete"),
    "photo.mp3": (
        _write(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()),
        "does not recognise it as an audio or video file",
    ),
    "missing.wav": (None, "does not exist"),
}


@pytest.mark.parametrize("name", list(UNUSABLE))
def test_an_unusable_file_is_named_with_what_to_do_and_nothing_is_left(
    module_worker, worker_temp_dir, tiny_checkpoint, speech, tmp_path, name
):
    maker, words = UNUSABLE[name]
    audio = tmp_path / name if maker is None else maker(tmp_path / name, speech)
    out = tmp_path / "clip.npz"
    with pytest.raises(BackendError) as caught:
        send(module_worker, audio, out, tiny_checkpoint)
    assert caught.value.code == "bad_audio" and caught.value.traceback is None
    assert words in str(caught.value) and name in str(caught.value)
    assert_nothing_left(module_worker, worker_temp_dir, tmp_path, set() if maker is None else {name})
    assert module_worker.request("ping")["jobs"] == []  # the worker serves on


def test_an_hour_of_audio_decodes_in_bounded_memory(start_worker, hour_of_audio):
    """The decoded hour at 16 kHz is 230 MB of float32 and nothing else may grow with it: no copy at the source rate
    (44.1 kHz: 635 MB), no list of frames. A fresh worker (no torch loaded) measures its own peak resident memory.
    Generating from the hour is measured by `python -m backend bench generate --memory-minutes 60` (README)."""
    worker = start_worker()
    baseline_kb = _status_kb(worker.pid, "VmRSS")
    result = worker.request("probe_audio", {"path": str(hour_of_audio)}, timeout=120)
    assert result["duration"] == pytest.approx(3600.0, abs=2.0)  # each repeated 10 s piece carries encoder padding
    decoded_mb = 3600 * 16000 * 4 / 2**20
    growth_mb = (_status_kb(worker.pid, "VmHWM") - baseline_kb) / 1024
    assert growth_mb < decoded_mb + 120, f"peak grew by {growth_mb:.0f} MB for {decoded_mb:.0f} MB of samples"


def _status_kb(pid: int, field: str) -> int:
    """A memory figure of a process, in kB, from /proc/PID/status (VmRSS now, VmHWM its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def test_the_command_line_gives_the_same_message(tiny_checkpoint, speech, tmp_path):
    name = "nan.wav"
    maker, words = UNUSABLE[name]
    audio = maker(tmp_path / name, speech)
    run = run_cli(
        "generate", "--audio", str(audio), "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "clip.npz")
    )
    assert_one_line_error(run, words)
    assert {p.name for p in tmp_path.iterdir()} == {name}
