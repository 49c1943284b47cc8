"""The face trackers whose output files AdaMesh reads (backend/clips/trackers.py): named here, without numpy, so the
command line and the options types can list them without loading the readers."""

TRACKERS = ("vhap", "deca", "smirk")
