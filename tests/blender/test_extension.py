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

import numpy as np
import pytest

from backend.audio.frames import motion_frame_count
from backend.clips import load_clip
from backend.core.lip_gap import lip_gap
from backend.inference.generate_options import GenerateOptions

from .helpers import HEAD, run_bake, save_scene
from .sound_strips import can_add_sound_strips

pytestmark = pytest.mark.slow  # the installed extension driving the real worker on a trained checkpoint

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


def run_scenario(package: Path, scenario: str, tmp_path: Path, inputs: dict | None = None) -> dict:
    """What the scenario recorded, plus its process's "stdout" (where Blender prints operator reports)."""
    user = tmp_path / "blender-user"
    user.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}  # only the zip's code counts
    env["BLENDER_USER_RESOURCES"] = str(user)
    if inputs is not None:
        (tmp_path / "inputs.json").write_text(json.dumps(inputs))
    result = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, str(SCENARIOS), str(package), scenario, str(result)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result.read_text()) | {"stdout": done.stdout}


def test_the_zip_holds_the_addon_the_backend_and_its_requirements(package, manifest_version):
    names = set(zipfile.ZipFile(package).namelist())
    assert package.name == f"adamesh-{manifest_version}.zip"
    assert {"blender_manifest.toml", "__init__.py", "addon.py", "client/worker_client.py"} <= names
    assert {
        "backend/cli/main.py",
        "backend/worker/server.py",
        "backend/audio/decode.py",
        "requirements/backend.txt",
    } <= names
    # the video tracker: its pins (installed on demand) and the face model it fits, with the model's licence
    assert {
        "requirements/tracking.txt",
        "assets/ict-face/ict_face.npz",
        "assets/ict-face/LICENSE",
        "assets/tracking/ict_mediapipe.npz",
        "assets/tracking/LICENSE",
    } <= names
    assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]


def test_the_zip_carries_the_ict_face_with_its_licence_and_builds_it_from_there(package, tmp_path):
    names = set(zipfile.ZipFile(package).namelist())
    folder = "assets/ict-face"
    assert {f"{folder}/ict_face.npz", f"{folder}/LICENSE", f"{folder}/CREDITS.md", f"{folder}/README.md"} <= names
    with zipfile.ZipFile(package) as archive:  # the MIT licence travels verbatim
        assert archive.read(f"{folder}/LICENSE") == (ROOT / folder / "LICENSE").read_bytes()
        assert archive.read(f"{folder}/CREDITS.md") == (ROOT / folder / "CREDITS.md").read_bytes()
    seen = run_scenario(package, "ict_head", tmp_path)
    assert seen["asset"] == str(Path(seen["extension_dir"]) / folder / "ict_face.npz")
    assert (seen["vertices"], seen["shape_keys"], seen["kind"]) == (26719, 53, "ARKIT")


def test_registration_and_unregistration_leave_nothing_behind(package, tmp_path, manifest_version):
    seen = run_scenario(package, "registration_cycle", tmp_path)
    installed, before = seen["installed"], seen["before"]
    assert "VIEW3D_PT_adamesh" in installed["types"] and "ADAMESH_OT_generate" in installed["types"]
    assert {"AdaMeshSettings", "AdaMeshPreferences", "ADAMESH_UL_styles"} <= set(installed["registered_classes"])
    assert {
        "generate",
        "adapt",
        "cancel_job",
        "install_backend",
        "install_tracker",
        "import_audio",
        "key_tracked_reference",
    } <= set(installed["operators"])
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
    # the request reached the worker, whose answer is the report
    assert "missing.safetensors does not exist" in messages["generate sent"]
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
    assert seen["empty scene"]["VIEW3D_PT_adamesh_rig"][1] == [
        "label: Select the face mesh (a mesh object with shape keys)"
    ]
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


@pytest.mark.parametrize("fps_label, rate", [("24", 24.0), ("29.97", 30 / 1.001)])
def test_generate_animation_keys_the_workers_clip_from_the_strip_on(generated_at_37, heldout_speech, fps_label, rate):
    """Demo head, sound strip at frame 37, Generate Animation through the real worker (tiny checkpoint): the
    evaluated mesh's lips follow the clip frame by frame from frame 37, over an earlier Action that is kept."""
    run = generated_at_37["runs"][fps_label]
    assert run["outcome"] == ["FINISHED"]
    clip = load_clip(run["clip"])
    assert clip.fps == pytest.approx(rate, abs=1e-4)
    assert clip.n_frames == motion_frame_count(heldout_speech[1], rate)
    assert (run["first_key"], run["last_key"]) == (37, 37 + clip.n_frames - 1)  # one key per frame, from the strip
    assert run["curves"] == len(clip.expression_names)

    frames, measured = np.array(run["frames"]), np.maximum(np.array(run["lip_mm"]), 0.0)

    def contract(shift: int) -> np.ndarray:
        """The lip gap the clip asks for at each frame, if row 0 played at frame 37 + shift."""
        rows = np.clip(frames - 37 - shift, 0, clip.n_frames - 1)
        return lip_gap(clip.expression[rows], clip.jaw[rows])

    on_time = np.abs(measured - contract(0)).max()
    # within a mm of the contract (its 80 sin(jaw x) holds for a jaw turning about X only; the tiny model also
    # turns it sideways by up to ~0.2 rad), while a frame early or late is several mm off
    assert on_time < 1.0
    assert min(np.abs(measured - contract(shift)).max() for shift in (-1, 1)) > 3 * on_time
    assert np.ptp(measured) > 5.0  # the lips move with the speech
    assert np.all(measured[frames < 37] == measured[frames == 37])  # nothing before the strip starts

    after, undone = run["after"], run["undone"]
    strip = heldout_speech[0].stem  # Import Audio names the strip after its file, Generate the Actions after it
    new_actions = (f"AdaMesh {strip} (shape keys)", f"AdaMesh {strip} (pose)")
    assert (after["key_action"], after["pose_action"]) == new_actions
    assert after["actions"]["Earlier talk"] is True  # kept, with a fake user so it survives saving
    assert after["slider_min"] < 0.0  # the clip goes below 0 somewhere: the slider ranges were widened
    # undo restores the state before the step: the earlier Action plays again, the new ones and the changes go
    assert undone["key_action"] == "Earlier talk" and undone["pose_action"] is None
    assert undone["actions"] == {"Earlier talk": False} and undone["slider_min"] == 0.0
    assert not set(new_actions) & set(undone["actions"])


def test_the_generate_report_names_the_kept_action(generated_at_37):
    reports = [line for line in generated_at_37["stdout"].splitlines() if line.startswith("Info: Keyed frames 37-")]
    assert len(reports) == 2
    assert all("previous animation kept as 'Earlier talk'" in line for line in reports)


def test_generate_animation_uses_the_style_chosen_in_the_library(
    generated_at_37, tiny_checkpoint, tiny_style, heldout_speech
):
    """The panel's style and its strength slider (1.5) reach the backend: the operator's clip is the one the
    backend makes for that style at that strength, and not the one at strength 1."""
    from backend.inference.generation import generate_clip
    from backend.models.devices import DEVICE_TOLERANCE

    styled = generated_at_37["runs"]["24 styled"]
    assert styled["outcome"] == ["FINISHED"]
    clip = load_clip(styled["clip"])
    expected = {
        strength: generate_clip(
            heldout_speech[0],
            GenerateOptions(
                fps=24.0, style=tiny_style, expression_strength=strength, blinks=True, checkpoint=str(tiny_checkpoint)
            ),
        ).expression
        for strength in (1.0, 1.5)
    }
    assert np.abs(clip.expression - expected[1.5]).max() < DEVICE_TOLERANCE
    assert np.abs(clip.expression - expected[1.0]).max() > 100 * DEVICE_TOLERANCE


@pytest.fixture(scope="module")
def generated_at_37(package, tmp_path_factory, tiny_checkpoint, tiny_style, heldout_speech):
    inputs = {"checkpoint": str(tiny_checkpoint), "audio": str(heldout_speech[0]), "style": str(tiny_style)}
    return run_scenario(package, "generate_at_frame_37", tmp_path_factory.mktemp("generate"), inputs)


@pytest.mark.skipif(not can_add_sound_strips(), reason="this Blender cannot add the bake's sound strips (no Audaspace)")
def test_the_batch_bake_script_runs_from_the_extensions_folder(package, tmp_path, tiny_checkpoint, heldout_speech):
    """bake.py as shipped: from the unpacked zip, with the bundled backend (nothing from this checkout)."""
    import bpy

    folder = tmp_path / "adamesh"
    zipfile.ZipFile(package).extractall(folder)
    out = tmp_path / "baked.blend"
    done = run_bake(
        folder / "bake.py",
        "--blend",
        str(save_scene(tmp_path / "scene.blend")),
        "--object",
        HEAD,
        "--audio",
        str(heldout_speech[0]),
        "--out",
        str(out),
        "--checkpoint",
        str(tiny_checkpoint),
        "--backend-python",
        sys.executable,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    bpy.ops.wm.open_mainfile(filepath=str(out))
    action = bpy.data.objects[HEAD].data.shape_keys.animation_data.action
    assert action.name == f"AdaMesh {heldout_speech[0].stem} (shape keys)"
