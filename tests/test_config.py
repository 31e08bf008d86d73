"""Configuration explains itself: a wrong value names the variable, the value and what is accepted."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from docsvc import cli, i18n
from docsvc.config import ConfigError, Settings

ROOT = Path(__file__).resolve().parent.parent

# every setting with one value it must refuse, and a word of what the message must say is accepted
BAD_VALUES = {
    "DOCSVC_DATA_DIR": None,                      # any path is a data directory
    "DOCSVC_DATABASE_URL": ("nonsense", "postgresql+psycopg://"),
    "DOCSVC_REDIS_URL": ("localhost:6379", "redis://"),
    "DOCSVC_S3_ENDPOINT": ("http://minio:9000", "host[:port]"),
    "DOCSVC_S3_ACCESS_KEY": None,                 # free text
    "DOCSVC_S3_SECRET_KEY": None,                 # free text
    "DOCSVC_S3_BUCKET": ("My_Bucket", "lowercase"),
    "DOCSVC_S3_SECURE": ("maybe", "1/0, true/false, yes/no or on/off"),
    "DOCSVC_OCR_ENGINE": ("abbyy", "rapidocr, tesseract"),
    "DOCSVC_SECRET_KEY": None,                    # free text
    "DOCSVC_WORKERS": ("two", "positive whole number"),
    "DOCSVC_OCR_DPI": ("300dpi", "positive whole number"),
    "DOCSVC_OCR_DETECTION_SIDE": ("4000", "from 640 to 2000"),
    "DOCSVC_OCR_THREADS": ("0", "from 1 to 16"),
    "DOCSVC_MAX_UPLOAD_MB": ("-1", "positive whole number"),
    "DOCSVC_JOB_TIMEOUT": ("15m", "positive whole number"),
    "DOCSVC_JOB_MEMORY_MB": ("256", "at least 512"),
    "DOCSVC_CLAIM_LEASE": ("5min", "number above 0"),
    "DOCSVC_HOT_FOLDER_POLL": ("0", "number above 0"),
    "DOCSVC_AUDIT_RETENTION_DAYS": ("30", "at least 183"),
    "DOCSVC_AUDIT_DURABLE_READS": ("y", "1/0, true/false, yes/no or on/off"),
    "DOCSVC_SECURE_COOKIES": ("enabled", "1/0, true/false, yes/no or on/off"),
    "DOCSVC_ACCOUNT_PATTERN": ("[0-9", "regular expression"),
    "DOCSVC_ARCHIVE_CODE_PATTERN": ("{fonds}-{year}", "{seq}"),
    "DOCSVC_FONDS": None,                         # free text
    "DOCSVC_ARCHIVE_CATEGORY": None,
    "DOCSVC_ARCHIVE_ORG": None,
    "DOCSVC_AUTOFILE": ("ture", "1/0, true/false, yes/no or on/off"),
    "DOCSVC_AUTOFILE_CONFIDENCE": ("1.5", "at most 1"),
    "DOCSVC_SEPARATORS": ("cover,qr", "cover, patch_t, blank"),
    "DOCSVC_SESSION_IDLE_MINUTES": ("0", "positive whole number"),
    "DOCSVC_SESSION_MAX_HOURS": ("12h", "positive whole number"),
    "DOCSVC_PROXY_HOPS": ("-1", "at least 0"),
    "DOCSVC_TIMEZONE": ("Beijing", "IANA time zone"),
    "DOCSVC_TRUSTED_PROXIES": ("10.0.0.0/33", "IP addresses or networks"),
    "DOCSVC_DESTRUCTION_WAIT_DAYS": ("a week", "at least 0"),
    "DOCSVC_FIXITY_DAILY_MB": ("2GB", "positive whole number"),
    "DOCSVC_FIXITY_RATE_MB_S": ("0", "number above 0"),
    "DOCSVC_PASSWORD_HASH_MEMORY_KIB": ("32", "at least 64"),
    "DOCSVC_PASSWORD_HASH_ITERATIONS": ("three", "positive whole number"),
    "DOCSVC_LOG_FORMAT": ("xml", "text, json"),
    "DOCSVC_METRICS_TOKEN": None,                 # free text
    "DOCSVC_BACKUP_DIR": None,                    # a folder: checked when a backup starts
    "DOCSVC_WORKER_METRICS_PORT": ("70000", "0 to 65535"),
    "DOCSVC_LANGUAGE": ("fr", "zh, en"),
}


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"DOCSVC_DATA_DIR": str(tmp_path), "DOCSVC_SECRET_KEY": "test", **values}


def test_the_table_covers_every_setting_config_reads() -> None:
    source = (ROOT / "docsvc" / "config.py").read_text(encoding="utf-8")
    assert set(re.findall(r'"(DOCSVC_[A-Z0-9_]+)"', source)) == set(BAD_VALUES)


@pytest.mark.parametrize("name", [n for n, bad in BAD_VALUES.items() if bad])
def test_a_wrong_value_names_the_variable_the_value_and_what_is_accepted(name: str, tmp_path: Path) -> None:
    """In Chinese by default, in English for whoever reads English; never both at once."""
    value, accepted = BAD_VALUES[name]
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(_env(tmp_path, **{name: value}))
    chinese = str(caught.value)
    assert chinese.startswith(f"{name}={value}: ")
    assert re.search(r"[\u4e00-\u9fff]", chinese.split(": ", 1)[1]) and "expected" not in chinese
    with i18n.using("en"), pytest.raises(ConfigError) as caught:
        Settings.from_env(_env(tmp_path, **{name: value}))
    english = str(caught.value)
    assert english.startswith(f"{name}={value}: ")
    assert accepted in english
    assert english.split(": ", 1)[1].isascii(), "English only"


def test_the_metrics_directory_must_exist_and_be_writable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "missing")))
    assert str(caught.value).startswith(f"PROMETHEUS_MULTIPROC_DIR={tmp_path / 'missing'}: ")
    assert Settings.from_env(_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))).metrics_multiproc_dir == tmp_path


@pytest.mark.parametrize("spelling", ["1", "true", "TRUE", "Yes", "on", " On "])
def test_booleans_accept_clear_spellings_of_yes(spelling: str, tmp_path: Path) -> None:
    settings = Settings.from_env(_env(tmp_path, DOCSVC_SECURE_COOKIES=spelling, DOCSVC_AUTOFILE=spelling))
    assert settings.secure_cookies is True and settings.filing.autofile is True


@pytest.mark.parametrize("spelling", ["0", "false", "No", "OFF"])
def test_booleans_accept_clear_spellings_of_no(spelling: str, tmp_path: Path) -> None:
    settings = Settings.from_env(_env(tmp_path, DOCSVC_SECURE_COOKIES=spelling, DOCSVC_AUTOFILE=spelling))
    assert settings.secure_cookies is False and settings.filing.autofile is False


def test_unset_or_empty_values_mean_the_documented_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env(_env(tmp_path, DOCSVC_WORKERS="", DOCSVC_AUTOFILE=""))
    assert settings.inprocess_workers == 2 and settings.filing.autofile is True
    assert settings.ocr_engine == "rapidocr" and settings.filing.separators == ("cover",)
    assert Settings.from_env(_env(tmp_path, DOCSVC_SEPARATORS="none")).filing.separators == ()


def test_good_values_are_read_as_their_types(tmp_path: Path) -> None:
    settings = Settings.from_env(_env(
        tmp_path, DOCSVC_WORKERS="4", DOCSVC_HOT_FOLDER_POLL="0.5", DOCSVC_AUTOFILE_CONFIDENCE="0.8",
        DOCSVC_OCR_ENGINE="Tesseract", DOCSVC_S3_ENDPOINT="minio:9000", DOCSVC_SEPARATORS="cover, blank",
        DOCSVC_REDIS_URL="redis://127.0.0.1:6379/0", DOCSVC_ARCHIVE_CODE_PATTERN="{fonds}-{year}-{seq:05d}"))
    assert settings.inprocess_workers == 4 and settings.hot_folder_poll_s == 0.5
    assert settings.filing.autofile_confidence == 0.8 and settings.ocr_engine == "tesseract"
    assert settings.filing.separators == ("cover", "blank") and settings.s3_endpoint == "minio:9000"


def test_the_command_line_prints_the_sentence_and_exits_non_zero(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    for name, value in _env(tmp_path, DOCSVC_WORKERS="two").items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli.main, ["serve"])
    assert result.exit_code == 1
    assert "DOCSVC_WORKERS=two: 需要正整数\n" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    monkeypatch.setenv("DOCSVC_LANGUAGE", "en")
    result = CliRunner().invoke(cli.main, ["serve"])
    assert result.exit_code == 1
    assert "DOCSVC_WORKERS=two: expected a positive whole number\n" in result.output


@pytest.mark.integration   # a process of its own
def test_docsvc_serve_stops_at_start_up_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, **_env(tmp_path, DOCSVC_AUTOFILE="ture"), "PYTHONPATH": str(ROOT), "DOCSVC_LANGUAGE": "en"}
    done = subprocess.run([sys.executable, "-m", "docsvc.cli", "serve"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "DOCSVC_AUTOFILE=ture: expected 1/0, true/false, yes/no or on/off" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Traceback" not in done.stderr
