"""Faults at start: a read-only or full DATA_DIR stops `python -m bot chat` with one clear line."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bot_env import bot_env

ROOT = Path(__file__).resolve().parents[2]


def readonly_command(data: Path, command: list[str]) -> list[str]:
    """The command run with `data` read-only: chmod for a normal user; a read-only bind mount for root."""
    if os.geteuid() != 0:
        data.chmod(0o555)
        return command
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: cannot make a folder read-only")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("running as root without mount namespaces: cannot make a folder read-only")
    script = f'mount --bind "{data}" "{data}" && mount -o remount,bind,ro "{data}" && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, "sh", *command]


def test_read_only_data_dir_is_reported_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    command = readonly_command(data, [sys.executable, "-m", "bot", "chat", "--user", "ro"])
    try:
        result = subprocess.run(
            command,
            input="Здравствуйте\n",
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=bot_env(data),
            timeout=60,
        )
    finally:
        data.chmod(0o755)
    assert result.returncode == 2
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    assert "DATA_DIR" in line and str(data) in line and "только чтение" in line
    assert result.stdout == ""  # the patient was not greeted by a bot that cannot record anything


def _no_file_growth() -> None:  # pragma: no cover - runs in the child
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


def test_full_disk_is_reported_at_start(tmp_path: Path) -> None:
    """A file-size limit makes every write beyond 1 KB fail, as on a full disk."""
    data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", "full"],
        input="Здравствуйте\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=bot_env(data),
        timeout=60,
        preexec_fn=_no_file_growth,
    )
    assert result.returncode == 2
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    assert "DATA_DIR" in line and "нельзя записывать" in line and "место" in line


def test_check_reports_a_read_only_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    command = readonly_command(data, [sys.executable, "-m", "bot", "check"])
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, cwd=tmp_path, env=bot_env(data), timeout=60
        )
    finally:
        data.chmod(0o755)
    assert result.returncode != 0
    [line] = [x for x in result.stdout.splitlines() if x.startswith("✗")]
    assert "Папка данных" in line and "нельзя записывать" in line and "DATA_DIR" in line


def test_check_reports_a_full_disk(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=bot_env(data),
        timeout=60,
        preexec_fn=_write_nothing,
    )
    assert result.returncode != 0
    assert any(
        x.startswith("✗ Папка данных") and "нельзя записывать" in x for x in result.stdout.splitlines()
    )


def _write_nothing() -> None:  # pragma: no cover - runs in the child
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
