"""Crash-safe file writes (a reader sees the old file or the new one, never half of one),
write errors that say which path and why (:class:`OutputError`), and strict JSON."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from moderncnn.errors import OutputError


def fsync_dir(path: str | Path) -> None:
    """Flush ``path``'s directory entries (a rename or removal in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_error(path: str | Path, error: BaseException) -> OutputError | None:
    """``error`` as an :class:`OutputError` about ``path`` when a write failed in the file
    system (full, read-only, a file in the way), else None. Writers in other languages say
    so in their message: safetensors' ``... (os error 28)``."""
    if isinstance(error, OutputError):
        return OutputError(path, error.reason)
    if isinstance(error, OSError):
        return OutputError(path, error.strerror or str(error))
    found = re.search(r"\(os error (\d+)\)", str(error))
    return OutputError(path, os.strerror(int(found.group(1)))) if found else None


def atomic_write(path: str | Path, write: Callable[[Path], None], suffix: str = ".tmp") -> None:
    """Write ``path`` through ``write(tmp)`` on a temporary file in the same directory, fsync
    it, then rename: readers see the old file or the new one, never half of one. ``suffix``
    ends the temporary's name (writers that check the extension, like ``torch.export.save``,
    need the real one). The file gets the permissions of any new file (0666 less the umask).
    A failed write leaves no temporary and raises :class:`OutputError` when the file system
    was the cause."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's (and safetensors') 0600 would hide it
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException as e:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        error = output_error(path, e)
        if error is None:
            raise
        raise error from None


class _Recorded:
    """A file whose write errors are kept: torch.save turns them into "unexpected pos"."""

    def __init__(self, file: BinaryIO) -> None:
        self.file, self.error = file, None

    def write(self, data: bytes) -> int:
        try:
            return self.file.write(data)
        except OSError as e:
            self.error = e
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


def write_file(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """``write(f)`` on ``path`` opened for writing; a failed write raises its own OSError
    (``No space left on device``), whatever ``write`` made of it."""
    with open(path, "wb") as f:
        recorded = _Recorded(f)
        try:
            write(recorded)  # type: ignore[arg-type]
        except Exception:
            if recorded.error is not None:
                raise recorded.error from None
            raise


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system: checked below
        return False


def check_writable(folder: str | Path, file: str | Path | None = None) -> None:
    """Raise :class:`OutputError` unless ``folder`` is, or can be made, a folder to write in:
    asked before a run spends minutes reading its data. ``file``: the file to be written in
    ``folder``, which the error then names."""
    folder = Path(folder)
    named = folder if file is None else Path(file)
    existing = folder
    while not _exists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "it" if existing == named else repr(str(existing))
        raise OutputError(named, f"{where} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):  # root too, on a read-only file system
        read_only = os.statvfs(existing).f_flag & os.ST_RDONLY
        raise OutputError(named, os.strerror(errno.EROFS if read_only else errno.EACCES))
    longest = os.pathconf(existing, "PC_NAME_MAX")
    too_long = [p.name for p in (named, *named.parents) if len(os.fsencode(p.name)) > longest]
    if too_long:
        raise OutputError(
            named,
            f"{os.strerror(errno.ENAMETOOLONG)}: a name holds {len(too_long[0])} characters, "
            f"the file system takes {longest} bytes at most",
        )


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def to_json(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, **kwargs)`` as strict JSON: NaN and infinities (a diverged loss, a
    metric never measured) are null, not the ``NaN`` tokens JSON parsers reject."""
    return json.dumps(_finite(obj), allow_nan=False, **kwargs)
