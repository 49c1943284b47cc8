"""The one check of a file's format tag ("adamesh-style/1", "adamesh-checkpoint/1"): ours or not, this version,
a newer one, or an unknown one, each with its own message."""

from __future__ import annotations

from pathlib import Path

from backend.core.errors import AdaMeshError


def check_format_tag(
    path: Path,
    found: str | None,
    expected: str,
    what: str,
    written_by: str,
    error: type[AdaMeshError],
    older_readable: tuple[str, ...] = (),
) -> None:
    """Raise `error` unless `found` is `expected` (family/version) or one of the `older_readable` versions; `what`
    names the kind of file ("style file"), `written_by` what makes such files ("Adapt Style")."""
    family, version = expected.split("/")
    if found == expected or found in {f"{family}/{v}" for v in older_readable}:
        return
    if found is None or found.partition("/")[0] != family:
        holds = f"holds {found!r}" if found else "has no AdaMesh format tag"
        raise error(f"{path} is not an AdaMesh {what} (it {holds}); give a file written by {written_by}")
    found_version = found.partition("/")[2]
    if found_version.isdigit() and int(found_version) > int(version):
        raise error(
            f"{path} is a {what} of format {found}, made by a newer AdaMesh than this backend reads "
            f"({expected}); update the AdaMesh add-on (it brings the backend that reads it)"
        )
    raise error(f"{path} has the unknown {what} format {found!r}; this backend reads {expected}")
