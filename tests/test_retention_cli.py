"""`docsvc retention run` marks due documents (as of a given day) and `docsvc retention due --csv` lists them."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from docsvc.config import Settings
from docsvc.runtime import Runtime
from tests.conftest import docsvc_cli
from tests.retention_data import filed

pytestmark = pytest.mark.integration   # runs the docsvc command


def test_cli_runs_the_daily_job_and_lists_what_is_due(embedded_runtime: Runtime, embedded_settings: Settings) -> None:
    with embedded_runtime.sessions() as s:
        filed(s, "3000000001", "JC", date(2020, 6, 30), title="用电检查单 2020")  # due 2031-01-01
        filed(s, "3000000001", "ZJ", date(2000, 1, 1), title="王建国身份证")   # sensitive, D30: due 2031-01-01 too
        filed(s, "3000000001", "HT", date(1990, 1, 1), title="供用电合同")     # 永久
    env = {"DOCSVC_DATA_DIR": str(embedded_settings.data_dir)}
    run = docsvc_cli("retention", "run", "--date", "2031-01-01", env=env)
    assert run.returncode == 0, run.stderr
    assert "新到期 2 份" in run.stdout
    listed = docsvc_cli("retention", "due", "--csv", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = list(csv.reader(io.StringIO(listed.stdout.lstrip("\ufeff"))))
    assert [(r[1], r[2], r[3], r[4]) for r in rows[1:]] == [
        ("JC", "3000000001", "用电检查单 2020", "2031-01-01"),
        ("ZJ", "3000000001", "【敏感材料，已隐藏】", "2031-01-01")]
    table = docsvc_cli("retention", "due", env=env)
    assert "共 2 份到期待鉴定" in table.stdout and "供用电合同" not in table.stdout
