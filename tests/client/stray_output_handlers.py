"""A worker request handler that writes to stdout the way careless libraries do (Python print and C-level writes)."""

import os


def handle_noisy(params, job):
    print("stray print from a library")
    os.write(1, b"stray write to file descriptor 1\n")
    return {"printed": True}
