"""Reliability, Adapt Style's reference (speech + the matching facial motion), sent by the add-on's client to a real
worker with a tiny checkpoint: too short, audio and motion of different lengths, invalid numbers, wrong shapes,
another tracker's layout, and pickles, which are refused without ever being loaded. Each gives a bad_reference error
naming the file and what to do, and leaves no style file, no temp file and no child process behind."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile

from adamesh_blender.client import BackendError
from backend.adaptation.reference import MAX_LENGTH_MISMATCH_S, MIN_REFERENCE_SECONDS
from backend.audio.decode import load_audio
from backend.clips import load_clip, save_clip
from backend.inference.style_files import load_style

from .conftest import CodeOnLoad, adapt_request, assert_nothing_left, assert_one_line_error, run_cli

pytestmark = pytest.mark.slow  # Adapt Style references through the real worker


@pytest.fixture
def parts(reference):
    """The reference's speech (16 kHz) and motion clip (25 fps), to cut and break."""
    audio, motion = reference
    return load_audio(audio), load_clip(motion)


def write_audio(path: Path, wave: np.ndarray) -> Path:
    soundfile.write(path, wave, 16000, subtype="PCM_16")
    return path


def frames(clip, n: int):
    return dataclasses.replace(clip, **{key: array[:n] for key, array in clip.arrays().items()})


def send(worker, audio: Path, motion: Path, out: Path, checkpoint: Path, **fields) -> dict:
    return worker.request(
        *adapt_request(audio=str(audio), motion=str(motion), out=str(out), checkpoint=str(checkpoint), **fields),
        timeout=120,
    )


def refused(worker, temp_dir, checkpoint, audio, motion, folder, **fields) -> BackendError:
    """The bad_reference error of an adapt request that must fail, after checking it left nothing behind."""
    before = {p.name for p in folder.iterdir()}
    with pytest.raises(BackendError) as caught:
        send(worker, audio, motion, folder / "style.safetensors", checkpoint, **fields)
    assert caught.value.traceback is None
    assert_nothing_left(worker, temp_dir, folder, before)
    return caught.value


def test_audio_and_motion_may_differ_by_the_tolerance_and_no_more(
    module_worker, worker_temp_dir, tiny_checkpoint, parts, tmp_path
):
    wave, clip = parts
    seconds = len(wave) / 16000
    motion = tmp_path / "motion.npz"
    save_clip(frames(clip, clip.n_frames), motion)
    # within the tolerance: adapted on the stretch both cover
    near = write_audio(tmp_path / "near.wav", wave[: int((clip.duration - 0.8 * MAX_LENGTH_MISMATCH_S) * 16000)])
    result = send(module_worker, near, motion, tmp_path / "near.safetensors", tiny_checkpoint, steps=2)
    assert (
        load_style(tmp_path / "near.safetensors").reference_seconds
        == pytest.approx(clip.duration - 0.8 * MAX_LENGTH_MISMATCH_S, abs=0.05)
        == result["reference_seconds"]
    )
    # beyond it: the wrong pair of files, or a wrong frame rate; both lengths are named
    far = write_audio(tmp_path / "far.wav", wave[: int((clip.duration - 1.5 * MAX_LENGTH_MISMATCH_S) * 16000)])
    error = refused(module_worker, worker_temp_dir, tiny_checkpoint, far, motion, tmp_path)
    assert error.code == "bad_reference" and seconds > clip.duration - 1.5 * MAX_LENGTH_MISMATCH_S
    assert (
        f"the reference audio far.wav lasts {clip.duration - 1.5 * MAX_LENGTH_MISMATCH_S:.2f} s but the motion "
        f"motion.npz {clip.duration:.2f} s ({clip.n_frames} frames at 25 fps)"
    ) in str(error)
    assert "check the files, the audio range and the frame rate" in str(error)


def _short(wave, clip, folder):
    n = int((MIN_REFERENCE_SECONDS - 0.5) * 25)
    save_clip(frames(clip, n), folder / "short.npz")
    return write_audio(folder / "short.wav", wave[: n * 640]), folder / "short.npz", {}


def _non_finite(value):
    def make(wave, clip, folder):
        broken = dataclasses.replace(clip, head=clip.head.copy())
        broken.head[40, 1] = value
        np.savez(folder / "tracked.npz", **_clip_arrays(broken))  # save_clip would refuse it: write it raw
        return write_audio(folder / "speech.wav", wave), folder / "tracked.npz", {}

    return make


def _clip_arrays(clip) -> dict[str, np.ndarray]:
    return {
        "format": np.array("adamesh-motion/1"),
        "fps": np.array(clip.fps),
        "expression_names": np.array(clip.expression_names),
        **clip.arrays(),
    }


def _four_column_jaw(wave, clip, folder):
    arrays = _clip_arrays(clip) | {"jaw": np.concatenate([clip.jaw, clip.jaw[:, :1]], axis=1)}
    np.savez(folder / "tracked.npz", **arrays)
    return write_audio(folder / "speech.wav", wave), folder / "tracked.npz", {}


def _five_column_pose(wave, clip, folder):
    np.savez(folder / "deca.npz", exp=clip.expression, pose=np.concatenate([clip.head, clip.jaw[:, :2]], axis=1))
    return write_audio(folder / "speech.wav", wave), folder / "deca.npz", {"tracker": "deca", "motion_fps": 25.0}


def _smirk_given_as_vhap(wave, clip, folder):
    np.savez(folder / "smirk.npz", expression_params=clip.expression, jaw_params=clip.jaw, pose_params=clip.head)
    return write_audio(folder / "speech.wav", wave), folder / "smirk.npz", {"tracker": "vhap", "motion_fps": 25.0}


# name -> (maker(wave, clip, folder) -> (audio, motion, extra request fields), words the message must hold)
BAD_REFERENCES = {
    "too short": (_short, f"the reference is 2.5 s long; Adapt Style needs at least {MIN_REFERENCE_SECONDS:g} s"),
    "NaN in the motion": (_non_finite(np.nan), "tracked.npz: head holds NaN or infinity, first at frame 40"),
    "infinity in the motion": (_non_finite(np.inf), "tracked.npz: head holds NaN or infinity, first at frame 40"),
    "a jaw of 4 columns": (_four_column_jaw, "tracked.npz: jaw has shape"),
    "a DECA pose of 5 columns": (_five_column_pose, "deca.npz: DECA / EMOCA / SPECTRE 'pose' has shape"),
    "a SMIRK file read as VHAP": (_smirk_given_as_vhap, "this looks like a SMIRK file: choose SMIRK as the tracker"),
}


@pytest.mark.parametrize("case", list(BAD_REFERENCES))
def test_a_bad_reference_is_named_with_what_is_wrong(
    module_worker, worker_temp_dir, tiny_checkpoint, parts, tmp_path, case
):
    maker, words = BAD_REFERENCES[case]
    audio, motion, fields = maker(*parts, tmp_path)
    error = refused(module_worker, worker_temp_dir, tiny_checkpoint, audio, motion, tmp_path, **fields)
    assert error.code == "bad_reference" and words in str(error), str(error)


def _pickle_in_npz(clip, folder, marker):
    arrays = _clip_arrays(clip) | {
        "expression_names": np.array([CodeOnLoad(marker)] * len(clip.expression_names), dtype=object)
    }
    np.savez(folder / "motion.npz", **arrays)  # numpy pickles an object array inside the archive
    return folder / "motion.npz", "'expression_names' is a pickled object array; pickled data is refused"


def _torch_file(clip, folder, marker):
    import torch

    torch.save({"expression": clip.expression, "payload": CodeOnLoad(marker)}, folder / "motion.npz")
    return folder / "motion.npz", "is a PyTorch file (a pickle, motion/data.pkl, inside a zip)"


def _torch_file_as_pt(clip, folder, marker):
    import torch

    torch.save({"exp": clip.expression, "payload": CodeOnLoad(marker)}, folder / "deca.pt")
    return folder / "deca.pt", "is a PyTorch file (a pickle, deca/data.pkl, inside a zip)"


def _plain_pickle(clip, folder, marker):
    (folder / "motion.npz").write_bytes(pickle.dumps({"expression": clip.expression, "payload": CodeOnLoad(marker)}))
    return folder / "motion.npz", "is a pickle, not an .npz motion clip; pickled data is refused"


PICKLES = {
    "pickled array in an .npz": _pickle_in_npz,
    "torch.save named .npz": _torch_file,
    "torch.save .pt as a DECA file": _torch_file_as_pt,
    "plain pickle": _plain_pickle,
}


@pytest.mark.parametrize("case", list(PICKLES))
def test_a_pickle_is_refused_and_never_run(module_worker, worker_temp_dir, tiny_checkpoint, parts, tmp_path, case):
    wave, clip = parts
    marker = tmp_path / "pwned"
    motion, words = PICKLES[case](clip, tmp_path, marker)
    # the payload is real: loading it with pickle creates its marker ...
    assert pickle.loads(pickle.dumps(CodeOnLoad(tmp_path / "probe"))) and (tmp_path / "probe").exists()
    (tmp_path / "probe").unlink()
    fields = {"tracker": "deca", "motion_fps": 25.0} if motion.suffix == ".pt" else {}
    error = refused(
        module_worker,
        worker_temp_dir,
        tiny_checkpoint,
        write_audio(tmp_path / "speech.wav", wave),
        motion,
        tmp_path,
        **fields,
    )
    assert error.code == "bad_reference" and words in str(error), str(error)
    assert "loading it can run code" in str(error) or "pickled data is refused" in str(error)
    assert not marker.exists()  # ... but the worker never loaded it


def test_the_command_line_refuses_a_pickle_without_running_it(tiny_checkpoint, parts, tmp_path):
    wave, clip = parts
    marker = tmp_path / "pwned"
    motion, words = _torch_file(clip, tmp_path, marker)
    run = run_cli(
        "adapt",
        "--audio",
        str(write_audio(tmp_path / "speech.wav", wave)),
        "--motion",
        str(motion),
        "--checkpoint",
        str(tiny_checkpoint),
        "--out",
        str(tmp_path / "style.safetensors"),
    )
    assert_one_line_error(run, words)
    assert not marker.exists() and {p.name for p in tmp_path.iterdir()} == {"speech.wav", "motion.npz"}
