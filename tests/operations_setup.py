"""What the operations tests share: a customer list to import, the browser steps that start its import, waiting
for an operation to end, and a second browser (the reload that must find the run where it is)."""
from __future__ import annotations

import io
import re
import time

from flask.testing import FlaskClient

from docsvc.constants import JobState
from tests.conftest import PASSWORD, AuthActions, _csrf_from


def customers_csv(rows: int, bad_rows: int = 0) -> bytes:
    lines = ["户号,户名,用电地址"]
    lines += [f"{3100000000 + n},客户{n},城东区人民路{n}号" for n in range(rows)]
    lines += [f"x{n},坏行{n}," for n in range(bad_rows)]  # not a 10-digit 户号: rejected
    return ("\n".join(lines) + "\n").encode("utf-8")


def start_import(client: FlaskClient, auth: AuthActions, data: bytes, **form: str) -> int:
    """Upload, keep the guessed mapping, press Import; returns the operation the page went to."""
    page = client.post("/customers/import", data={"csrf_token": auth.csrf("/customers/import"),
                                                  "file": (io.BytesIO(data), "list.csv")},
                       content_type="multipart/form-data")
    html = page.get_data(as_text=True)
    token = re.search(r'name="token" value="(\w+)"', html).group(1)  # type: ignore[union-attr]
    mapping = dict(re.findall(r'<select [^>]*name="(map_\w+)">.*?<option selected>([^<]+)</option>', html, re.S))
    response = client.post("/customers/import", data={"csrf_token": _csrf_from(html), "token": token,
                                                      "action": "import", **mapping, **form})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def wait_for(client: FlaskClient, operation_id: int, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = client.get(f"/operations/{operation_id}/progress").get_json()
        if state["status"] in (JobState.DONE, JobState.FAILED):
            return state
        time.sleep(0.1)
    raise AssertionError(f"operation #{operation_id} still {state}")


def fresh_client(client: FlaskClient, username: str) -> FlaskClient:
    """Another browser: nothing shared with the first but the server (the reload that must find the run)."""
    other = client.application.test_client()
    page = other.get("/login")
    other.post("/login", data={"username": username, "password": PASSWORD,
                               "csrf_token": _csrf_from(page.get_data(as_text=True))})
    return other
