"""Tests in the real bpy module: every test starts from an empty factory scene, so no state leaks between them."""

import bpy
import pytest


@pytest.fixture(autouse=True)
def empty_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield bpy.context.scene

