"""The tracker's tests need its optional extra (requirements/tracking.txt) and render with the bpy module."""

import pytest

pytest.importorskip("mediapipe", reason="the face tracker is an optional extra: requirements/tracking.txt")
pytest.importorskip("bpy", reason="the test videos are rendered with the bpy module")
