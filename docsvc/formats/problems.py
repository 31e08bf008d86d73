"""Why an uploaded file cannot be read, in words an archivist can act on.

Every message is Chinese first, then English, and says what happened and what
to do next. The caller knows which upload the file was and puts its name in
front when it shows the message.
"""

from __future__ import annotations


class FileProblem(Exception):
    """The file itself is the problem: retrying the same bytes will not help."""

    permanent = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedFormat(FileProblem):
    """The content is not one of the accepted types, whatever its name says."""


class CorruptFile(FileProblem):
    """Empty, truncated or damaged data."""


class EncryptedFile(FileProblem):
    """A PDF that needs a password to open."""


class TooLarge(FileProblem):
    """More pixels or pages than the service will decode."""


class OddShape(FileProblem):
    """A page far too long for its width (or the other way) to be read as a page."""


def damaged(kind: str, detail_zh: str, detail_en: str) -> CorruptFile:
    return CorruptFile(
        f"文件已损坏，无法读取：{kind} {detail_zh}。请重新扫描或重新导出该文件后再上传。"
        f"/ The file is damaged: the {kind} {detail_en}. Re-scan or re-export it and upload it again."
    )


EMPTY = (
    "空文件：上传的文件没有任何内容（0 字节）。请检查扫描仪或导出程序后重新上传。"
    "/ Empty file: the upload contains no data (0 bytes). Check the scanner or export and upload it again."
)

ENCRYPTED = (
    "PDF 文件设置了打开密码，系统无法读取。请在原系统中导出不加密的 PDF（或去除密码）后重新上传。"
    "/ The PDF is password-protected and cannot be read. Export it without a password "
    "(or remove the password) and upload it again."
)
