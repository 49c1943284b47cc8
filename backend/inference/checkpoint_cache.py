"""The worker's loaded checkpoint, kept between requests so each Generate does not rebuild the models.

Loading the starter builds ~5 M parameters from its file (~0.6 s here, more on a cold disk or a GPU), as long as
generating a sentence; the worker keeps the last checkpoint it loaded, on its device, and reads the file again
when it changed (another mtime or size). One at a time: jobs run one at a time, and a second would double memory.
"""

from __future__ import annotations

from pathlib import Path

from backend.models.checkpoint_file import Checkpoint, load_checkpoint, resolve_checkpoint
from backend.models.devices import select_device

_loaded: tuple[tuple, Checkpoint] | None = None  # (path, mtime, size, device), the checkpoint


def loaded_checkpoint(path: str | Path | None, device: str = "auto") -> Checkpoint:
    """The checkpoint at `path` (None: the starter) on `device`, loaded once and reused while the file is the same.

    Callers must leave the models as they found them (eval mode, no adapters left switched on): the next request
    gets the same objects.
    """
    global _loaded
    resolved = resolve_checkpoint(path)
    target = select_device(device)
    if not resolved.is_file():
        return load_checkpoint(resolved, target)  # raises the CheckpointError that names the missing file
    stat = resolved.stat()
    key = (str(resolved.resolve()), stat.st_mtime_ns, stat.st_size, str(target))
    if _loaded is None or _loaded[0] != key:
        _loaded = None  # let the previous models go before the next ones take memory
        _loaded = (key, load_checkpoint(resolved, target))
    return _loaded[1]
