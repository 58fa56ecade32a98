"""Private files (credentials, session secret, audit key): written atomically, mode 0600.

A reader never sees a half-written file (write a temporary file beside it, fsync, rename),
and the file is never readable by others, not even for a moment (created 0600).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_private(path: Path, text: str, *, exclusive: bool = False) -> bool:
    """Write `text` to `path` atomically with mode 0600. With `exclusive`, an existing file
    is kept (two processes starting at once agree on the first one); returns whether this
    call wrote the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # fails when the file exists: never replaces it
            except FileExistsError:
                return False
            return True
        os.replace(tmp, path)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
