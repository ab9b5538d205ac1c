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
            f"{where} cannot be created: {_reason(exc)}; create it or set DATA_DIR to a writable folder",
        )
    if not path.is_dir():
        return False, f"{where} is not a folder; set DATA_DIR to a writable folder"
    probe = path / f".write-probe-{os.getpid()}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * _PROBE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return False, f"{where} is not writable: {_reason(exc)}; {_fix(exc)}"
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    usage = shutil.disk_usage(path)
    free_mb = usage.free / (1024 * 1024)
    if usage.free < min_free_bytes:
        return False, (
            f"{where}: the disk is almost full ({free_mb:.0f} MB free, at least "
            f"{min_free_bytes / (1024 * 1024):.0f} MB needed); free some space or move DATA_DIR"
        )
    return True, f"{where} is writable, {free_mb:.0f} MB free"


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno == errno.EFBIG:
        return "the file size limit is reached"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "it is read-only for this user"
    return exc.strerror or str(exc)


def _fix(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "free some space or move DATA_DIR to a larger disk"
    return "give the service's user write access or set DATA_DIR to a writable folder"
