"""Rigs AdaMesh builds in bpy for tests and the demo: the demo head and a FLAME stand-in (never FLAME itself)."""
