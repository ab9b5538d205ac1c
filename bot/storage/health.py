"""Is DATA_DIR usable? Checked at start (the service refuses to run blind) and by `check`."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

__all__ = ["MIN_FREE_BYTES", "check_data_dir"]

MIN_FREE_BYTES = 20 * 1024 * 1024  # below this the SQLite journal and leads.csv may fail mid-write
_PROBE_BYTES = 64 * 1024


def check_data_dir(path: Path, min_free_bytes: int = MIN_FREE_BYTES) -> tuple[bool, str]:
    """(True, summary) when the folder exists or can be created, accepts a written file and has room;
    otherwise (False, one line saying what is wrong and how to fix it)."""
    where = f"DATA_DIR {path}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return (
            False,
            f"папку {where} не удаётся создать: {_reason(exc)}; создайте её или укажите в DATA_DIR папку, "
            "куда можно записывать",
        )
    if not path.is_dir():
        return False, f"{where} — не папка; укажите в DATA_DIR папку, куда можно записывать"
    probe = path / f".write-probe-{os.getpid()}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * _PROBE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return False, f"в {where} нельзя записывать: {_reason(exc)}; {_fix(exc)}"
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    usage = shutil.disk_usage(path)
    free_mb = usage.free / (1024 * 1024)
    if usage.free < min_free_bytes:
        return False, (
            f"{where}: диск почти заполнен (свободно {free_mb:.0f} МБ, нужно не меньше "
            f"{min_free_bytes / (1024 * 1024):.0f} МБ); освободите место или перенесите DATA_DIR на другой диск"
        )
    return True, f"в {where} можно записывать, свободно {free_mb:.0f} МБ"


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "диск заполнен"
    if exc.errno == errno.EFBIG:
        return "достигнут предел размера файла"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "у этого пользователя нет права записи (только чтение)"
    return exc.strerror or str(exc)


def _fix(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "освободите место на диске или перенесите DATA_DIR на диск побольше"
    return "дайте пользователю сервиса право записи или укажите в DATA_DIR папку, куда можно записывать"
