"""The ICT face (assets/ict-face, MIT): a scanned head with 53 ARKit-named expression shapes and 10 identity modes,
the face model the tracker fits to landmarks. Source convention: centimetres, +Y up, +Z forward, subject's left +X.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from backend.core.errors import AdaMeshError

ASSET = Path(__file__).resolve().parents[2] / "assets" / "ict-face" / "ict_face.npz"
FORMAT = "adamesh-ict-face/1"


@dataclass(frozen=True)
class ICTFace:
    neutral: np.ndarray  # float32 [V, 3] cm
    expression_names: tuple[str, ...]  # 53 ICT names, e.g. mouthSmile_L
    landmarks68: np.ndarray  # int32 [68] vertex per Multi-PIE landmark
    _expressions: tuple[np.ndarray, np.ndarray, np.ndarray]  # offsets, vertices, deltas (sparse)
    _identities: tuple[np.ndarray, np.ndarray, np.ndarray]

    def expression_basis(self, vertices: np.ndarray) -> np.ndarray:
        """float32 [53, len(vertices), 3]: how each shape at full weight moves these vertices (cm)."""
        return _dense(*self._expressions, np.asarray(vertices))

    def identity_basis(self, vertices: np.ndarray) -> np.ndarray:
        """float32 [10, len(vertices), 3]: the identity modes at these vertices (cm)."""
        return _dense(*self._identities, np.asarray(vertices))


def _dense(offsets: np.ndarray, vertex_ids: np.ndarray, deltas: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    lookup = np.full(int(max(vertex_ids.max(), vertices.max())) + 1, -1, dtype=np.int64)
    lookup[vertices] = np.arange(len(vertices))
    basis = np.zeros((len(offsets) - 1, len(vertices), 3), dtype=np.float32)
    for k in range(len(offsets) - 1):
        ids, moves = vertex_ids[offsets[k] : offsets[k + 1]], deltas[offsets[k] : offsets[k + 1]]
        rows = lookup[ids]
        kept = rows >= 0
        basis[k, rows[kept]] = moves[kept].astype(np.float32)
    return basis


@lru_cache(maxsize=2)
def load_ict_face(path: str | Path = ASSET) -> ICTFace:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if str(arrays["format"]) != FORMAT:
                raise AdaMeshError(f"{path} is {arrays['format']!s}, not the {FORMAT} face the tracker reads")
            return ICTFace(
                neutral=arrays["neutral"].astype(np.float32),
                expression_names=tuple(str(name) for name in arrays["expression_names"]),
                landmarks68=arrays["landmarks68"].astype(np.int64),
                _expressions=(arrays["expression_offsets"], arrays["expression_vertices"], arrays["expression_deltas"]),
                _identities=(arrays["identity_offsets"], arrays["identity_vertices"], arrays["identity_deltas"]),
            )
    except (OSError, KeyError, ValueError) as error:
        raise AdaMeshError(f"the face model {path} is missing or damaged ({error}); reinstall the add-on") from None
