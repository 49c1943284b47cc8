"""The checked layout that test_extension.py draws panels on must catch the mistakes Blender's layout only prints."""

import bpy

from .rna_layout import draw_panel


class _FaultyPanel:
    def draw(self, context):
        layout = self.layout
        layout.prop(context.scene, "frame_current")  # fine
        layout.prop(context.scene, "no_such_property")
        layout.operator("wm.no_such_operator")
        layout.label(text="x", icon="NO_SUCH_ICON")
        layout.row(align=True).label(text="y", no_such_parameter=1)


def test_mistakes_are_reported_and_good_calls_are_not():
    problems, drawn = draw_panel(_FaultyPanel, bpy.context)
    assert problems == [
        "prop: Scene has no property 'no_such_property'",
        "operator wm.no_such_operator is not registered",
        "label(): no icon NO_SUCH_ICON",
        "label() has no parameter no_such_parameter",
    ]
    assert drawn[0] == "prop: frame_current"
