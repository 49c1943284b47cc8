"""Videos the tracker must refuse, or accept with a note: each a clear message and nothing written.

The faces are the ICT head rendered in bpy (tests/backend/tracking/face_videos.py); the videos are encoded by PyAV."""

from __future__ import annotations

import numpy as np
import pytest

from backend.__main__ import main
from backend.tracking.errors import VideoError
from backend.tracking.track import track_video
from tests.backend.tracking.face_videos import ict_weights, render_frames, still_clip, write_video

pytestmark = pytest.mark.slow
FPS = 25.0


def speaking_frames(seconds: float, size=(320, 240), **options) -> list[np.ndarray]:
    clip = still_clip(seconds, FPS)
    return render_frames(ict_weights(clip), clip.head, size=size, **options)


@pytest.fixture(scope="module")
def face_frames() -> list[np.ndarray]:
    """4 s of the head talking, 320x240."""
    return speaking_frames(4.0)


def blank(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [np.full_like(frame, 90) for frame in frames]


def test_no_face_is_refused_and_nothing_written(tmp_path, capsys):
    frames = [np.full((240, 320, 3), 90, np.uint8)] * 100
    video = write_video(tmp_path / "wall.mp4", frames, FPS)
    out = tmp_path / "out.npz"
    assert main(["track", str(video), "--out", str(out)]) == 2
    assert "no face found in wall.mp4 (100 frames looked at)" in capsys.readouterr().err
    assert not out.exists()


def test_face_lost_briefly_is_bridged_with_a_note(tmp_path, face_frames):
    frames = list(face_frames)
    frames[40:50] = blank(frames[40:50])  # 0.4 s
    tracked = track_video(write_video(tmp_path / "hand.mp4", frames, FPS), tmp_path / "out.npz")
    assert tracked.clip.n_frames == len(frames)
    assert any("face lost briefly at 1.6-2.0 s" in note for note in tracked.notes)
    assert np.isfinite(tracked.clip.expression).all()


def test_face_missing_from_too_much_of_the_video_is_refused_with_the_times(tmp_path, face_frames):
    frames = list(face_frames)
    frames[20:40] = blank(frames[20:40])
    frames[60:90] = blank(frames[60:90])  # 50 of 100 frames
    out = tmp_path / "out.npz"
    with pytest.raises(VideoError, match=r"no face in 50% of gone.mp4 \(at 0.8-1.6 s, 2.4-3.6 s\)"):
        track_video(write_video(tmp_path / "gone.mp4", frames, FPS), out)
    assert not out.exists()


def test_under_three_seconds_of_face_is_refused(tmp_path, face_frames):
    out = tmp_path / "out.npz"
    with pytest.raises(VideoError, match=r"shows the face for at most 2.0 s .* at least 3 s"):
        track_video(write_video(tmp_path / "short.mp4", face_frames[:50], FPS), out)
    assert not out.exists()


def test_no_sound_tracks_but_is_refused_for_adapt(tmp_path, face_frames, capsys):
    video = write_video(tmp_path / "silent.mp4", face_frames, FPS)
    assert main(["track", str(video), "--out", str(tmp_path / "ref.npz")]) == 0
    assert "the video has no sound" in capsys.readouterr().out
    style = tmp_path / "style.safetensors"
    assert main(["adapt", "--video", str(video), "--out", str(style)]) == 2
    assert "silent.mp4 has no sound: Adapt Style learns how the face moves with the speech" in capsys.readouterr().err
    assert not style.exists()


def test_several_faces_track_the_largest_with_a_note(tmp_path):
    frames = speaking_frames(4.0, second_head=True)
    tracked = track_video(write_video(tmp_path / "two.mp4", frames, FPS), tmp_path / "out.npz")
    assert any("2 faces in" in note and "the largest one was tracked" in note for note in tracked.notes)
    assert np.median(tracked.points[:, :, 0]) < 200  # the big head, left of the small one


@pytest.mark.parametrize("rotation", [90, 270])
def test_rotated_phone_video_is_turned_upright(tmp_path, face_frames, rotation):
    """Stored sideways with a display rotation, as phones record portrait video."""
    video = write_video(tmp_path / f"phone{rotation}.mp4", face_frames, FPS, rotation=rotation)
    tracked = track_video(video, tmp_path / "out.npz")
    assert tracked.clip.n_frames == len(face_frames)
    assert abs(np.degrees(tracked.clip.head[:, 2]).mean()) < 5  # upright: no quarter-turn roll left over


def test_portrait_video_tracks(tmp_path):
    frames = speaking_frames(3.4, size=(240, 320))
    tracked = track_video(write_video(tmp_path / "portrait.mp4", frames, FPS), tmp_path / "out.npz")
    assert tracked.clip.n_frames == len(frames)


def test_variable_frame_rate_lands_on_a_constant_timeline(tmp_path, face_frames):
    times = np.cumsum(np.where(np.arange(len(face_frames)) % 3 == 0, 0.02, 0.05))  # 20-50 ms apart
    times -= times[0]
    video = write_video(tmp_path / "vfr.mp4", face_frames, FPS, times=times)
    tracked = track_video(video, tmp_path / "out.npz")
    assert tracked.clip.fps <= 30
    assert abs(tracked.clip.duration - times[-1]) < 0.2


def test_very_low_resolution_is_refused(tmp_path):
    frames = speaking_frames(3.4, size=(80, 60))
    out = tmp_path / "out.npz"
    with pytest.raises(VideoError, match=r"tiny.mp4 is 80x60 pixels; the tracker needs at least 96"):
        track_video(write_video(tmp_path / "tiny.mp4", frames, FPS), out)
    assert not out.exists()


def test_small_face_is_refused(tmp_path, face_frames):
    """The whole picture shrunk to a quarter in a grey frame: a face of ~30 pixels, too few to read lips from."""
    from PIL import Image

    frames = []
    for frame in face_frames:
        canvas = np.full_like(frame, 110)
        small = np.array(Image.fromarray(frame).resize((frame.shape[1] // 3, frame.shape[0] // 3)))
        canvas[: small.shape[0], : small.shape[1]] = small
        frames.append(canvas)
    out = tmp_path / "out.npz"
    with pytest.raises(VideoError, match=r"(the face in small.mp4 is only \d+ pixels tall|no face found)"):
        track_video(write_video(tmp_path / "small.mp4", frames, FPS), out)
    assert not out.exists()
