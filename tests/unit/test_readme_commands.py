"""Every command README.md gives works as written from the repository root: make targets and CLI arguments."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from bot.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Inline `code` and the lines of ``` blocks: the places a reader copies a command from.
SPANS = re.findall(r"`([^`\n]+)`", README) + [
    line.split("#")[0].strip()
    for block in re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S)
    for line in block.splitlines()
]
# КОМАНДА, COMMAND, a trailing «…»: a pattern, not a command (DAYS=30 is a make variable, kept).
PLACEHOLDER = re.compile(r"\b[A-ZА-ЯЁ]{4,}\b(?!=)|…")


def commands(prefix: str) -> list[str]:
    found = {span for span in SPANS if span.startswith(prefix) and not PLACEHOLDER.search(span)}
    return sorted(found)


def test_readme_has_the_quick_start_commands_first() -> None:
    quick = README[: README.index("\n---\n")]
    for command in ("make chat", "make test", "cp .env.example .env", "make check"):
        assert command in quick, command
    assert len(quick.encode()) < 12_000  # short: the reference comes after it


def test_no_command_needs_the_system_python() -> None:
    bare = [s for s in SPANS if re.match(r"(python3? )-m bot\b", s)]
    assert bare == [], "README must give `make …` or `.venv/bin/…` forms: " + ", ".join(bare)


@pytest.mark.parametrize("command", commands("make "))
def test_each_make_command_is_a_target(command: str) -> None:
    words = shlex.split(command)
    assert words[0] == "make" and len(words) >= 2
    # -n: print what would run without running it; an unknown target makes make fail.
    result = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    if words[1] in {"check", "check-knowledge", "init-sheet", "report", "chat", "run"}:
        assert "-m bot" in result.stdout


@pytest.mark.parametrize(
    "command", [*commands(".venv/bin/clinic-bot "), *commands(".venv/bin/python -m bot ")]
)
def test_each_cli_command_parses(command: str) -> None:
    words = shlex.split(command)
    args = words[1:] if words[0].endswith("clinic-bot") else words[3:]
    parsed = build_parser().parse_args(args)
    assert parsed.command in {"chat", "run", "check", "init-sheet", "report"}


def test_the_make_forms_pass_their_arguments() -> None:
    result = subprocess.run(
        ["make", "-n", "report", "DAYS=30", "OUT=отчет.png"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "-m bot report --days 30 --out 'отчет.png'" in result.stdout
    result = subprocess.run(["make", "-n", "chat", "USER_ID=anna"], cwd=ROOT, capture_output=True, text=True)
    assert "-m bot chat --user anna" in result.stdout
    result = subprocess.run(["make", "-n", "check-knowledge"], cwd=ROOT, capture_output=True, text=True)
    assert "-m bot check --knowledge" in result.stdout
