"""The servers and workers tests (and benchmarks) start as subprocesses: a free port for one, stopping it."""
from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, timeout_s: float = 10) -> None:  # type: ignore[type-arg]
    """Ask politely (SIGTERM), then insist (SIGKILL) if it has not gone in `timeout_s`."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
