"""`python build.py demo-head --out FILE.blend` saves the demo head (the ICT head; --egg: the test head) alone,
and the file opens in Blender."""

import subprocess
import sys
from pathlib import Path

import bpy
import pytest

from adamesh_blender.anim.rigs import RigKind, describe_rig, detect_rig_kind

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    bpy.app.version < (4, 5, 0),
    reason="build.py writes the head with bpy 5.0, whose .blend files Blender 4.5 and later read and 4.2 does not",
)
@pytest.mark.parametrize("options, kind", [((), RigKind.ARKIT), (("--egg",), RigKind.DEMO_HEAD)])
def test_demo_head_is_saved_and_opens(tmp_path, options, kind):
    out = tmp_path / "nested" / "head.blend"
    subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "demo-head", "--out", str(out), *options], check=True, cwd=ROOT
    )
    bpy.ops.wm.open_mainfile(filepath=str(out))
    assert sorted(obj.type for obj in bpy.data.objects) == ["ARMATURE", "MESH"]
    head = next(obj for obj in bpy.data.objects if obj.type == "MESH")
    assert detect_rig_kind(describe_rig(head)) is kind
    assert bpy.context.view_layer.objects.active == head
