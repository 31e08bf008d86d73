"""Object key rules shared by every backend: one key means one file on disk and one S3 object."""

from __future__ import annotations

ORIGINALS_PREFIX = "originals/"
# Large S3 uploads land here while their SHA-256 is still unknown; never a valid caller key.
INCOMING_PREFIX = "_incoming/"
# S3 limits keys to 1024 bytes of UTF-8.
MAX_KEY_BYTES = 1024


def original_key(sha256: str) -> str:
    return ORIGINALS_PREFIX + sha256


def is_original(key: str) -> bool:
    return key.startswith(ORIGINALS_PREFIX)


def validate_key(key: str) -> str:
    """Return key unchanged or raise ValueError.

    Empty, "." and ".." segments are refused as well as ".." itself: the local store maps
    keys onto paths, where "a//b" and "a/./b" would silently alias "a/b".
    """
    _check_text(key, "key")
    if not key or key.endswith("/"):
        raise ValueError(_bad(key, "对象键不能为空或以 / 结尾", "must not be empty or end with /"))
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        raise ValueError(_bad(key, "对象键含有空段、. 或 ..", "contains an empty, '.' or '..' segment"))
    if key.startswith(INCOMING_PREFIX):
        raise ValueError(_bad(key, f"{INCOMING_PREFIX} 为存储内部保留", f"{INCOMING_PREFIX} is reserved"))
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix may be empty or end in "/" but obeys the same path-safety rules as a key."""
    _check_text(prefix, "prefix")
    if prefix and any(segment in (".", "..") for segment in prefix.split("/")):
        raise ValueError(_bad(prefix, "前缀含有 . 或 ..", "contains a '.' or '..' segment"))
    return prefix


def _check_text(value: str, what: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"对象{what}必须是字符串 / object {what} must be a str, got {type(value).__name__}")
    if value.startswith("/") or "\\" in value or "\x00" in value:
        raise ValueError(_bad(value, "不能以 / 开头，也不能含有反斜杠或 NUL", "must not start with / or contain \\ or NUL"))
    if len(value.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(_bad(value[:80] + "…", f"长度超过 {MAX_KEY_BYTES} 字节", f"is longer than {MAX_KEY_BYTES} bytes"))


def _bad(value: str, zh: str, en: str) -> str:
    return f"对象键 {value!r} 无效：{zh}。 / Invalid object key {value!r}: {en}."
