"""Stopping the servers and workers tests start as subprocesses."""
from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, timeout_s: float = 10) -> None:  # type: ignore[type-arg]
    """Ask politely (SIGTERM), then insist (SIGKILL) if it has not gone in `timeout_s`."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
