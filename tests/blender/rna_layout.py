"""Draw panels where no window can: a layout that checks every call against the real UILayout's RNA.

The bpy module has no GPU window, so Blender never calls a panel's draw() and no real UILayout can be had. This
stand-in takes its place and checks what Blender's own layout checks, against Blender's own definitions: the
function exists with those parameters, each drawn property exists on its data, each operator is registered, each
icon is a real icon, each list type is registered (and its draw_item runs on every item). Blender's layout only
prints such mistakes; here they are collected in `problems`.
"""

from __future__ import annotations

import bpy

_FUNCTIONS = bpy.types.UILayout.bl_rna.functions
_ICONS = set(_FUNCTIONS["label"].parameters["icon"].enum_items.keys())
_SUBLAYOUTS = ("row", "column", "box", "split", "column_flow", "grid_flow")


class CheckedLayout:
    def __init__(self, problems: list[str], drawn: list[str]) -> None:
        object.__setattr__(self, "problems", problems)
        object.__setattr__(self, "drawn", drawn)

    def __setattr__(self, name: str, value) -> None:
        if name not in bpy.types.UILayout.bl_rna.properties:
            self.problems.append(f"UILayout has no property {name}")

    def __getattr__(self, name: str):
        if name not in _FUNCTIONS:
            raise AttributeError(f"UILayout has no function {name}")

        def call(*args, **kwargs):
            arguments = self._bind(name, args, kwargs)
            self._check(name, arguments)
            if name in _SUBLAYOUTS:
                return CheckedLayout(self.problems, self.drawn)
            return None

        return call

    def _bind(self, name: str, args: tuple, kwargs: dict) -> dict:
        parameters = [p.identifier for p in _FUNCTIONS[name].parameters if not p.is_output]
        if len(args) > len(parameters):
            self.problems.append(f"{name}() takes {len(parameters)} arguments, got {len(args)}")
        arguments = dict(zip(parameters, args))
        unknown = set(kwargs) - set(parameters)
        if unknown:
            self.problems.append(f"{name}() has no parameter {', '.join(sorted(unknown))}")
        arguments.update(kwargs)
        return arguments

    def _check(self, name: str, a: dict) -> None:
        icon = a.get("icon")
        if icon is not None and icon not in _ICONS:
            self.problems.append(f"{name}(): no icon {icon}")
        if name in ("prop", "prop_search"):
            self._check_property(a["data"], a["property"], name)
        if name == "prop_search":
            self._check_property(a["search_data"], a["search_property"], name)
        if name == "operator":
            module, _, operator = a["operator"].partition(".")
            if operator not in dir(getattr(bpy.ops, module)):
                self.problems.append(f"operator {a['operator']} is not registered")
        if name == "template_list":
            self._check_list(a)
        self.drawn.append(f"{name}: {a.get('text') or a.get('property') or a.get('operator') or ''}")

    def _check_property(self, data, prop: str, where: str) -> None:
        if data is None:
            self.problems.append(f"{where}({prop!r}) on None")
        elif prop not in data.bl_rna.properties:
            self.problems.append(f"{where}: {data.bl_rna.identifier} has no property {prop!r}")

    def _check_list(self, a: dict) -> None:
        list_type = getattr(bpy.types, a["listtype_name"], None)
        if list_type is None:
            self.problems.append(f"list type {a['listtype_name']} is not registered")
            return
        self._check_property(a["dataptr"], a["propname"], "template_list")
        self._check_property(a["active_dataptr"], a["active_propname"], "template_list")
        for index, item in enumerate(getattr(a["dataptr"], a["propname"])):
            list_type.draw_item(
                None,
                bpy.context,
                CheckedLayout(self.problems, self.drawn),
                a["dataptr"],
                item,
                0,
                a["active_dataptr"],
                a["active_propname"],
                index,
            )


def draw_panel(panel_class, context, owner=None) -> tuple[list[str], list[str]]:
    """Run `panel_class.draw` on a checked layout: (problems, what was drawn). `owner` is what `self` stands
    for besides its layout (the add-on preferences, for their draw)."""
    problems: list[str] = []
    drawn: list[str] = []

    class Host:
        layout = CheckedLayout(problems, drawn)

        def __getattr__(self, name):
            return getattr(owner, name)

    panel_class.draw(Host(), context)
    return problems, drawn
