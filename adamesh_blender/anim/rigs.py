"""Recognise a target rig and map a clip's channels and rotations onto it (docs/architecture.md section 4).

The decisions are pure functions over a `RigDescription` (plain names), so they are tested without Blender;
`describe_rig` is the one place that reads a Blender object, by attribute access only (no bpy import).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ..errors import RigError
from .lip_retarget import INNER_LIPS_PROPERTY, LipCalibration

FLAME_EXPRESSION_KEYS = tuple(f"Exp{i}" for i in range(1, 101))
FLAME_BONES = ("root", "neck", "jaw", "left_eye", "right_eye")
FLAME_MESH_PREFIX = "FLAME-"

ARKIT_52 = (
    "eyeBlinkLeft",
    "eyeLookDownLeft",
    "eyeLookInLeft",
    "eyeLookOutLeft",
    "eyeLookUpLeft",
    "eyeSquintLeft",
    "eyeWideLeft",
    "eyeBlinkRight",
    "eyeLookDownRight",
    "eyeLookInRight",
    "eyeLookOutRight",
    "eyeLookUpRight",
    "eyeSquintRight",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawRight",
    "jawOpen",
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthLeft",
    "mouthRight",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "noseSneerLeft",
    "noseSneerRight",
    "tongueOut",
)
# A rig is taken for ARKit when it has jawOpen and at least half of the 52 names, in any of the common spellings
# (arkit_channel_of); the panel names the channels it has no shape key for.
ARKIT_MIN_NAMES = 26
# ARKit channels some rigs split into a left and a right key (ICT: browInnerUp_L / _R): both follow the channel.
ARKIT_SPLIT_CHANNELS = ("browInnerUp", "cheekPuff")
MOUTH_CLOSE_KEY = "mouthClose"  # ARKit's corrective: lips together while the jaw is open, never above jawOpen
ARKIT_HEAD_BONES = ("neck", "Neck", "head", "Head")  # tried in this order on an ARKit rig's armature

JAW_OPEN_KEY = "jawOpen"
# jawOpen derived from the jaw rotation reaches 1 at this opening (radians about the jaw's +X): a wide-open mouth
JAW_OPEN_FULL_ANGLE = 0.35

# Custom property on a mesh object that says which AdaMesh rig builder made it
RIG_MARKER_PROPERTY = "adamesh_rig"
DEMO_HEAD_MARKER = "demo_head"
ICT_FACE_MARKER = "ict_face"  # the ICT head (rig_builders/ict_head.py): an ARKit rig, recognised by its names

# The clip's rotations, in FLAME's joint order after the global rotation (neck, jaw, left eye, right eye)
ROTATION_SOURCES = ("head", "jaw", "left_eye", "right_eye")


class RigKind(str, Enum):
    FLAME = "FLAME"
    ARKIT = "ARKIT"
    DEMO_HEAD = "DEMO_HEAD"
    CUSTOM = "CUSTOM"


@dataclass(frozen=True)
class RigDescription:
    """What rig detection looks at, as plain names."""

    mesh_name: str
    shape_keys: tuple[str, ...]  # the mesh's shape keys, without the reference (Basis) key
    armature_name: str | None = None
    bones: tuple[str, ...] = ()
    marker: str | None = None  # the RIG_MARKER_PROPERTY value, if any
    # the rig's own lip millimetres per shape key, when it names its inner-lip vertices (lip_retarget)
    lip_calibration: LipCalibration | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CustomMapping:
    """The artist's explicit choice for a rig that is not recognised (or to override detection)."""

    channels: Mapping[str, str] = field(default_factory=dict)  # clip channel -> shape key
    head_bone: str | None = None
    jaw_bone: str | None = None
    jaw_open_key: str | None = None  # a shape key driven by the jaw rotation (see JAW_OPEN_FULL_ANGLE)


@dataclass(frozen=True)
class BoneTarget:
    bone: str
    source: str  # one of ROTATION_SOURCES: which clip rotation drives the bone


@dataclass(frozen=True)
class Corrective:
    """FLAME pose correctives of one joint: its 9 keys take (R - I) flattened row by row."""

    source: str  # one of ROTATION_SOURCES
    keys: tuple[str, ...]  # 9 shape keys


@dataclass(frozen=True)
class RigMapping:
    """Everything the keyframe writer needs to know about the rig, decided before any key is written."""

    kind: RigKind
    mesh_name: str
    armature_name: str | None
    shape_keys: Mapping[str, str]  # shape key -> the clip channel that drives it (a channel may drive several keys)
    bones: tuple[BoneTarget, ...] = ()
    jaw_open_key: str | None = None
    correctives: tuple[Corrective, ...] = ()
    notes: tuple[str, ...] = ()  # what is not animated, and why: for the operator's report
    # ARKit: the shape keys of mouthClose, kept at or below jawOpen on every frame (alone it pushes the lips through
    # each other); jawOpen is the derived jaw_open_key or the key of a clip channel named jawOpen
    mouth_close_keys: tuple[str, ...] = ()
    # ARKit rigs that name their inner lips: jawOpen and mouthClose are solved for the lip-gap contract
    lip_calibration: LipCalibration | None = field(default=None, compare=False)

    def keys_of(self, channel: str) -> tuple[str, ...]:
        return tuple(key for key, source in self.shape_keys.items() if source == channel)


def describe_rig(mesh_obj) -> RigDescription:
    """Read names off a Blender mesh object (and its armature) for detection."""
    if mesh_obj is None or mesh_obj.type != "MESH":
        raise RigError("select the face mesh (a mesh object with shape keys), not an armature or empty")
    key = mesh_obj.data.shape_keys
    reference = key.reference_key.name if key else None
    shape_keys = tuple(block.name for block in key.key_blocks if block.name != reference) if key else ()
    armature = find_armature(mesh_obj)
    marker = mesh_obj.get(RIG_MARKER_PROPERTY)
    return RigDescription(
        mesh_name=mesh_obj.name,
        shape_keys=shape_keys,
        armature_name=armature.name if armature else None,
        bones=tuple(bone.name for bone in armature.data.bones) if armature else (),
        marker=str(marker) if marker is not None else None,
        lip_calibration=_lip_calibration(mesh_obj),
    )


def _lip_calibration(mesh_obj) -> LipCalibration | None:
    """The rig's lip millimetres per shape key at the vertices its INNER_LIPS_PROPERTY names (None without)."""
    key = mesh_obj.data.shape_keys
    pairs = mesh_obj.get(INNER_LIPS_PROPERTY)
    if key is None or pairs is None:
        return None
    vertices = [int(index) for index in pairs]
    if len(vertices) < 2 or len(vertices) % 2 or max(vertices) >= len(mesh_obj.data.vertices) or min(vertices) < 0:
        raise RigError(
            f"'{mesh_obj.name}': its {INNER_LIPS_PROPERTY} property must list upper, lower vertex pairs "
            f"of the mesh, got {vertices}"
        )

    def points(block):
        return [tuple(block.data[index].co) for index in vertices]

    reference = key.reference_key
    keyed = {block.name: points(block) for block in key.key_blocks if block.name != reference.name}
    return LipCalibration.from_points(points(reference), keyed)


def find_armature(mesh_obj):
    """The armature deforming the mesh: its Armature modifier's object, else an armature parent, else None."""
    for modifier in mesh_obj.modifiers:
        if modifier.type == "ARMATURE" and modifier.object is not None:
            return modifier.object
    parent = mesh_obj.parent
    return parent if parent is not None and parent.type == "ARMATURE" else None


_ARKIT_BY_FOLDED = {name.lower(): name for name in ARKIT_52}
_SIDE_WORDS = {"l": "Left", "r": "Right"}
_SEPARATORS = str.maketrans("", "", "_.- ")


def arkit_channel_of(key: str) -> tuple[str, str | None] | None:
    """The ARKit channel a shape key name stands for, and the side of a split channel's half; None if it is no
    ARKit name. Spellings: Apple's (mouthSmileLeft), capitalised as in Live Link Face's CSV columns
    (MouthSmileLeft), with a side suffix _L, _l, .L, .l, -L or Left (mouthSmile_L), any of these after a namespace
    ("blendShape1.mouthSmileLeft", as FBX exports name them). A split half (browInnerUp_L, browInnerUpLeft) gives
    ("browInnerUp", "Left")."""
    name = key.strip()
    side = None
    if len(name) > 2 and name[-2] in "_.- " and name[-1].lower() in _SIDE_WORDS:
        side, name = _SIDE_WORDS[name[-1].lower()], name[:-2]
    if "." in name:  # a namespace: "blendShape1.jawOpen"
        name = name.rsplit(".", 1)[1]
    folded = name.translate(_SEPARATORS).lower()
    if side is None:
        found = _ARKIT_BY_FOLDED.get(folded)
        if found:
            return found, None
        for word in ("Left", "Right"):  # a split half spelt out: browInnerUpLeft
            whole = _ARKIT_BY_FOLDED.get(folded.removesuffix(word.lower())) if folded.endswith(word.lower()) else None
            if whole in ARKIT_SPLIT_CHANNELS:
                return whole, word
        return None
    sided = _ARKIT_BY_FOLDED.get(folded + side.lower())
    if sided:
        return sided, None
    whole = _ARKIT_BY_FOLDED.get(folded)
    return (whole, side) if whole in ARKIT_SPLIT_CHANNELS else None


def arkit_keys(rig: RigDescription) -> dict[str, tuple[str, ...]]:
    """ARKit channel -> the rig's shape keys for it (one, or the two halves of a split channel)."""
    found: dict[str, list[str]] = {}
    for key in rig.shape_keys:
        channel = arkit_channel_of(key)
        if channel is not None:
            found.setdefault(channel[0], []).append(key)
    return {channel: tuple(keys) for channel, keys in found.items()}


def arkit_channels_without_keys(rig: RigDescription) -> tuple[str, ...]:
    """The ARKit-52 channels the rig has no shape key for, in ARKIT_52's order (for the panel)."""
    found = arkit_keys(rig)
    return tuple(name for name in ARKIT_52 if name not in found)


def rig_channels(rig: RigDescription) -> tuple[str, ...]:
    """The channel names the rig takes: on an ARKit rig its channels in Apple's spelling, else its shape keys."""
    if detect_rig_kind(rig) is RigKind.ARKIT:
        return tuple(arkit_keys(rig))
    return rig.shape_keys


def detect_rig_kind(rig: RigDescription) -> RigKind:
    """FLAME, ARKit-52, the demo head, or CUSTOM when none fits (the artist then maps it by hand)."""
    keys = set(rig.shape_keys)
    if rig.marker == DEMO_HEAD_MARKER:
        return RigKind.DEMO_HEAD
    if rig.mesh_name.startswith(FLAME_MESH_PREFIX) or "Exp1" in keys:
        return RigKind.FLAME
    channels = arkit_keys(rig)
    if JAW_OPEN_KEY in channels and len(channels) >= ARKIT_MIN_NAMES:
        return RigKind.ARKIT
    return RigKind.CUSTOM


def map_rig(
    rig: RigDescription,
    clip_channels: Sequence[str],
    clip_has_eyes: bool = False,
    custom: CustomMapping | None = None,
) -> RigMapping:
    """Decide where each part of the clip goes; raise RigError naming whatever the rig lacks.

    A custom mapping, when given, wins over detection.
    """
    if not rig.shape_keys:
        raise RigError(
            f"mesh '{rig.mesh_name}' has no shape keys; AdaMesh drives a face through shape keys "
            "(FLAME Exp1..Exp100, ARKit names, or the ones a custom mapping picks)"
        )
    if custom is not None:
        return _map_custom(rig, clip_channels, custom)
    kind = detect_rig_kind(rig)
    if kind is RigKind.CUSTOM:
        raise RigError(
            f"'{rig.mesh_name}' is not a FLAME, ARKit-52 or AdaMesh demo-head rig; "
            "choose a custom mapping (head bone, jaw bone, shape-key channels)"
        )
    if kind is RigKind.ARKIT:
        return _map_arkit(rig, clip_channels)
    return _map_flame_convention(rig, kind, clip_channels, clip_has_eyes)


def preflight_rig(rig: RigDescription, custom: CustomMapping | None = None) -> None:
    """Raise RigError for what the rig lacks whatever channels the clip will hold (its kind, bones, a custom
    mapping's keys), so Generate can refuse before the backend works for nothing. Mapping the rig's own shape keys
    (or the custom mapping's channels) runs every check except the clip's channel names, which only the clip has."""
    map_rig(rig, tuple(custom.channels) if custom is not None else rig.shape_keys, False, custom)


def _map_flame_convention(rig: RigDescription, kind: RigKind, channels: Sequence[str], has_eyes: bool) -> RigMapping:
    """FLAME and the demo head: channels by name, FLAME's bones, FLAME's pose correctives when present."""
    shape_keys = _channels_by_name(rig, channels)
    _require_bones(rig, FLAME_BONES, f"a {kind.value} rig")
    sources = ROTATION_SOURCES if has_eyes else ROTATION_SOURCES[:2]
    bone_of_source = {"head": "neck", "jaw": "jaw", "left_eye": "left_eye", "right_eye": "right_eye"}
    bones = tuple(BoneTarget(bone_of_source[source], source) for source in sources)
    keys = set(rig.shape_keys)
    correctives, notes = [], []
    for joint, source in enumerate(sources):
        names = tuple(f"Pose{9 * joint + n}" for n in range(1, 10))
        if keys.issuperset(names):
            correctives.append(Corrective(source, names))
    if kind is RigKind.FLAME and len(correctives) < 2:
        notes.append(f"'{rig.mesh_name}' has no corrective keys Pose1..Pose18: pose-dependent deformation is not keyed")
    return RigMapping(kind, rig.mesh_name, rig.armature_name, shape_keys, bones, None, tuple(correctives), tuple(notes))


def _map_arkit(rig: RigDescription, channels: Sequence[str]) -> RigMapping:
    """ARKit-52 in any spelling: channels by meaning (a split channel drives both halves), jawOpen from the jaw
    rotation unless the clip has it, mouthClose under jawOpen, head on a neck/head bone when there is one. Clip
    channels the rig has no key for are noted, not refused (many ARKit rigs leave some out)."""
    keys_of = arkit_keys(rig)
    shape_keys = {key: channel for channel in channels for key in keys_of.get(channel, ())}
    jaw_keys = keys_of[JAW_OPEN_KEY]
    jaw_open_key = None if JAW_OPEN_KEY in channels else jaw_keys[0]
    head_bone = next((name for name in ARKIT_HEAD_BONES if name in rig.bones), None)
    notes = []
    unkeyed = [channel for channel in channels if channel not in keys_of]
    if unkeyed:
        notes.append(f"'{rig.mesh_name}' has no shape key for {_listing(unkeyed)}: not animated")
    if head_bone is None:
        notes.append(
            f"head motion is not keyed: '{rig.mesh_name}' has no armature bone named "
            f"{' / '.join(ARKIT_HEAD_BONES)}; pick one with a custom mapping"
        )
    bones = (BoneTarget(head_bone, "head"),) if head_bone else ()
    return RigMapping(
        RigKind.ARKIT,
        rig.mesh_name,
        rig.armature_name,
        shape_keys,
        bones,
        jaw_open_key,
        notes=tuple(notes),
        mouth_close_keys=keys_of.get(MOUTH_CLOSE_KEY, ()) if MOUTH_CLOSE_KEY in channels else (),
        lip_calibration=rig.lip_calibration if jaw_open_key and MOUTH_CLOSE_KEY in keys_of else None,
    )


def _map_custom(rig: RigDescription, channels: Sequence[str], custom: CustomMapping) -> RigMapping:
    not_in_clip = [channel for channel in custom.channels if channel not in channels]
    if not_in_clip:
        raise RigError(f"the custom mapping uses channels the clip does not have: {_listing(not_in_clip)}")
    wanted_keys = [*custom.channels.values(), *([custom.jaw_open_key] if custom.jaw_open_key else [])]
    absent = [key for key in wanted_keys if key not in rig.shape_keys]
    if absent:
        raise RigError(f"mesh '{rig.mesh_name}' has no shape key {_listing(absent)} named in the custom mapping")
    shared = sorted({key for key in wanted_keys if wanted_keys.count(key) > 1})
    if shared:
        raise RigError(f"the custom mapping drives shape key {_listing(shared)} from more than one channel")
    if custom.head_bone and custom.head_bone == custom.jaw_bone:
        raise RigError(f"the custom mapping uses bone '{custom.jaw_bone}' for both the head and the jaw")
    targets = [(custom.head_bone, "head"), (custom.jaw_bone, "jaw")]
    bones = tuple(BoneTarget(bone, source) for bone, source in targets if bone)
    _require_bones(rig, [target.bone for target in bones], "the custom mapping")
    if not custom.channels and not bones and not custom.jaw_open_key:
        raise RigError("the custom mapping is empty: pick at least one channel, the jaw or the head bone")
    shape_keys = {key: channel for channel, key in custom.channels.items()}
    return RigMapping(RigKind.CUSTOM, rig.mesh_name, rig.armature_name, shape_keys, bones, custom.jaw_open_key)


def _channels_by_name(rig: RigDescription, channels: Sequence[str]) -> dict[str, str]:
    keys = set(rig.shape_keys)
    missing = [channel for channel in channels if channel not in keys]
    if missing:
        raise RigError(
            f"mesh '{rig.mesh_name}' lacks shape keys for {len(missing)} of the clip's {len(channels)} channels "
            f"({_listing(missing)}); generate the clip for this rig, or choose a custom mapping"
        )
    return {channel: channel for channel in channels}  # shape key -> channel, the same name


def _require_bones(rig: RigDescription, bones: Sequence[str], needed_by: str) -> None:
    if not bones:
        return
    if rig.armature_name is None:
        raise RigError(f"mesh '{rig.mesh_name}' is not deformed by an armature, which {needed_by} needs")
    missing = [bone for bone in bones if bone not in rig.bones]
    if missing:
        raise RigError(f"armature '{rig.armature_name}' lacks bone {_listing(missing)}, which {needed_by} needs")


def _listing(names: Sequence[str], shown: int = 6) -> str:
    head = ", ".join(names[:shown])
    return head if len(names) <= shown else f"{head} and {len(names) - shown} more"
