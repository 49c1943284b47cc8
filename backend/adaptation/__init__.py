"""Adapt Style's parts: the reference (reference.py), expression adaptation with MoLoRA (expression.py), pose-style
retrieval (pose.py) and the style statistics the benchmark and tests compare (statistics.py).
backend/adaptation/adapt_style.py puts them together into a style file."""
