"""The `docsvc` command as an operator uses it, in the embedded default."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.samples import form_text
from tests.conftest import docsvc_cli
from tests.scans import image_pdf_bytes, text_pdf_bytes, tiff_bytes

pytestmark = pytest.mark.integration   # every test runs the docsvc command


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {"DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_OCR_ENGINE": "tesseract"}
    assert docsvc_cli("db", "upgrade", env=env).returncode == 0
    return env


def test_service_refuses_to_start_on_an_unmigrated_database(tmp_path: Path) -> None:
    result = docsvc_cli("serve", "--port", "1", env={"DOCSVC_DATA_DIR": str(tmp_path / "fresh")}, timeout=60)
    assert result.returncode != 0
    assert "docsvc db upgrade" in result.stderr


def test_the_command_speaks_chinese_unless_docsvc_language_says_english(cli_env: dict[str, str]) -> None:
    """Help, reports and errors in Chinese by default; DOCSVC_LANGUAGE=en turns all of them to English,
    and neither prints the two languages side by side."""
    helped = docsvc_cli("--help", env=cli_env)
    assert helped.returncode == 0
    assert "客户档案扫描件管理" in helped.stdout and "用户账户" in helped.stdout
    assert "document management" not in helped.stdout
    option = docsvc_cli("import", "--help", env=cli_env)
    assert "等待所有页处理完毕" in option.stdout and "户号" in option.stdout
    checked = docsvc_cli("check", env=cli_env)
    assert checked.returncode == 0 and "数据库、对象存储与索引一致" in checked.stdout
    assert "agree" not in checked.stdout
    missing = docsvc_cli("user", "disable", "nobody", env=cli_env)
    assert missing.returncode != 0 and "用户“nobody”不存在。" in missing.stderr and "No user" not in missing.stderr

    english = {**cli_env, "DOCSVC_LANGUAGE": "en"}
    helped = docsvc_cli("--help", env=english)
    assert helped.returncode == 0
    assert "document management for scanned customer files" in helped.stdout and "User accounts." in helped.stdout
    assert not re.search(r"[\u4e00-\u9fff]", helped.stdout)
    option = docsvc_cli("import", "--help", env=english)
    assert "Wait until every page is processed." in option.stdout and "ACCOUNT" in option.stdout
    assert not re.search(r"[\u4e00-\u9fff]", option.stdout)
    checked = docsvc_cli("check", env=english)
    assert checked.returncode == 0 and "database, object store and index agree" in checked.stdout
    assert not re.search(r"[\u4e00-\u9fff]", checked.stdout)
    missing = docsvc_cli("user", "disable", "nobody", env=english)
    assert missing.returncode != 0 and "No user nobody." in missing.stderr
    assert not re.search(r"[\u4e00-\u9fff]", missing.stderr)


def test_user_and_token_creation(cli_env: dict[str, str]) -> None:
    created = docsvc_cli("user", "create", "li", "--role", "operator", "--role", "archivist",
                         "--password-stdin", env=cli_env, input="long enough secret\n")
    assert created.returncode == 0, created.stderr
    token = docsvc_cli("token", "create", "li", env=cli_env)
    assert token.returncode == 0
    assert token.stdout.strip().splitlines()[-1].startswith("dsv_")
    duplicate = docsvc_cli("user", "create", "li", "--role", "viewer", "--password-stdin",
                           env=cli_env, input="long enough secret\n")
    assert duplicate.returncode != 0 and "已存在" in duplicate.stderr
    short = docsvc_cli("user", "create", "wang", "--role", "viewer", "--password-stdin", env=cli_env, input="x\n")
    assert short.returncode != 0 and "8" in short.stderr


def test_ensure_admin_prints_a_password_once(cli_env: dict[str, str]) -> None:
    first = docsvc_cli("user", "ensure-admin", env=cli_env)
    assert "admin /" in first.stdout
    assert docsvc_cli("user", "ensure-admin", env=cli_env).stdout == ""


def test_import_walks_folders_and_reports_each_bad_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    scans = tmp_path / "scans" / "box1"
    scans.mkdir(parents=True)
    (scans / "a.pdf").write_bytes(text_pdf_bytes([form_text(21)], tmp_path))
    (scans / "nested").mkdir()
    (scans / "nested" / "b.tif").write_bytes(tiff_bytes([22]))
    (scans / "notes.txt").write_text("not a scan")

    result = docsvc_cli("import", str(tmp_path / "scans"), env=cli_env)

    assert result.returncode == 1  # one file refused: the batch is partial
    assert "notes.txt" in result.stdout and "PDF" in result.stdout
    assert "页 2/2" in result.stdout
    assert "识别" in result.stderr  # the progress bar


def test_hot_folder_ingests_complete_files_and_sorts_them_into_done_and_failed(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    (hot / "scan.pdf").write_bytes(image_pdf_bytes([23]))
    (hot / "broken.pdf").write_bytes(b"%PDF-1.4\n% cut off in the middle of the ")
    (hot / "still-writing.tif.part").write_bytes(b"II*\0")

    result = docsvc_cli("watch", str(hot), "--interval", "0.5", "--once", env=cli_env, timeout=300)

    assert result.returncode == 0, result.stderr
    assert (hot / "done" / "scan.pdf").exists()
    assert (hot / "failed" / "broken.pdf").exists()
    error = (hot / "failed" / "broken.pdf.error.txt").read_text(encoding="utf-8")
    assert "PDF" in error
    assert (hot / "still-writing.tif.part").exists()  # a file still being written is left alone
