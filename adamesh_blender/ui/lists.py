"""Lists drawn in the panel: the style library and the custom mapping's channels."""

import bpy


class ADAMESH_UL_styles(bpy.types.UIList):
    """Names only: renaming goes through the Rename button, which renames the file too."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        layout.label(text=item.name, icon="FILE_3D")


class ADAMESH_UL_channels(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        row = layout.row(align=True)
        row.prop(item, "channel", text="", emboss=True)
        obj = context.active_object
        key = obj.data.shape_keys if obj is not None and obj.type == "MESH" else None
        if key is not None:
            row.prop_search(item, "shape_key", key, "key_blocks", text="", icon="SHAPEKEY_DATA")
        else:
            row.prop(item, "shape_key", text="")
