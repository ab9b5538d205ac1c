"""The environment for running `python -m bot ...` in a test: no outside service, the project's files."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE_PREFIXES = ("TELEGRAM", "OPENAI", "GOOGLE", "WHATSAPP", "MAX_")


def without_services() -> dict[str, str]:
    """This process's environment minus any real service a developer may have configured."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_PREFIXES)}


def bot_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Embedded defaults with data in `data_dir`, the project's knowledge and prompts, plus `extra`."""
    env = without_services()
    env.update(
        DATA_DIR=str(data_dir), KNOWLEDGE_DIR=str(ROOT / "knowledge"), PROMPTS_DIR=str(ROOT / "prompts")
    )
    env.update(extra)
    return env
