"""Atomic file writes and JSONL reading/appending that name the file and line on bad input."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """A data file has a malformed row; the message names the file and line."""


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so readers see either the old file or the whole new one."""
    atomic_write_bytes(path, text.encode("utf-8"))


def default_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: ``0o666`` less the process umask (read from
    ``/proc`` where it can be, as setting and restoring it would briefly change it for other threads)."""
    try:
        status = Path("/proc/self/status").read_text()
        umask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)
    except (OSError, StopIteration):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` through a temporary file renamed over ``path``; the file gets the usual mode (not the
    temporary file's 0600), so pages and reports stay readable by others as with a plain write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, default_file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: str | os.PathLike, skip_bad: bool = False,
               errors: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for each JSON object line of ``path`` (1-based lines).

    A line that is not valid UTF-8 JSON object raises :class:`DataError` naming file and
    line, unless ``skip_bad``; then the message is appended to ``errors`` and the line skipped.
    Blank lines are ignored.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
                if not isinstance(row, dict):
                    raise ValueError(f"expected a JSON object, got {type(row).__name__}")
            except (UnicodeDecodeError, ValueError) as exc:
                message = f"{path}:{number}: malformed row ({exc})"
                if not skip_bad:
                    raise DataError(message) from None
                if errors is not None:
                    errors.append(message)
                continue
            yield number, row


class JsonlAppender:
    """Append rows to a JSONL file durably, for resumable outputs.

    On open, a torn last line (left by a killed process) is cut off, so the file always
    holds whole rows; ``done_keys`` lets a rerun skip what already finished.
    """

    def __init__(self, path: str | os.PathLike, key: str = "id"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.done_keys: set[Any] = set()
        self._repair_and_scan()
        self._handle = open(self.path, "a", encoding="utf-8")

    def _repair_and_scan(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        keep = data if data.endswith(b"\n") or not data else data[: data.rfind(b"\n") + 1]
        if keep != data:
            with open(self.path, "r+b") as handle:
                handle.truncate(len(keep))
        for line in keep.splitlines():
            if line.strip():
                self.done_keys.add(json.loads(line).get(self.key))

    def write(self, row: dict[str, Any]) -> None:
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._handle.flush()
        self.done_keys.add(row.get(self.key))

    def sync(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if not self._handle.closed:
            self.sync()
            self._handle.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
