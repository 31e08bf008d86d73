"""The scanner's hot folder: files are taken once completely written, then moved to done/ or failed/.

Polling, not inotify: SMB and NFS shares deliver no change events, and scanners write slowly, so a
file counts as complete once its size and modification time stayed the same for `stable_polls` looks.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from docsvc.constants import FileState, JobState
from docsvc.i18n import _, shown
from docsvc.jobs import JobQueue
from docsvc.models import BatchFile
from docsvc.pipeline.intake import Upload, UploadTooLarge, check_size, receive
from storage import ObjectStore

log = logging.getLogger(__name__)

DONE_DIR, FAILED_DIR = "done", "failed"
# Names scanners and copy tools give files still being written.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", "~")


@dataclass
class HotFolder:
    root: Path
    stable_polls: int = 2
    user_id: int | None = None
    max_upload_mb: int = 4096  # DOCSVC_MAX_UPLOAD_MB
    _seen: dict[Path, tuple[tuple[int, int], int]] = field(default_factory=dict)
    _waiting: dict[Path, int] = field(default_factory=dict)  # path -> batch file id

    def __post_init__(self) -> None:
        (self.root / DONE_DIR).mkdir(parents=True, exist_ok=True)
        (self.root / FAILED_DIR).mkdir(parents=True, exist_ok=True)

    def poll(self, session: Session, store: ObjectStore, jobs: JobQueue) -> list[Path]:
        """One look: ingest what became stable, move what finished. Returns the files ingested."""
        ready = self._stable_files()
        ingested: list[Path] = []
        for path in ready:
            try:  # from the size alone: a file above the limit is never read
                check_size(path.name, path.stat().st_size, self.max_upload_mb)
            except UploadTooLarge as exc:
                self._move(path, FAILED_DIR, exc.message)
                continue
            try:
                with path.open("rb") as stream:
                    batch = receive(session, store, jobs, [Upload(path.name, stream)],
                                    source="watch", user_id=self.user_id)
            except OSError as exc:
                self._move(path, FAILED_DIR, _("Could not read the file: %(error)s. Check its permissions and drop "
                                               "it again.", error=exc))
                continue
            self._waiting[path] = batch.files[0].id
            ingested.append(path)
        self._settle(session)
        return ingested

    def _stable_files(self) -> list[Path]:
        current: dict[Path, tuple[int, int]] = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root)
            if rel.parts[0] in (DONE_DIR, FAILED_DIR) or not path.is_file() or path in self._waiting:
                continue
            if path.name.startswith(".") or path.name.endswith(PARTIAL_SUFFIXES):
                continue
            st = path.stat()
            current[path] = (st.st_size, st.st_mtime_ns)
        ready = []
        for path, sig in current.items():
            prev_sig, count = self._seen.get(path, (None, 0))
            count = count + 1 if prev_sig == sig else 1
            self._seen[path] = (sig, count)
            if count >= self.stable_polls:
                ready.append(path)
        for gone in set(self._seen) - set(current):
            del self._seen[gone]
        for path in ready:
            self._seen.pop(path, None)
        return ready

    def _settle(self, session: Session) -> None:
        for path, file_id in list(self._waiting.items()):
            bf = session.get(BatchFile, file_id, populate_existing=True)
            if bf is None:
                continue
            if bf.status == JobState.FAILED:
                self._move(path, FAILED_DIR, shown(bf.error))  # a job's message, read by the operator here
            elif bf.status in (JobState.DONE, FileState.DUPLICATE):
                self._move(path, DONE_DIR, None)
            else:
                continue
            del self._waiting[path]

    def pending(self) -> int:
        """Files ingested whose outcome is not known yet."""
        return len(self._waiting)

    def has_candidates(self) -> bool:
        """Files seen but not yet stable."""
        return bool(self._seen)

    def _move(self, path: Path, folder: str, error: str | None) -> None:
        rel = path.relative_to(self.root)
        target = _free_name(self.root / folder / rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
        if error is not None:
            target.with_name(target.name + ".error.txt").write_text(error + "\n", encoding="utf-8")
        log.info("%s -> %s", path, target)


def _free_name(target: Path) -> Path:
    """Never overwrite: a second scan named like the first gets a numbered name."""
    candidate, n = target, 1
    while candidate.exists():
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
        n += 1
    return candidate
