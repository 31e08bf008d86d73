"""A scanner writes slowly: the hot folder waits until a file stops changing."""
from __future__ import annotations

from pathlib import Path

from docsvc.runtime import Runtime
from docsvc.pipeline.hotfolder import HotFolder
from tests.scans import image_pdf_bytes


def test_a_growing_file_is_not_taken_until_its_size_is_stable(embedded_runtime: Runtime, tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    folder = HotFolder(hot, stable_polls=2)
    scan = image_pdf_bytes([31])
    target = hot / "slow.pdf"
    rt = embedded_runtime
    with rt.sessions() as session:
        target.write_bytes(scan[:1000])
        assert folder.poll(session, rt.store, rt.jobs) == []
        target.write_bytes(scan)  # the scanner wrote more
        assert folder.poll(session, rt.store, rt.jobs) == []
        assert folder.poll(session, rt.store, rt.jobs) == [target]
        assert folder.pending() == 1
        assert folder.poll(session, rt.store, rt.jobs) == []  # not taken twice
