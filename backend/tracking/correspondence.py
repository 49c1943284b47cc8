"""Which MediaPipe Face Mesh points stand for the 68 Multi-PIE landmarks the ICT mesh carries (`landmarks68`).

The table is the usual MediaPipe-to-dlib correspondence (where a Multi-PIE point falls between two mesh points,
their mean). Indices 0..16 are the face contour: a 2-D silhouette in Multi-PIE but fixed mesh points in both
models, so they disagree as the head turns and are left out of every fit here.
"""

from __future__ import annotations

import numpy as np

MEDIAPIPE_68 = (
    # face contour 0..16 (from the subject's right ear to the left)
    (127,),
    (234,),
    (93,),
    (132, 58),
    (58, 172),
    (136,),
    (150,),
    (176,),
    (152,),
    (400,),
    (379,),
    (365,),
    (397, 288),
    (361,),
    (323,),
    (454,),
    (356,),
    # brows 17..26 (subject's right, then left)
    (70,),
    (63,),
    (105,),
    (66,),
    (107,),
    (336,),
    (296,),
    (334,),
    (293,),
    (300,),
    # nose bridge 27..30, nostrils 31..35
    (168, 6),
    (197, 195),
    (5,),
    (4,),
    (75,),
    (97,),
    (2,),
    (326,),
    (305,),
    # eyes 36..41 (subject's right: outer corner, upper lid, inner corner, lower lid), 42..47 (left)
    (33,),
    (160,),
    (158,),
    (133,),
    (153,),
    (144,),
    (362,),
    (385,),
    (387,),
    (263,),
    (373,),
    (380,),
    # outer lip 48..59 from the right corner over the upper lip, inner lip 60..67
    (61,),
    (39,),
    (37,),
    (0,),
    (267,),
    (269,),
    (291,),
    (405,),
    (314,),
    (17,),
    (84,),
    (181,),
    (78,),
    (82,),
    (13,),
    (312,),
    (308,),
    (317,),
    (14,),
    (87,),
)

FITTED = np.arange(17, 68)  # every landmark but the contour
# Points that move little with expression: the nose's bridge and tip and the eye corners. The head's rotation is
# fitted to them. Not the nostrils (31-35): the upper lip and a smile pull them (measured in the closed loop: with
# them the roll erred 1.5 deg RMS and the jaw channel correlated 0.47 with the truth; without, 0.5 deg and 0.72).
RIGID = np.array([27, 28, 29, 30, 36, 39, 42, 45])
MOUTH = np.arange(48, 68)
# The mouth's corners, outer and inner (48, 54, 60, 64): the ends of the lip line. Sharp across the line (its height),
# vague along it (where a fading junction ends): MediaPipe slides them along the line towards a symmetric mouth.
MOUTH_CORNERS = np.array([48, 54, 60, 64])

# Eyelids (MediaPipe indices): upper and lower lid midpoints and the corners, subject's left then right.
EYELIDS = {"left": (386, 374, 362, 263), "right": (159, 145, 33, 133)}


def landmarks68(points: np.ndarray) -> np.ndarray:
    """[..., 478, 3] MediaPipe points -> [..., 68, 3] Multi-PIE landmarks."""
    return np.stack([points[..., list(indices), :].mean(axis=-2) for indices in MEDIAPIPE_68], axis=-2)


# MediaPipe points beyond the 68 that see what the lips cannot: the chin and the skin under the lower lip (the jaw
# behind closed lips), the cheeks (a smile lifts them). They follow the ICT vertex nearest to where MediaPipe puts
# them on the neutral head (assets/tracking/ict_mediapipe.npz).
EXTRA = (152, 175, 199, 200, 18, 171, 396, 32, 262, 208, 428, 50, 280, 205, 425, 207, 427, 101, 330)

# Nose bridge and tip, nostrils, eye corners as MediaPipe indices: the template's cameras are fitted to them.
RIGID_POINTS = (168, 6, 197, 195, 5, 4, 75, 97, 2, 326, 305, 33, 133, 362, 263)
SUBNASALE = 2  # below it, the lower face: the mouth, the chin
N_MESH_POINTS = 468  # then the 10 iris points, which follow the gaze, not the face
