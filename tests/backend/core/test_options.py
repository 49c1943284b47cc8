"""One options type per request: the command line, the worker's JSON and the add-on's request records all carry the
same options, so none can drift from the others (an option the CLI has and the add-on cannot send, or a field the
add-on sends that the worker never reads)."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from adamesh_blender.client.requests import AdaptRequest, GenerateRequest
from backend.adaptation.adapt_options import AdaptOptions
from backend.cli.main import build_parser
from backend.clips import READERS
from backend.core.options import OptionError, from_arguments, from_params, option_names
from backend.core.trackers import TRACKERS
from backend.inference.generate_options import GenerateOptions

# Request fields that are not options: the files a request names, and what the add-on knows of its rig.
REQUEST_ONLY = {
    "generate": {"audio", "out", "rig_channels"},  # rig_channels: the worker notes clip channels the rig lacks
    "adapt": {"audio", "motion", "video", "tracked", "out"},  # tracked: where to keep a video's tracked motion
}
CASES = [("generate", GenerateOptions, GenerateRequest), ("adapt", AdaptOptions, AdaptRequest)]


def command_parser(command: str) -> argparse.ArgumentParser:
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return subcommands.choices[command]


@pytest.mark.parametrize("command, options, request_type", CASES, ids=[c[0] for c in CASES])
def test_the_addons_request_carries_exactly_the_options(command, options, request_type):
    fields = {f.name for f in dataclasses.fields(request_type)}
    assert fields - REQUEST_ONLY[command] == set(option_names(options))
    assert request_type.request_type == command


@pytest.mark.parametrize("command, options, request_type", CASES, ids=[c[0] for c in CASES])
def test_the_addons_defaults_are_the_backends(command, options, request_type):
    defaults = {f.name: f.default for f in dataclasses.fields(request_type) if f.default is not dataclasses.MISSING}
    for field in dataclasses.fields(options):
        if field.name in defaults:
            assert defaults[field.name] == field.default, field.name


@pytest.mark.parametrize("command, options, request_type", CASES, ids=[c[0] for c in CASES])
def test_every_option_is_a_command_line_flag(command, options, request_type):
    destinations = {action.dest for action in command_parser(command)._actions}
    assert set(option_names(options)) <= destinations


def test_command_line_and_json_give_the_same_options():
    args = build_parser().parse_args(
        [
            "generate",
            "--audio",
            "a.wav",
            "--out",
            "a.npz",
            "--fps",
            "29.97",
            "--seed",
            "3",
            "--pose-strength",
            "1.5",
            "--no-blinks",
            "--phonetic",
            "none",
        ]
    )
    from_cli = from_arguments(GenerateOptions, args)
    from_json = from_params(
        GenerateOptions,
        {"fps": 29.97, "seed": 3, "pose_strength": 1.5, "blinks": False, "phonetic": "none", "audio": "a.wav"},
        "generate",
    )
    assert from_cli == from_json == GenerateOptions(fps=29.97, seed=3, pose_strength=1.5, blinks=False, phonetic="none")


def test_json_nulls_keep_defaults_and_integers_pass_as_floats():
    assert from_params(AdaptOptions, {"audio_end": None, "audio_start": 2}, "adapt") == AdaptOptions(audio_start=2.0)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"seed": "3"}, "generate needs 'seed' (int), got '3'"),
        ({"blinks": 1}, "generate needs 'blinks' (bool), got 1"),
        ({"seed": True}, "generate needs 'seed' (int), got True"),
        ({"fps": float("nan")}, "generate needs 'fps' as a finite number"),
        ({"phonetic": "loud"}, "generate: 'phonetic' must be one of words, allphone, none, got 'loud'"),
    ],
)
def test_wrong_json_options_name_the_key_and_what_it_needs(params, message):
    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_params(GenerateOptions, params, "generate")


def test_the_trackers_named_without_numpy_are_the_ones_read():
    assert tuple(READERS) == TRACKERS
