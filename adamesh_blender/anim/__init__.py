"""Motion clips onto rigs: rig mapping, frame alignment, rotations (pure) and the keyframe writer (bpy)."""
