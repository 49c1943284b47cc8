"""Plain materials that read as a face in Workbench, EEVEE and Cycles: no textures, so nothing to ship or find.

Each material sets both its node tree (Principled BSDF: EEVEE and Cycles) and its viewport colour, roughness and
metallic (what Workbench shows with Material colouring).
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy

from ..anim import compat


@dataclass(frozen=True)
class FaceMaterial:
    name: str
    colour: tuple[float, float, float]  # linear RGB
    roughness: float
    subsurface: float = 0.0  # Principled "Subsurface Weight": light under the skin, for EEVEE and Cycles
    specular: float = 0.5  # Principled "Specular IOR Level"


# Linear-RGB colours picked to read as skin, eye and mouth under neutral studio light.
SKIN = FaceMaterial("AdaMesh skin", (0.60, 0.36, 0.27), 0.5, subsurface=0.15)
LIPS = FaceMaterial("AdaMesh lips", (0.50, 0.20, 0.18), 0.4, subsurface=0.15)
LIPS_INSIDE = FaceMaterial("AdaMesh mouth inside", (0.18, 0.035, 0.035), 0.6)
GUMS_TONGUE = FaceMaterial("AdaMesh gums and tongue", (0.55, 0.12, 0.12), 0.35, subsurface=0.1)
TEETH = FaceMaterial("AdaMesh teeth", (0.80, 0.74, 0.60), 0.3)
SCLERA = FaceMaterial("AdaMesh sclera", (0.80, 0.76, 0.72), 0.15, subsurface=0.05)
IRIS = FaceMaterial("AdaMesh iris", (0.12, 0.20, 0.26), 0.15)
PUPIL = FaceMaterial("AdaMesh pupil", (0.005, 0.005, 0.005), 0.1)
LASHES = FaceMaterial("AdaMesh lashes", (0.02, 0.015, 0.012), 0.7, specular=0.2)
ALL = (SKIN, LIPS, LIPS_INSIDE, GUMS_TONGUE, TEETH, SCLERA, IRIS, PUPIL, LASHES)


def make_material(spec: FaceMaterial):
    """A new material (Blender adds a number to the name if it is taken)."""
    material = bpy.data.materials.new(spec.name)
    material.diffuse_color = (*spec.colour, 1.0)
    material.roughness = spec.roughness
    material.metallic = 0.0
    principled = next(node for node in compat.material_node_tree(material).nodes if node.type == "BSDF_PRINCIPLED")
    principled.inputs["Base Color"].default_value = (*spec.colour, 1.0)
    principled.inputs["Roughness"].default_value = spec.roughness
    principled.inputs["Subsurface Weight"].default_value = spec.subsurface
    principled.inputs["Specular IOR Level"].default_value = spec.specular
    return material
