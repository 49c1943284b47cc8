"""The sidebar panel and its lists."""

from .lists import ADAMESH_UL_channels, ADAMESH_UL_styles
from .panels import VIEW3D_PT_adamesh, VIEW3D_PT_adamesh_generate, VIEW3D_PT_adamesh_rig, VIEW3D_PT_adamesh_style

CLASSES = (
    ADAMESH_UL_styles,
    ADAMESH_UL_channels,
    VIEW3D_PT_adamesh,
    VIEW3D_PT_adamesh_rig,
    VIEW3D_PT_adamesh_style,
    VIEW3D_PT_adamesh_generate,
)
