"""Run every benchmark in bench/ and print one table of their figures (`make bench`).

Protocol: a benchmark is a script `bench/<name>.py` that accepts `--quick` and prints its results as lines
`FIGURE <name> <value> <unit>` (anything else it prints is shown only with --verbose).

    .venv/bin/python bench/run_all.py            # full runs
    .venv/bin/python bench/run_all.py --quick    # fewer rounds, for CI
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


@dataclass(frozen=True)
class Figure:
    bench: str
    name: str
    value: str
    unit: str


def parse_figures(bench: str, output: str) -> list[Figure]:
    figures = []
    for line in output.splitlines():
        parts = line.strip().split(maxsplit=3)
        if len(parts) >= 3 and parts[0] == "FIGURE":
            figures.append(Figure(bench, parts[1], parts[2], parts[3] if len(parts) > 3 else ""))
    return figures


def run(script: Path, quick: bool, timeout: float) -> tuple[list[Figure], str, float]:
    """The figures of one benchmark, its error ('' when it succeeded) and how long it took."""
    command = [sys.executable, str(script), *(["--quick"] if quick else [])]
    start = time.perf_counter()
    try:
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], f"timed out after {timeout:.0f} s", time.perf_counter() - start
    took = time.perf_counter() - start
    error = ""
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        error = f"exit {result.returncode}: {last}"
    return parse_figures(script.stem, result.stdout), error, took


def table(figures: list[Figure]) -> str:
    header = ("bench", "figure", "value", "unit")
    rows = [header, *((f.bench, f.name, f.value, f.unit) for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3]]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--only", action="append", default=[], help="run only this benchmark (repeatable)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per benchmark")
    args = parser.parse_args()
    scripts = sorted(
        p for p in BENCH.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")
    )
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only]
    figures: list[Figure] = []
    failures: list[str] = []
    for script in scripts:
        print(f"running {script.name}{' --quick' if args.quick else ''} ...", file=sys.stderr, flush=True)
        found, error, took = run(script, args.quick, args.timeout)
        figures += found
        if error:
            failures.append(f"{script.stem}: {error}")
        elif not found:
            failures.append(f"{script.stem}: printed no FIGURE lines")
        print(f"  {script.stem}: {len(found)} figures in {took:.1f} s", file=sys.stderr, flush=True)
    print(table(figures))
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
