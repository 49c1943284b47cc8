"""The manifest may promise only the Blender lines the suite proves: build.py's BLENDER_LINES run the tests."""

import tomllib
from pathlib import Path

import build

ROOT = Path(__file__).resolve().parents[2]


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_manifests_oldest_blender_is_a_line_the_suite_runs():
    with (ROOT / "blender_manifest.toml").open("rb") as file:
        minimum = version(tomllib.load(file)["blender_version_min"])
    oldest = min(version(line.name) for line in build.BLENDER_LINES)
    assert minimum[:2] >= oldest, (
        f"blender_manifest.toml says Blender {'.'.join(map(str, minimum))} and later, but the oldest line the "
        f"tests run is {'.'.join(map(str, oldest))}"
    )


def test_each_older_line_pins_a_bpy_wheel_of_that_line():
    for line in build.BLENDER_LINES:
        pins = [row for row in line.requirements.read_text().splitlines() if row.startswith("bpy==")]
        assert len(pins) == 1 and version(pins[0].removeprefix("bpy=="))[:2] == version(line.name), line
