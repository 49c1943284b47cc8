"""Safetensors files written atomically and read with errors that say what is wrong with the file.

A safetensors file is an 8-byte little-endian header length, a JSON header (tensor names, dtypes, shapes, byte
offsets, and a "__metadata__" table of strings) and the tensor bytes. The header is checked here before any tensor
is read, so a truncated download, a file of another kind and a damaged header each get their own message.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from backend.core.errors import AdaMeshError
from backend.core.files import write_atomically

_MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit: a larger length means the file is something else


def write_tensors(path: Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> None:
    """Write tensors and string metadata as one safetensors file, atomically."""
    payload = save({name: t.detach().contiguous().cpu() for name, t in tensors.items()}, dict(metadata))
    write_atomically(Path(path), lambda f: f.write(payload))


def read_tensors(path: Path, what: str, error: type[AdaMeshError]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; any problem raises `error` naming the file and the `what`."""
    metadata = read_metadata(path, what, error)
    try:
        tensors = load_file(path)
    except SafetensorError as err:
        raise error(f"{path} is a damaged {what} ({err}); replace it with a fresh copy") from None
    return tensors, metadata


def read_metadata(path: Path, what: str, error: type[AdaMeshError]) -> dict[str, str]:
    """Check the header of a safetensors file (without reading its tensors) and return its metadata table."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} {path} does not exist" if not path.exists() else f"{what} {path} is not a file")
    size = path.stat().st_size
    with path.open("rb") as file:
        start = file.read(9)
        (header_length,) = struct.unpack("<Q", start[:8]) if len(start) >= 8 else (None,)
        not_safetensors = error(f"{path} is not a {what} (not a safetensors file)")
        if header_length is None:
            raise not_safetensors if size else error(f"{path} is empty; it is not a {what}")
        if header_length > _MAX_HEADER_BYTES or start[8:9] not in (b"{", b""):
            raise not_safetensors
        truncated = error(
            f"{path} is truncated ({size} bytes): the {what} was not completely written or "
            "copied; replace it with a complete copy"
        )
        if 8 + header_length > size:
            raise truncated
        file.seek(8)
        raw_header = file.read(header_length)
    try:
        header = json.loads(raw_header)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise error(f"{path} has a damaged header; it is not a usable {what}") from None
    if not isinstance(header, dict):
        raise not_safetensors
    ends = [
        entry["data_offsets"][1]
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry
    ]
    if ends and 8 + header_length + max(ends) > size:
        raise truncated
    metadata = header.get("__metadata__") or {}
    return {str(k): str(v) for k, v in metadata.items()}
