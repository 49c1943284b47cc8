"""The tests read only what the repository holds (and what they make in temp folders): an audit hook fails any
`open` of a file in another project folder, so test data can never again come from a path outside the checkout.

Allowed: the checkout, the Python installation and its venv (libraries read their own data there), temp folders,
and system locations that libraries read (/usr, /etc, /dev, /proc, /sys, caches under the home folder)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SYSTEM = ("/usr", "/etc", "/dev", "/proc", "/sys", "/lib", "/lib64", "/opt", "/var", "/run", "/bin", "/snap")


def allowed_roots() -> tuple[str, ...]:
    home = Path.home()
    roots = {
        ROOT,
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        Path(tempfile.gettempdir()),
        home / ".cache",
        home / ".config",
        home / ".local",
        home / ".pyenv",
        home / ".matplotlib",
    }
    roots |= {root.resolve() for root in list(roots) if root.exists()}
    return tuple(str(root) for root in roots) + _SYSTEM


class OutsideRepositoryRead(RuntimeError):
    pass


def install() -> None:
    roots = allowed_roots()

    def audit(event: str, args: tuple) -> None:
        if event != "open" or not isinstance(args[0], (str, os.PathLike)):
            return
        path = os.path.abspath(os.fspath(args[0]))
        if not any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots):
            raise OutsideRepositoryRead(
                f"a test opened {path}, outside the repository: commit the data it needs (with its licence) instead"
            )

    sys.addaudithook(audit)
