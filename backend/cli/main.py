"""The backend's command line: `python -m backend COMMAND ...` (`--help` on any command says more).

Commands import their modules lazily, so `convert` or `plot` never pay for torch or librosa start-up.
A user-caused problem (an `AdaMeshError`) ends in one clear line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from backend.cli.data_commands import add_data_commands
from backend.cli.model_commands import add_model_commands
from backend.cli.track_command import add_track_command
from backend.core.errors import AdaMeshError


def run_worker(args: argparse.Namespace) -> None:
    from backend.worker.server import main as serve

    sys.exit(serve())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_data_commands(commands)
    add_model_commands(commands)
    add_track_command(commands)

    worker = commands.add_parser(
        "worker", help="serve the Blender add-on: JSON-line requests on stdin, events on stdout"
    )
    worker.set_defaults(run=run_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except AdaMeshError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
