"""`python -m backend COMMAND ...` (and `torchrun -m backend train ...`): the command line lives in backend/cli/."""

import sys

from backend.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
