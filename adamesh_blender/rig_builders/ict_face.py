"""The ICT face asset as arrays in Blender's frame (no bpy): decoding, identity mixing, parts, eye centres, weights.

The asset (assets/ict-face/ict_face.npz, made by scripts/make_ict_face_asset.py; keys in its README) is in the
FaceKit's frame: centimetres, +Y up, +Z forward. Blender's head rigs look down -Y with +Z up, in metres, so a point
(x, y, z) becomes (x, -z, y) / 100; the subject's left stays +X.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AddonError

FORMAT = "adamesh-ict-face/1"
IDENTITY_COUNT = 10
CM_TO_M = 0.01
# Multi-PIE landmark numbers of the inner lips: the middle of the upper and lower lip, and the two corners.
UPPER_LIP_LANDMARK, LOWER_LIP_LANDMARK = 62, 66
CHIN_LANDMARK = 8
LIP_CORNER_LANDMARKS = (60, 64)
# Upper, lower inner-lip landmark pairs whose vertical gap is the lip opening: the midline, then beside it.
INNER_LIP_PAIRS = ((62, 66), (61, 67), (63, 65))
# Upper and lower eyelid landmarks of each eye (Multi-PIE 37/41 and 43/47: the subject's right eye, then left).
EYELID_LANDMARKS = {"right": (37, 41), "left": (43, 47)}
REQUIRED_KEYS = (
    "format",
    "neutral",
    "face_sizes",
    "face_vertices",
    "face_material",
    "material_names",
    "uv",
    "face_uv_indices",
    "expression_names",
    "expression_offsets",
    "expression_vertices",
    "expression_deltas",
    "identity_offsets",
    "identity_vertices",
    "identity_deltas",
    "landmarks68",
    "part_names",
    "part_ranges",
)


def to_blender(points_cm: np.ndarray) -> np.ndarray:
    """[N, 3] FaceKit points or offsets (cm, +Y up, +Z forward) -> Blender's head frame (m, +Z up, -Y forward)."""
    points = np.asarray(points_cm, dtype=np.float64)
    return np.stack([points[:, 0], -points[:, 2], points[:, 1]], axis=1) * CM_TO_M


@dataclass(frozen=True)
class SparseShapes:
    """Shape k moves vertices[offsets[k]:offsets[k+1]] by deltas[offsets[k]:offsets[k+1]] (Blender frame, m)."""

    offsets: np.ndarray
    vertices: np.ndarray
    deltas: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def dense(self, k: int, vertex_count: int) -> np.ndarray:
        """[V, 3] offsets of shape k at weight 1."""
        start, stop = self.offsets[k], self.offsets[k + 1]
        out = np.zeros((vertex_count, 3), dtype=np.float64)
        out[self.vertices[start:stop]] = self.deltas[start:stop]
        return out


@dataclass(frozen=True)
class IctFace:
    """One face of the ICT model in Blender's frame."""

    vertices: np.ndarray  # [V, 3] m, the neutral of this identity
    face_sizes: np.ndarray  # [F]
    face_vertices: np.ndarray  # [sum(face_sizes)]
    face_material: np.ndarray  # [F]
    material_names: tuple[str, ...]
    uv: np.ndarray  # [K, 2]
    face_uv_indices: np.ndarray  # [sum(face_sizes)]
    expression_names: tuple[str, ...]
    expressions: SparseShapes
    landmarks68: np.ndarray  # [68] vertex indices
    parts: dict[str, tuple[int, int]]  # part name -> (start, stop) vertex range

    def part(self, name: str) -> np.ndarray:
        start, stop = self.parts[name]
        return np.arange(start, stop)

    def expression_offsets(self, name: str) -> np.ndarray:
        return self.expressions.dense(self.expression_names.index(name), len(self.vertices))

    def face_starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.face_sizes, dtype=np.int64)])


def load_asset(path: Path) -> dict[str, np.ndarray]:
    """The npz's arrays, checked for the format and every key the builder reads."""
    path = Path(path)
    if not path.is_file():
        raise AddonError(f"the ICT face asset {path} is missing; reinstall the extension")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise AddonError(f"cannot read the ICT face asset {path}: {error}") from error
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise AddonError(f"the ICT face asset {path} lacks {', '.join(missing)}")
    if str(arrays["format"]) != FORMAT:
        raise AddonError(f"the ICT face asset {path} is format {arrays['format']}, expected {FORMAT}")
    return arrays


def identity_offsets(arrays: dict[str, np.ndarray], identity: int, weight: float) -> np.ndarray:
    """[V, 3] cm: `weight` times identity mode `identity` (0..9), the FaceKit's own convention."""
    count = len(arrays["identity_offsets"]) - 1
    if not 0 <= identity < count:
        raise AddonError(f"identity {identity} does not exist: the ICT face has identity modes 0 to {count - 1}")
    start, stop = arrays["identity_offsets"][identity], arrays["identity_offsets"][identity + 1]
    out = np.zeros(arrays["neutral"].shape, dtype=np.float64)
    out[arrays["identity_vertices"][start:stop]] = weight * arrays["identity_deltas"][start:stop].astype(np.float64)
    return out


def ict_face(arrays: dict[str, np.ndarray], identity: int | None = None, identity_weight: float = 1.0) -> IctFace:
    """The face of the asset's arrays, with identity mode `identity` mixed in at `identity_weight` (None: the
    FaceKit's generic neutral). Expressions are the same deltas on every identity, as in the FaceKit."""
    neutral = arrays["neutral"].astype(np.float64)
    if identity is not None:
        neutral = neutral + identity_offsets(arrays, identity, identity_weight)
    return IctFace(
        vertices=to_blender(neutral),
        face_sizes=arrays["face_sizes"].astype(np.int64),
        face_vertices=arrays["face_vertices"].astype(np.int64),
        face_material=arrays["face_material"].astype(np.int64),
        material_names=tuple(str(name) for name in arrays["material_names"]),
        uv=arrays["uv"].astype(np.float64),
        face_uv_indices=arrays["face_uv_indices"].astype(np.int64),
        expression_names=tuple(str(name) for name in arrays["expression_names"]),
        expressions=SparseShapes(
            arrays["expression_offsets"].astype(np.int64),
            arrays["expression_vertices"].astype(np.int64),
            to_blender(arrays["expression_deltas"]),
        ),
        landmarks68=arrays["landmarks68"].astype(np.int64),
        parts={str(name): (int(a), int(b)) for name, (a, b) in zip(arrays["part_names"], arrays["part_ranges"])},
    )


def sphere_centre(points: np.ndarray) -> np.ndarray:
    """Least-squares centre of the sphere through [N, 3] points (|p|^2 = 2 c.p + k, linear in c and k)."""
    a = np.hstack([2 * points, np.ones((len(points), 1))])
    solution, *_ = np.linalg.lstsq(a, np.sum(points**2, axis=1), rcond=None)
    return solution[:3]


def _corner_vertices(face: IctFace, selected: np.ndarray) -> np.ndarray:
    starts = face.face_starts()
    return np.concatenate([face.face_vertices[starts[f] : starts[f + 1]] for f in np.flatnonzero(selected)])


def smoothstep(x: np.ndarray, start: float, end: float) -> np.ndarray:
    t = np.clip((np.asarray(x, dtype=np.float64) - start) / (end - start), 0.0, 1.0)
    return t * t * (3 - 2 * t)


@dataclass(frozen=True)
class Skeleton:
    """Bone heads (Blender frame, m) and per-bone vertex weights [V] (each vertex's weights sum to 1)."""

    heads: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]


BONE_PARENTS = {"root": None, "neck": "root", "head": "neck", "left_eye": "head", "right_eye": "head"}


def skeleton(face: IctFace) -> Skeleton:
    """root at the neck's base, neck above it, head at the skull's base; eye bones at the eyeballs' centres.

    Everything above the neck rides the head bone rigidly (face, mouth, teeth, tongue, lashes); each eyeball
    rides its eye bone; down the neck the weight passes from head to neck to root so a head turn bends the neck.
    """
    p = face.vertices
    bottom, chin = p[:, 2].min(), p[face.landmarks68[CHIN_LANDMARK], 2]
    span = max(chin - bottom, 1e-3)
    t = smoothstep(p[:, 2], bottom, chin)  # 0 at the neck's cut, 1 from the chin's height up
    centres = {side: eye.centre for side, eye in eyes(face).items()}
    weights = {
        "root": (1 - t) ** 2,
        "neck": 2 * t * (1 - t),
        "head": t**2,
        "left_eye": np.zeros(len(p)),
        "right_eye": np.zeros(len(p)),
    }
    for side in ("left", "right"):
        ball = face.part(f"eyeball_{side}")
        for name in ("root", "neck", "head"):
            weights[name][ball] = 0.0
        weights[f"{side}_eye"][ball] = 1.0
    back = p[:, 1].max()
    heads = {
        "root": np.array([0.0, 0.5 * back, bottom]),
        "neck": np.array([0.0, 0.5 * back, bottom + 0.5 * span]),
        "head": np.array([0.0, 0.3 * back, chin + 0.4 * span]),
        "left_eye": centres["left"],
        "right_eye": centres["right"],
    }
    return Skeleton(heads, weights)


def lip_gap_mm(points: np.ndarray, landmarks68: np.ndarray) -> float:
    """Signed vertical inner-lip opening at the midline (mm, Blender frame: +Z up) of [V, 3] points in m."""
    upper, lower = landmarks68[UPPER_LIP_LANDMARK], landmarks68[LOWER_LIP_LANDMARK]
    return 1000.0 * float(points[upper, 2] - points[lower, 2])


# The look of each polygon. The FaceKit's eye is two spheres: the sclera's, whose front bulges into the cornea
# (transparent), and the "iris" one inside it, which carries the iris at its front and sclera elsewhere (a texture
# in the original). Without textures: the cornea and the transparent eye shells are not built, and the inner
# sphere is split by the angle from the eye's axis into pupil, iris and sclera. The mouth socket (inside
# M_BackHead) is the mouth's dark inside; the face inside the outer lip contour (landmarks 48-59, seen from the
# front) is the lips.
OUTER_LIP_LANDMARKS = slice(48, 60)
SURFACE_OF_MATERIAL = {
    "M_Face": "skin",
    "M_BackHead": "skin",
    "M_GumsTongue": "gums_tongue",
    "M_Teeth": "teeth",
    "M_ScleraLeft": "sclera",
    "M_ScleraRight": "sclera",
    "M_IrisLeft": "iris",
    "M_IrisRight": "iris",
    "M_EyeLashes": "lashes",
    "M_LacrimalFluid": "hidden",
    "M_EyeBlend": "hidden",
    "M_EyeOcclusion": "hidden",
}
SURFACES = ("skin", "lips", "mouth_inside", "gums_tongue", "teeth", "sclera", "iris", "pupil", "lashes")
HIDDEN = -1
# Half-angles from the eye's axis (degrees), measured on the FaceKit's eyes: the cornea's bulge ends at ~28,
# the iris sphere's front (its radius steps down at the limbus) at ~26; a 4 mm pupil.
CORNEA_DEGREES, IRIS_DEGREES, PUPIL_DEGREES = 28.0, 26.0, 7.5
# The pupil is a hole in the iris: what shows through it is the back of the eyeball, coloured as the pupil.
EYE_BACK_DEGREES = 120.0


@dataclass(frozen=True)
class Eye:
    centre: np.ndarray  # [3] m
    axis: np.ndarray  # [3] unit: from the centre through the cornea's apex


def eyes(face: IctFace) -> dict[str, Eye]:
    """Each eyeball's centre (sphere fit to its sclera) and gaze axis (towards the sclera's farthest point, the
    cornea's apex), Blender frame; keys "left" (the subject's, +X) and "right"."""
    found = {}
    for side in ("left", "right"):
        start, _ = face.parts[f"eyeball_{side}"]
        material = face.material_names.index(f"M_Sclera{side.capitalize()}")
        sclera = np.unique(_corner_vertices(face, face.face_material == material))
        sclera = sclera[sclera >= start]
        centre = sphere_centre(face.vertices[sclera])
        apex = face.vertices[sclera[np.argmax(np.linalg.norm(face.vertices[sclera] - centre, axis=1))]] - centre
        found[side] = Eye(centre, apex / np.linalg.norm(apex))
    return found


def polygon_surfaces(face: IctFace) -> np.ndarray:
    """[F] index into SURFACES for every polygon, HIDDEN (-1) for those not built."""
    starts = face.face_starts()
    first_vertex = face.face_vertices[starts[:-1]]
    names = [SURFACE_OF_MATERIAL.get(name, "skin") for name in face.material_names]
    by_material = np.array([SURFACES.index(name) if name in SURFACES else HIDDEN for name in names])
    surfaces = by_material[face.face_material]
    socket_start, socket_stop = face.parts["mouth_socket"]
    surfaces[(first_vertex >= socket_start) & (first_vertex < socket_stop)] = SURFACES.index("mouth_inside")
    corner_owner = np.repeat(np.arange(len(face.face_sizes)), face.face_sizes)
    centres = np.zeros((len(face.face_sizes), 3))
    np.add.at(centres, corner_owner, face.vertices[face.face_vertices])
    centres /= face.face_sizes[:, None]
    contour = face.vertices[face.landmarks68[OUTER_LIP_LANDMARKS]][:, [0, 2]]
    in_front = centres[:, 1] < face.vertices[face.landmarks68[OUTER_LIP_LANDMARKS], 1].max()
    lips = (surfaces == SURFACES.index("skin")) & in_front & inside_polygon(centres[:, [0, 2]], contour)
    surfaces[lips] = SURFACES.index("lips")
    for side, eye in eyes(face).items():
        start, stop = face.parts[f"eyeball_{side}"]
        on_ball = (first_vertex >= start) & (first_vertex < stop)
        relative = centres - eye.centre
        degrees = np.degrees(np.arccos(np.clip(relative @ eye.axis / np.linalg.norm(relative, axis=1), -1, 1)))
        sclera, iris = on_ball & (surfaces == SURFACES.index("sclera")), on_ball & (surfaces == SURFACES.index("iris"))
        surfaces[sclera & (degrees < CORNEA_DEGREES)] = HIDDEN
        surfaces[iris & (degrees >= IRIS_DEGREES)] = SURFACES.index("sclera")
        surfaces[iris & ((degrees < PUPIL_DEGREES) | (degrees > EYE_BACK_DEGREES))] = SURFACES.index("pupil")
        surfaces[sclera & (degrees > EYE_BACK_DEGREES)] = SURFACES.index("pupil")
    # Lashes are cards meant for an alpha texture; opaque, the lower ones read as a thick black line under the
    # eye, so only the upper lashes (above the eyes' centres) are built.
    lashes = surfaces == SURFACES.index("lashes")
    eye_height = np.mean([eye.centre[2] for eye in eyes(face).values()])
    surfaces[lashes & (centres[:, 2] < eye_height)] = HIDDEN
    return surfaces


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """[N] bool: which 2D points lie inside the closed polygon [M, 2] (even-odd rule, ray cast towards +x)."""
    x, y = points[:, 0:1], points[:, 1:2]
    ax, ay = polygon[:, 0], polygon[:, 1]
    bx, by = np.roll(ax, -1), np.roll(ay, -1)
    straddles = (ay > y) != (by > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing_x = ax + (y - ay) * (bx - ax) / (by - ay)
    return np.count_nonzero(straddles & (x < crossing_x), axis=1) % 2 == 1
