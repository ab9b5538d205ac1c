"""check_data_dir: a usable DATA_DIR passes; a file in its place or a nearly full disk is named clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import build_app
from bot.config import Settings
from bot.errors import StorageError
from bot.storage.health import check_data_dir


def test_a_writable_folder_is_fine_and_created(tmp_path: Path) -> None:
    ok, message = check_data_dir(tmp_path / "new" / "data")
    assert ok and "можно записывать" in message and "МБ" in message
    assert (tmp_path / "new" / "data").is_dir()
    assert list((tmp_path / "new" / "data").iterdir()) == []  # the probe leaves nothing behind


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    ok, message = check_data_dir(tmp_path / "data")
    assert not ok and "DATA_DIR" in message and str(tmp_path / "data") in message


def test_a_path_below_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    ok, message = check_data_dir(tmp_path / "file" / "data")
    assert not ok and "не удаётся создать" in message and "DATA_DIR" in message


def test_too_little_free_space_is_reported_with_the_figures(tmp_path: Path) -> None:
    ok, message = check_data_dir(tmp_path, min_free_bytes=1 << 62)
    assert not ok and "диск почти заполнен" in message and "МБ" in message


def test_build_app_refuses_a_bad_data_dir(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x")
    bad = settings.model_copy(update={"data_dir": tmp_path / "blocker" / "data"})
    with pytest.raises(StorageError, match="DATA_DIR"):
        build_app(bad)
