"""Sub-commands beyond validate/inspect (codec, text, conformance); registered into the parser."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    return None
