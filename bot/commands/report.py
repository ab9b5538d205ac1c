"""`python -m bot report [--days N] [--out FILE.png]`: the owner's summary as text and a picture."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"нужно целое число от 1, а не {value}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--days", type=_positive, default=7, metavar="N", help="за сколько последних дней (по умолчанию 7)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="ФАЙЛ.png",
        help="куда сохранить картинку (по умолчанию DATA_DIR/report-ГГГГ-ММ-ДД.png)",
    )


def main(args: argparse.Namespace) -> int:
    from bot.bootstrap import build_app
    from bot.cli import setup_logging
    from bot.config import load_settings
    from bot.report.build import render_report

    settings = load_settings()
    setup_logging("WARNING", tz=settings.tz)
    app = build_app(settings)
    try:
        text, png = render_report(app, args.days)
        out: Path = (
            args.out or settings.data_dir / f"report-{app.clock.now().astimezone(settings.tz):%Y-%m-%d}.png"
        )
    finally:
        app.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
    sys.stdout.write(text)
    sys.stdout.write(f"\nКартинка: {out}\n")
    return 0
