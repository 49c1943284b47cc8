"""A backend without the optional video tracker: Adapt Style from a video answers `tracker_missing` before it loads
anything, and the add-on's client turns that into the button to press. The environment is real: a virtual
environment holding every package of the test venv except mediapipe (nothing is uninstalled from the shared one)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from adamesh_blender.client import BackendError

from .conftest import adapt_request, write_wav


@pytest.fixture(scope="module")
def without_tracker(tmp_path_factory) -> Path:
    """The Python of a venv whose site-packages link to the test venv's, all but mediapipe's."""
    venv = tmp_path_factory.mktemp("no-tracker") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith("mediapipe") and not (site / entry.name).exists():
            (site / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    found = subprocess.run(
        [str(python), "-c", "import torch, av, importlib.util as u; print(u.find_spec('mediapipe') is None)"],
        capture_output=True,
        text=True,
    )
    assert found.stdout.strip() == "True", found.stderr[-2000:]
    return python


def test_adapt_from_a_video_without_the_tracker_says_to_install_it(start_worker, without_tracker, tmp_path):
    client = start_worker(python=str(without_tracker))
    video = write_wav(tmp_path / "alice.wav", seconds=1.0, rate=16000, channels=1)  # never opened: no tracker
    with pytest.raises(BackendError) as caught:
        client.request(*adapt_request(video=str(video), out=str(tmp_path / "alice.safetensors")), timeout=60)
    assert caught.value.code == "tracker_missing"
    message = str(caught.value)
    assert message.startswith("Adapt Style from a video needs the video face tracker")
    assert "press Install Video Tracker in Preferences > Add-ons > AdaMesh" in message
    assert "mediapipe" in message  # the backend's own reason rides along
    assert sorted(path.name for path in tmp_path.iterdir()) == ["alice.wav"]
