"""Placeholder until its issue lands: the command explains that it is not available yet."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    print("this command is not built yet", file=sys.stderr)
    return 1
