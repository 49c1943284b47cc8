#!/usr/bin/env python3
"""The one entry point a newcomer needs.

    python build.py setup    make .venv (pinned requirements) and install the speech engines when possible
    python build.py test     setup, then run the whole test suite in Blender 5.0 and the Blender-side tests in
                             each older supported line (4.5 LTS, 4.2 LTS; one venv each); --blender 4.5: one line
    python build.py demo     setup, then run the demo (what exists of it so far)
    python build.py build    package the Blender extension: dist/adamesh-<version>.zip, checked by Blender's validator
    python build.py demo-head --out FILE.blend   save the demo head (the ICT face) alone in a .blend
        [--identity K --identity-weight W]      another face: the ICT model's identity mode K (0-9) at weight W
        [--egg]                                 the small egg-shaped test head instead

Set-up is idempotent: the venv is reinstalled only when a requirements file changes (a hash stamp), so the
second run costs a second. Standard library only: this file runs before any dependency exists.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import venv
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQUIREMENTS = ROOT / "requirements" / "dev.txt"
# The face tracker's pins, installed without their declared dependencies (see the file: jax, opencv-contrib, ...
# are never imported); pip has no per-file --no-deps, hence a second install rather than `-r` in dev.txt.
TRACKING_REQUIREMENTS = ROOT / "requirements" / "tracking.txt"
STAMP_NAME = ".adamesh-requirements.sha256"


@dataclass(frozen=True)
class BlenderLine:
    """A Blender release line the add-on is tested on: the venv holding its bpy wheel, and what the tests run."""

    name: str
    venv: Path
    requirements: Path
    tests: str
    no_deps_requirements: Path | None = None  # installed after `requirements`, with --no-deps


# The newest line is the main venv and runs the whole suite; each older supported line gets its own venv (its bpy
# wheel, the latest patch on PyPI for Python 3.11, plus the backend the tests start) and runs the Blender-side
# tests. The oldest line must not be newer than the manifest's blender_version_min (tests/blender/test_versions.py).
BLENDER_LINES = (
    BlenderLine("5.0", VENV, REQUIREMENTS, "tests", TRACKING_REQUIREMENTS),
    BlenderLine("4.5", ROOT / ".venv-blender-4.5", ROOT / "requirements" / "blender-4.5.txt", "tests/blender"),
    BlenderLine("4.2", ROOT / ".venv-blender-4.2", ROOT / "requirements" / "blender-4.2.txt", "tests/blender"),
)

# bpy 5.0.1, the Blender module the add-on is tested in, exists only for CPython 3.11 (bpy 5.1+ needs 3.13).
PYTHON_VERSION = (3, 11)

# Debian packages of the synthetic corpus's speech engines: libespeak-ng for phoneme-timed formant speech,
# Festival and three voices built from real recordings (docs/architecture.md section 6).
SYSTEM_PACKAGES = {
    "espeak-ng": "espeak-ng",
    "libespeak-ng1": "libespeak-ng1",
    "festival": "festival",
    "festvox-kallpc16k": "kal_diphone voice",
    "festvox-kdlpc16k": "ked_diphone voice",
    "festvox-us-slt-hts": "cmu_us_slt_arctic_hts voice",
}


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def venv_python(folder: Path = VENV) -> Path:
    return folder / "bin" / "python"


def included_requirements(path: Path) -> set[Path]:
    """The requirements file and every file it pulls in with `-r`."""
    found = {path}
    for line in path.read_text().splitlines():
        if line.startswith("-r "):
            found |= included_requirements(path.parent / line[3:].strip())
    return found


def requirements_digest(*requirements: Path) -> str:
    """Of every file the venv installs (the main venv: dev.txt, backend.txt and tracking.txt)."""
    files = set().union(*(included_requirements(path) for path in requirements))
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda path: path.name):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def find_python311() -> str:
    if sys.version_info[:2] == PYTHON_VERSION:
        return sys.executable
    for name in ("python3.11", "python3"):
        found = shutil.which(name)
        if found:
            version = subprocess.run(
                [found, "-c", "import sys; print(sys.version_info[:2] == (3, 11))"], capture_output=True, text=True
            ).stdout.strip()
            if version == "True":
                return found
    sys.exit(
        "[build] Python 3.11 is required (bpy 5.0.1, the Blender module the tests use, exists only for 3.11); "
        f"this is {sys.version.split()[0]}. Install python3.11 and run `python3.11 build.py ...`."
    )


def missing_system_packages() -> list[str]:
    if not shutil.which("dpkg-query"):
        return []
    missing = []
    for package in SYSTEM_PACKAGES:
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True).stdout
        if "install ok installed" not in status:
            missing.append(package)
    return missing


def ensure_system_packages() -> None:
    missing = missing_system_packages()
    if not missing:
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        log(f"installing Debian packages: {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        result = subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env)
        if result.returncode == 0:
            return
    log(
        f"cannot install {', '.join(missing)} (needs apt-get as root); the corpus falls back to the engines "
        "present and the tests that need the missing ones are skipped with the reason"
    )


def ensure_venv(
    folder: Path = VENV, requirements: Path = REQUIREMENTS, no_deps_requirements: Path | None = TRACKING_REQUIREMENTS
) -> None:
    """Create or update a venv from pinned requirements; pip's cache serves the wheels another venv downloaded."""
    digest = requirements_digest(requirements, *([no_deps_requirements] if no_deps_requirements else []))
    stamp = folder / STAMP_NAME
    if venv_python(folder).exists() and stamp.exists() and stamp.read_text() == digest:
        return
    started = time.monotonic()
    if not venv_python(folder).exists():
        log(f"creating {folder.relative_to(ROOT)}")
        python = find_python311()
        if python == sys.executable:
            venv.EnvBuilder(with_pip=True).create(folder)
        else:
            subprocess.run([python, "-m", "venv", str(folder)], check=True)
    log(f"installing {requirements.relative_to(ROOT)} (first time: torch, bpy and librosa, a few minutes)")
    pip_install(folder, "-r", str(requirements))
    if no_deps_requirements is not None:
        pip_install(folder, "--no-deps", "-r", str(no_deps_requirements))
    stamp.write_text(digest)
    log(f"{folder.relative_to(ROOT)} ready in {time.monotonic() - started:.0f} s")


def pip_install(folder: Path, *args: str) -> None:
    subprocess.run(
        [str(venv_python(folder)), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args], check=True
    )


def setup() -> None:
    ensure_system_packages()
    ensure_venv()


def run_in_venv(*args: str, folder: Path = VENV) -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([str(venv_python(folder)), *args], cwd=ROOT, env=env).returncode


def command_setup(_: argparse.Namespace, extra: list[str]) -> int:
    setup()
    return 0


@dataclass(frozen=True)
class LineResult:
    line: BlenderLine
    returncode: int
    counts: dict[str, int]
    seconds: float

    def summary(self) -> str:
        counts = ", ".join(f"{number} {what}" for what, number in self.counts.items() if number) or "no tests"
        verdict = "ok" if self.returncode == 0 else f"FAILED (exit status {self.returncode})"
        return f"Blender {self.line.name} ({self.line.tests}): {counts} in {self.seconds / 60:.1f} min: {verdict}"


def junit_counts(report: Path) -> dict[str, int]:
    """passed / failed / errors / skipped from pytest's JUnit XML report (empty when pytest wrote none)."""
    if not report.exists():
        return {}
    suites = ElementTree.parse(report).getroot()
    totals = {
        key: sum(int(suite.get(key, 0)) for suite in suites.iter("testsuite"))
        for key in ("tests", "failures", "errors", "skipped")
    }
    passed = totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"]
    return {"passed": passed, "failed": totals["failures"], "errors": totals["errors"], "skipped": totals["skipped"]}


def run_line(line: BlenderLine, extra: list[str]) -> LineResult:
    ensure_venv(line.venv, line.requirements, line.no_deps_requirements)
    log(f"Blender {line.name}: pytest {line.tests}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="adamesh-test-") as folder:
        report = Path(folder) / "report.xml"
        # -rs prints why each skipped test was skipped (a missing speech engine, for example).
        returncode = run_in_venv(
            "-m",
            "pytest",
            line.tests,
            "-q",
            "-rs",
            f"--junit-xml={report}",
            *extra,
            folder=line.venv,
        )
        counts = junit_counts(report)
    return LineResult(line, returncode, counts, time.monotonic() - started)


def command_test(args: argparse.Namespace, extra: list[str]) -> int:
    ensure_system_packages()
    lines = [line for line in BLENDER_LINES if args.blender in (None, line.name)]
    results = [run_line(line, extra) for line in lines]
    for result in results:
        log(result.summary())
    # pytest's status 5 (no tests collected, e.g. a -k that matches only the full suite) is not a failure of a line
    return max((0 if result.returncode in (0, 5) else 1) for result in results)


def command_demo(_: argparse.Namespace, extra: list[str]) -> int:
    setup()
    return run_in_venv(str(ROOT / "scripts" / "demo.py"), *extra)


MANIFEST = ROOT / "blender_manifest.toml"
DIST = ROOT / "dist"
# The zip's root is the extension's folder: the add-on package's contents beside the manifest, plus the bundled
# backend and the requirements "Install backend" and "Install Video Tracker" use (adamesh_blender/bundle.py finds
# them there), and the face model the video tracker fits (with its licence).
PACKAGE_SOURCES = {
    ROOT / "adamesh_blender": ".",
    ROOT / "backend": "backend",
    ROOT / "requirements" / "backend.txt": "requirements/backend.txt",
    ROOT / "requirements" / "tracking.txt": "requirements/tracking.txt",
    ROOT / "assets" / "ict-face": "assets/ict-face",  # the demo head and the tracker's face model, with its MIT LICENSE
    ROOT / "assets" / "tracking": "assets/tracking",
    MANIFEST: "blender_manifest.toml",
}
PACKAGE_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def manifest_version() -> str:
    with MANIFEST.open("rb") as manifest:
        return tomllib.load(manifest)["version"]


def blender_tool(relative: str) -> Path:
    """A file of the bpy wheel in the venv (Blender's own extension tools ship inside it)."""
    found = sorted(VENV.glob(f"lib*/python3*/site-packages/bpy/*/{relative}")) + sorted(
        VENV.glob(f"Lib/site-packages/bpy/*/{relative}")
    )
    if not found:
        sys.exit(f"[build] {relative} is missing from the bpy wheel in {VENV}; run `python build.py setup`")
    return found[-1]


def stage_package(staging: Path) -> None:
    for source, target in PACKAGE_SOURCES.items():
        destination = staging / target
        if source.is_dir():
            shutil.copytree(source, destination, ignore=PACKAGE_IGNORED, dirs_exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def command_build(args: argparse.Namespace, extra: list[str]) -> int:
    ensure_venv()  # Blender's validator comes with the bpy wheel
    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    package = out_dir / f"adamesh-{manifest_version()}.zip"
    extension_tool = blender_tool("scripts/addons_core/bl_pkg/cli/blender_ext.py")
    # the tags extensions.blender.org accepts, so a typo in the manifest fails here and not on upload
    valid_tags = blender_tool("scripts/modules/_bpy_internal/extensions/tags.py")
    with tempfile.TemporaryDirectory(prefix="adamesh-package-") as staging:
        stage_package(Path(staging))
        # blender_ext writes a hidden temp file beside the zip and renames it: never a half-written package
        built = subprocess.run(
            [
                str(venv_python()),
                str(extension_tool),
                "build",
                "--source-dir",
                staging,
                "--output-filepath",
                str(package),
                "--valid-tags",
                str(valid_tags),
            ]
        )
    if built.returncode != 0:
        return built.returncode
    validated = subprocess.run(
        [str(venv_python()), str(extension_tool), "validate", str(package), "--valid-tags", str(valid_tags)]
    )
    if validated.returncode == 0:
        log(
            f"built {package.relative_to(ROOT) if package.is_relative_to(ROOT) else package} "
            f"({package.stat().st_size / 1e6:.1f} MB)"
        )
    return validated.returncode


# Run in the venv's bpy module: an empty factory scene, the demo head, saved (Blender saves to a temp file and
# renames it, so a failed save leaves no half-written .blend). Arguments: out, "egg" or "ict", identity, weight.
DEMO_HEAD_SCRIPT = """
import sys
import bpy
from adamesh_blender.rig_builders.demo_head import build_demo_head
from adamesh_blender.rig_builders.ict_head import build_ict_head
bpy.ops.wm.read_factory_settings(use_empty=True)
identity = None if sys.argv[3] == "none" else int(sys.argv[3])
if sys.argv[2] == "egg":
    head = build_demo_head()
else:
    head = build_ict_head(identity=identity, identity_weight=float(sys.argv[4]))
bpy.context.view_layer.objects.active = head
head.select_set(True)
if bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1]) != {"FINISHED"}:
    sys.exit(f"could not save {sys.argv[1]}")
"""


def command_demo_head(args: argparse.Namespace, extra: list[str]) -> int:
    setup()
    out = Path(args.out).resolve()
    if out.suffix != ".blend":
        sys.exit(f"[build] --out must name a .blend file, got {args.out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.egg and args.identity is not None:
        sys.exit("[build] --identity picks a face of the ICT head, not of the --egg test head")
    if args.identity is not None and not 0 <= args.identity <= 9:
        sys.exit(f"[build] --identity must be 0 to 9 (the ICT model's identity modes), got {args.identity}")
    identity = "none" if args.identity is None else str(args.identity)
    rig = "egg" if args.egg else "ict"
    returncode = run_in_venv("-c", DEMO_HEAD_SCRIPT, str(out), rig, identity, str(args.identity_weight))
    if returncode == 0:
        log(f"wrote {out}")
    return returncode


COMMANDS = {
    "setup": command_setup,
    "test": command_test,
    "demo": command_demo,
    "build": command_build,
    "demo-head": command_demo_head,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--out", help="demo-head: the .blend file to write")
    parser.add_argument("--identity", type=int, help="demo-head: the ICT model's identity mode 0-9 for another face")
    parser.add_argument("--identity-weight", type=float, default=1.0, help="demo-head: weight of --identity")
    parser.add_argument("--egg", action="store_true", help="demo-head: the small egg-shaped test head")
    parser.add_argument("--out-dir", default=str(DIST), help="build: where the zip goes (default: dist/)")
    parser.add_argument(
        "--blender",
        choices=[line.name for line in BLENDER_LINES],
        help="test: run one Blender line only (default: every line)",
    )
    args, extra = parser.parse_known_args()
    if args.command == "demo-head" and not args.out:
        parser.error("demo-head needs --out FILE.blend")
    return COMMANDS[args.command](args, extra)


if __name__ == "__main__":
    sys.exit(main())
