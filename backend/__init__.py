"""AdaMesh backend: audio features, motion clips, models and the worker. Imports torch, never bpy."""
