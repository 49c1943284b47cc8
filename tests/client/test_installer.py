"""Install backend, for real: a virtual environment made by a Python, and pip installing a requirements file into
it (from a wheel built here, offline), with progress; and pip's failure turned into a message."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from adamesh_blender.client import InstallError, JobState
from adamesh_blender.client.installer import PIP_OPTIONS, BackendInstall

pytestmark = pytest.mark.slow  # creates virtual environments

OFFLINE = (*PIP_OPTIONS, "--no-index")


def build_wheel(folder: Path, name: str, version: str, source: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal pure-Python wheel (PEP 427): one module, its metadata (declaring `requires`) and a RECORD."""
    declared = "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    files = {
        f"{name}.py": source,
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{declared}",
        f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: adamesh-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def test_install_creates_the_environment_and_installs_the_requirements(tmp_path):
    wheel = build_wheel(tmp_path, "adamesh_probe_pkg", "1.2.3", "ANSWER = 42\n")
    requirements = tmp_path / "backend.txt"
    requirements.write_text(f"# pinned\n{wheel}\n")
    install = BackendInstall(sys.executable, tmp_path / "venv", requirements, OFFLINE)
    install.start()
    seen = []
    while not install.finished:
        install.poll(0.25)
        seen.append((install.fraction, install.message))
    assert install.state is JobState.SUCCEEDED and install.error is None
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # the bar only moves forward
    assert any(line.startswith("Successfully installed adamesh") for line in install.output_tail())
    assert install.message == f"Installed in {tmp_path / 'venv'}"
    imported = subprocess.run(
        [str(install.python), "-c", "import adamesh_probe_pkg; print(adamesh_probe_pkg.ANSWER)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == "42"


def test_a_failed_pip_install_says_what_pip_said(tmp_path):
    requirements = tmp_path / "backend.txt"
    requirements.write_text("adamesh-no-such-package==9.9.9\n")
    install = BackendInstall(sys.executable, tmp_path / "venv", requirements, OFFLINE)
    install.start()
    with pytest.raises(InstallError, match="Installing packages failed") as caught:
        install.wait()
    assert "adamesh-no-such-package" in str(caught.value) and install.state is JobState.FAILED


def test_has_requirements_looks_for_every_pinned_distribution(tmp_path):
    """How bake.py decides that the Python running it can also run the backend."""
    from adamesh_blender import bundle
    from adamesh_blender.client.installer import has_requirements

    here = tmp_path / "here.txt"
    here.write_text("# comment\n-r other.txt\nnumpy==1.26.4\npytest>=1 ; python_version >= '3'\n\n")
    missing = tmp_path / "missing.txt"
    missing.write_text("numpy==1.26.4\nadamesh-no-such-distribution==1.0\n")
    assert has_requirements(here) and not has_requirements(missing)
    assert has_requirements(bundle.backend_requirements())  # the test venv runs the backend


def test_an_extra_installs_into_the_existing_environment_without_its_declared_dependencies(tmp_path):
    """Install Video Tracker: the tracker's pins into the backend's venv, --no-deps (mediapipe declares jax and more
    that its Face Mesh never imports). The wheel here declares a dependency that exists nowhere."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    wheel = build_wheel(tmp_path, "adamesh_extra_pkg", "0.1.0", "ANSWER = 7\n", requires=("adamesh-no-such-dep",))
    requirements = tmp_path / "tracking.txt"
    requirements.write_text(f"{wheel}\n")
    python = tmp_path / "venv" / "bin" / "python"
    install = BackendInstall.extra(str(python), requirements, OFFLINE)
    install.start()
    install.wait()
    assert install.state is JobState.SUCCEEDED and install.python == python
    imported = subprocess.run(
        [str(python), "-c", "import adamesh_extra_pkg; print(adamesh_extra_pkg.ANSWER)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == "7"


def test_a_failed_extra_install_names_its_own_button(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    requirements = tmp_path / "tracking.txt"
    requirements.write_text("adamesh-no-such-package==9.9.9\n")
    install = BackendInstall.extra(str(tmp_path / "venv" / "bin" / "python"), requirements, OFFLINE)
    install.start()
    with pytest.raises(InstallError, match="press Install Video Tracker again"):
        install.wait()
