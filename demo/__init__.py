"""The Blender half of `python build.py demo` (scripts/demo.py orchestrates; this package runs in the bpy module).

scene.py    two demo heads side by side, the speech as a sound strip, each head keyed from one generated clip
            by the add-on's own bake code, a camera and lights on the lips; saved as a .blend
moments.py  which frames to show: lips-closed (P B M) and mouth-open (open vowel) moments of the phone timeline
render.py   headless preview: a labelled contact sheet of those moments and a short video with the speech
__main__.py `python -m demo scene|render ...`, each step its own process
"""
