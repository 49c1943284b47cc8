"""Convert the ICT Face Model Light (ICT-FaceKit, MIT licence) into the compact asset the project commits.

    python scripts/make_ict_face_asset.py SOURCE_DIR [--out assets/ict-face/ict_face.npz]

SOURCE_DIR holds ICT-FaceKit's FaceXModel files gzipped (generic_neutral_mesh.obj.gz, the 53 expression .obj.gz,
identity000..009.obj.gz, vertex_indices.json, LICENSE, CREDITS.md). Only this script reads it; everything else reads
the npz written here (see assets/ict-face/README.md for its keys). The licence and credits are copied verbatim
beside the npz. Expression and identity shapes are stored as sparse float16 deltas (cm): only the vertices a shape
moves by more than --threshold are kept. The largest error this introduces is printed and measured again from the
written file.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.core.files import write_atomically  # noqa: E402

FORMAT = "adamesh-ict-face/1"
IDENTITY_COUNT = 10
# (name, first vertex, last vertex + 1), from the FaceKit's README and checked against the material groups below.
PARTS = (
    ("face", 0, 9409),
    ("head_neck", 9409, 11248),
    ("mouth_socket", 11248, 13294),
    ("eye_sockets", 13294, 14062),
    ("gums_tongue", 14062, 17039),
    ("teeth_upper", 17039, 19247),
    ("teeth_lower", 19247, 21451),
    ("eyeball_left", 21451, 23021),
    ("eyeball_right", 23021, 24591),
    ("eye_wet", 24591, 25351),  # lacrimal fluid, eye blend, eye occlusion: made for transparent shaders
    ("lashes", 25351, 26719),
)
# Thresholds in cm; 1e-4 cm = 1 micrometre, far below float16's own step at the deltas' size.
DEFAULT_THRESHOLD = 1e-4


class SourceError(Exception):
    pass


def read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise SourceError(f"{path} is missing: SOURCE_DIR must hold ICT-FaceKit's FaceXModel files gzipped")
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return file.read().splitlines()


def read_vertices(path: Path) -> np.ndarray:
    rows = [line[2:] for line in read_lines(path) if line.startswith("v ")]
    return np.loadtxt(io.StringIO("\n".join(rows)), dtype=np.float64).reshape(-1, 3)


def read_mesh(path: Path) -> dict[str, np.ndarray]:
    """Vertices, UVs and polygons (with their material) of an OBJ whose faces are written `f v/vt v/vt ...`."""
    vertices, uvs, sizes, corners, uv_corners, face_material = [], [], [], [], [], []
    material_names: list[str] = []
    material = -1
    for line in read_lines(path):
        if line.startswith("v "):
            vertices.append(line[2:])
        elif line.startswith("vt "):
            uvs.append(line[3:])
        elif line.startswith("usemtl "):
            name = line.split(None, 1)[1].strip()
            if name not in material_names:
                material_names.append(name)
            material = material_names.index(name)
        elif line.startswith("f "):
            if material < 0:
                raise SourceError(f"{path}: a face comes before any usemtl")
            refs = line.split()[1:]
            sizes.append(len(refs))
            for ref in refs:
                parts = ref.split("/")
                corners.append(int(parts[0]) - 1)
                uv_corners.append(int(parts[1]) - 1)
            face_material.append(material)
    return {
        "neutral": np.loadtxt(io.StringIO("\n".join(vertices)), dtype=np.float64).reshape(-1, 3),
        "uv": np.loadtxt(io.StringIO("\n".join(uvs)), dtype=np.float64).reshape(-1, 2)[:, :2],
        "face_sizes": np.asarray(sizes, dtype=np.uint8),
        "face_vertices": np.asarray(corners, dtype=np.int32),
        "face_uv_indices": np.asarray(uv_corners, dtype=np.int32),
        "face_material": np.asarray(face_material, dtype=np.uint8),
        "material_names": np.asarray(material_names),
    }


def sparse_deltas(shapes: list[np.ndarray], neutral: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    offsets, vertex_runs, delta_runs = [0], [], []
    for shape in shapes:
        delta = shape - neutral
        moved = np.flatnonzero(np.abs(delta).max(axis=1) > threshold)
        vertex_runs.append(moved.astype(np.int32))
        delta_runs.append(delta[moved].astype(np.float16))
        offsets.append(offsets[-1] + len(moved))
    return {
        "offsets": np.asarray(offsets, dtype=np.int64),
        "vertices": np.concatenate(vertex_runs),
        "deltas": np.concatenate(delta_runs),
    }


def dense(offsets: np.ndarray, vertices: np.ndarray, deltas: np.ndarray, k: int, count: int) -> np.ndarray:
    out = np.zeros((count, 3), dtype=np.float64)
    out[vertices[offsets[k] : offsets[k + 1]]] = deltas[offsets[k] : offsets[k + 1]].astype(np.float64)
    return out


def largest_error(written: dict, key: str, shapes: list[np.ndarray], neutral: np.ndarray) -> float:
    offsets, vertices, deltas = (written[f"{key}_{part}"] for part in ("offsets", "vertices", "deltas"))
    stored = written["neutral"].astype(np.float64)
    return max(
        float(np.abs(stored + dense(offsets, vertices, deltas, k, len(neutral)) - shape).max())
        for k, shape in enumerate(shapes)
    )


def convert(source: Path, out: Path, threshold: float) -> dict[str, float]:
    indices_path = source / "vertex_indices.json"
    if not indices_path.is_file():
        raise SourceError(f"{indices_path} is missing")
    indices = json.loads(indices_path.read_text())
    names = list(indices["expressions"])
    mesh = read_mesh(source / "generic_neutral_mesh.obj.gz")
    neutral = mesh["neutral"]
    if PARTS[-1][2] != len(neutral):
        raise SourceError(f"the neutral mesh has {len(neutral)} vertices, the FaceKit's ranges end at {PARTS[-1][2]}")
    print(f"neutral: {len(neutral)} vertices, {len(mesh['face_sizes'])} polygons, {len(mesh['uv'])} UVs")

    expressions = [read_vertices(source / f"{name}.obj.gz") for name in names]
    identities = [read_vertices(source / f"identity{k:03d}.obj.gz") for k in range(IDENTITY_COUNT)]
    for name, shape in zip(names + [f"identity{k:03d}" for k in range(IDENTITY_COUNT)], expressions + identities):
        if shape.shape != neutral.shape:
            raise SourceError(f"{name}: {shape.shape[0]} vertices, the neutral mesh has {neutral.shape[0]}")

    expression = sparse_deltas(expressions, neutral, threshold)
    identity = sparse_deltas(identities, neutral, threshold)
    arrays = {
        "format": np.asarray(FORMAT),
        "neutral": neutral.astype(np.float32),
        **{key: mesh[key] for key in ("face_sizes", "face_vertices", "face_material", "material_names")},
        "uv": mesh["uv"].astype(np.float32),
        "face_uv_indices": mesh["face_uv_indices"],
        "expression_names": np.asarray(names),
        **{f"expression_{key}": value for key, value in expression.items()},
        **{f"identity_{key}": value for key, value in identity.items()},
        "landmarks68": np.asarray(indices["idx_to_landmark_verts"], dtype=np.int32),
        "part_names": np.asarray([name for name, _, _ in PARTS]),
        "part_ranges": np.asarray([(start, stop) for _, start, stop in PARTS], dtype=np.int32),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda file: np.savez_compressed(file, **arrays))
    for name in ("LICENSE", "CREDITS.md"):
        shutil.copyfile(source / name, out.parent / name)

    with np.load(out, allow_pickle=False) as written:
        loaded = {key: written[key] for key in written.files}
    figures = {
        "neutral_error_cm": float(np.abs(loaded["neutral"].astype(np.float64) - neutral).max()),
        "expression_error_cm": largest_error(loaded, "expression", expressions, neutral),
        "identity_error_cm": largest_error(loaded, "identity", identities, neutral),
        "uv_error": float(np.abs(loaded["uv"].astype(np.float64) - mesh["uv"]).max()),
        "expression_vertices": int(len(loaded["expression_vertices"])),
        "identity_vertices": int(len(loaded["identity_vertices"])),
        "megabytes": out.stat().st_size / 1e6,
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="folder with ICT-FaceKit's FaceXModel files (.obj.gz)")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "ict-face" / "ict_face.npz")
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="smallest per-vertex delta kept, cm (default %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        figures = convert(args.source, args.out, args.threshold)
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for key, value in figures.items():
        print(f"{key}: {value:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
