"""The extension as an artist gets it: built by `build.py build`, installed from the zip into the real bpy 5.0.1
module with Blender's own installer, in a fresh user folder (a subprocess per scenario, extension_scenarios.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).with_name("extension_scenarios.py")


@pytest.fixture
def manifest_version() -> str:
    with (ROOT / "blender_manifest.toml").open("rb") as file:
        return tomllib.load(file)["version"]


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, str(ROOT / "build.py"), "build", "--out-dir", str(out)], check=True, cwd=ROOT)
    (zip_path,) = out.glob("adamesh-*.zip")
    return zip_path


def process_alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def run_scenario(package: Path, scenario: str, tmp_path: Path) -> dict:
    user = tmp_path / "blender-user"
    user.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}  # only the zip's code counts
    env["BLENDER_USER_RESOURCES"] = str(user)
    result = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, str(SCENARIOS), str(package), scenario, str(result)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result.read_text())


def test_the_zip_holds_the_addon_the_backend_and_its_requirements(package, manifest_version):
    names = set(zipfile.ZipFile(package).namelist())
    assert package.name == f"adamesh-{manifest_version}.zip"
    assert {"blender_manifest.toml", "__init__.py", "addon.py", "client/worker_client.py"} <= names
    assert {"backend/__main__.py", "backend/worker.py", "backend/audio/decode.py", "requirements/backend.txt"} <= names
    assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]


def test_registration_and_unregistration_leave_nothing_behind(package, tmp_path, manifest_version):
    seen = run_scenario(package, "registration_cycle", tmp_path)
    installed, before = seen["installed"], seen["before"]
    assert "VIEW3D_PT_adamesh" in installed["types"] and "ADAMESH_OT_generate" in installed["types"]
    assert {"AdaMeshSettings", "AdaMeshPreferences", "ADAMESH_UL_styles"} <= set(installed["registered_classes"])
    assert {"generate", "adapt", "cancel_job", "install_backend", "import_audio"} <= set(installed["operators"])
    assert installed["scene_property"] and installed["window_manager_property"]
    assert installed["load_pre_handlers"] == before["load_pre_handlers"] + 1
    # the worker ran the zip's own backend, from the installed extension's folder
    assert seen["handshake"]["backend_version"] == seen["addon_version"] == manifest_version
    assert seen["handshake"]["cwd"] == seen["extension_dir"]
    for state in ("disabled", "disabled_again"):
        assert seen[state] == before, state
    assert seen["enabled_again"] == installed
    assert not seen["worker_alive_after_disable"]
    assert not (tmp_path / "atexit-ran.txt").exists()  # the atexit callback went with the add-on


def test_quitting_stops_the_worker(package, tmp_path):
    pid = run_scenario(package, "quit_with_worker", tmp_path)["pid"]
    assert not process_alive(pid)


def test_operators_say_why_they_cannot_run_and_reach_the_worker(package, tmp_path):
    seen = run_scenario(package, "operators", tmp_path)
    messages = seen["messages"]
    assert "Select the face mesh" in messages["nothing selected"]
    assert "is an armature: select the face mesh" in messages["armature selected"]
    assert "'Cube' has no shape keys" in messages["mesh without shape keys"]
    assert "no sound strip: press Import Audio" in messages["no sound strip"]
    assert seen["strip_chosen"] == "speech"
    assert "No backend yet: press Install Backend" in messages["no backend"]
    assert "Online access is off" in messages["install offline"]
    assert "No AdaMesh job is running" in messages["cancel without a job"]
    assert seen["generate_poll"] is True
    # no model yet: the request reached the worker, whose answer is the report
    assert "has no request 'generate'" in messages["generate sent"]
    assert "Choose the reference's motion file and its audio" in messages["adapt without files"]
    assert "reference motion file" in messages["adapt with a missing motion file"]
    assert "does not exist" in messages["adapt with a missing motion file"]
    assert not seen["worker_alive_after_disable"]


def test_style_library_lists_renames_and_deletes_files(package, tmp_path):
    seen = run_scenario(package, "style_library", tmp_path)
    assert "extensions/.user/user_default/adamesh/styles" in seen["folder"]
    assert seen["listed"] == ["calm", "lively"]
    assert seen["renamed"] == {"calm": 1.0, "lively 2": 1.4}  # the strength follows the renamed style
    assert "exists already" in seen["clash"] and "cannot contain /" in seen["bad_name"]
    assert seen["files_left"] == ["calm.safetensors"] and seen["listed_after_delete"] == ["calm"]


def test_panels_draw_without_errors(package, tmp_path):
    seen = run_scenario(package, "panels", tmp_path)
    for scene in ("empty scene", "rigged scene"):
        for panel, (problems, _) in seen[scene].items():
            assert problems == [], (scene, panel)
    assert seen["empty scene"]["VIEW3D_PT_adamesh_rig"][1] == ["label: Select the face mesh (a mesh object with shape keys)"]
    rig = seen["rigged scene"]["VIEW3D_PT_adamesh_rig"][1]
    assert "label: AdaMesh demo head: AdaMesh demo head" in rig  # the mesh, and the rig kind detected
    assert {"prop_search: head_bone", "prop_search: jaw_bone", "prop: channel", "prop_search: shape_key"} <= set(rig)
    style = seen["rigged scene"]["VIEW3D_PT_adamesh_style"][1]
    assert {"label: calm", "prop: expression_strength", "prop: pose_strength", "prop: reference_fps"} <= set(style)
    generate = seen["rigged scene"]["VIEW3D_PT_adamesh_generate"][1]
    assert "prop_search: sound_strip" in generate and "operator: adamesh.generate" in generate
    assert any(line.startswith("label: No backend yet") for line in generate)  # the disabled button says why
    problems, preferences = seen["preferences"]
    assert problems == [] and "operator: adamesh.install_backend" in preferences
