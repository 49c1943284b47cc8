"""Keyframes written per second: the add-on's bulk writer versus a `keyframe_insert` loop on the same data.

    .venv/bin/python benchmarks/bench_keyframes.py [--seconds 60] [--fps 30]

Runs in the bpy module on the demo head: a clip of `--seconds` at 25 fps (all 37 channels, jaw and head),
keyed at the scene's frame rate. The bulk side is the whole `bake_clip` (sampling, rotations, new Actions,
`keyframe_points.add` + `foreach_set`); the loop side only sets each value and calls `keyframe_insert`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script from anywhere

import bpy  # noqa: E402

from adamesh_blender.anim.curves import plan_curves  # noqa: E402
from adamesh_blender.anim.keyframes import bake_clip  # noqa: E402
from adamesh_blender.anim.rigs import describe_rig, map_rig  # noqa: E402
from adamesh_blender.anim.timing import SceneTiming, sample_frames  # noqa: E402
from adamesh_blender.clip_reader import MotionClip  # noqa: E402
from adamesh_blender.rig_builders.demo_head import CHANNELS, build_demo_head  # noqa: E402

CLIP_FPS = 25.0


def smooth_clip(seconds: float) -> MotionClip:
    """Slowly varying values in each channel's range: what a generated clip looks like to the writer."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * CLIP_FPS))[:, None] / CLIP_FPS
    phases = rng.uniform(0, 2 * np.pi, size=(1, len(CHANNELS) + 6))
    waves = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.3, 3.0, size=phases.shape) * t + phases)
    return MotionClip(
        path=Path("benchmark.npz"),
        fps=CLIP_FPS,
        expression=waves[:, : len(CHANNELS)].astype(np.float32),
        expression_names=CHANNELS,
        jaw=(0.3 * waves[:, -6:-3] * [1.0, 0.1, 0.1]).astype(np.float32),
        head=(0.2 * (waves[:, -3:] - 0.5)).astype(np.float32),
        eyes=None,
    )


def insert_loop(mesh_obj, curves) -> float:
    """Seconds to key every planned value with keyframe_insert, one key at a time."""
    key, armature = mesh_obj.data.shape_keys, mesh_obj.parent
    started = time.perf_counter()
    for owner, plans in ((key, curves.shape_keys), (armature, curves.pose)):
        for plan in plans:
            target, prop = owner.path_resolve(plan.data_path.rsplit(".", 1)[0]), plan.data_path.rsplit(".", 1)[1]
            for frame, value in zip(curves.frames.tolist(), plan.values.tolist()):
                if plan.group:
                    getattr(target, prop)[plan.index] = value
                else:
                    setattr(target, prop, value)
                owner.keyframe_insert(plan.data_path, index=plan.index if plan.group else -1, frame=frame)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args(sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else None)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = args.fps
    head = build_demo_head()
    clip = smooth_clip(args.seconds)
    timing = SceneTiming(1.0, args.fps)
    mapping = map_rig(describe_rig(head), clip.expression_names)

    started = time.perf_counter()
    report = bake_clip(clip, head, mapping, timing, "benchmark")
    bulk_seconds = time.perf_counter() - started

    modes = {target.bone: head.parent.pose.bones[target.bone].rotation_mode for target in mapping.bones}
    curves = plan_curves(clip, mapping, sample_frames(clip.n_frames, clip.fps, timing), modes)
    head.data.shape_keys.animation_data_clear()
    head.parent.animation_data_clear()
    loop_seconds = insert_loop(head, curves)

    keys = report.keyframes
    bulk_rate, loop_rate = keys / bulk_seconds, keys / loop_seconds
    print(f"{keys} keys ({args.seconds:g} s clip, {len(curves.frames)} frames at {args.fps} fps)")
    print(f"bake_clip (add + foreach_set): {bulk_seconds:.3f} s = {bulk_rate:,.0f} keys/s")
    print(f"keyframe_insert loop:          {loop_seconds:.3f} s = {loop_rate:,.0f} keys/s")
    print(f"speed-up: {bulk_rate / loop_rate:.0f}x (aim >= 50x)")


if __name__ == "__main__":
    main()
