"""One refresh at a time: an advisory lock on the state folder, released by the kernel if the process dies;
one release writer at a time per exports folder (refreshes with different state folders may share one)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RefreshRunning(RuntimeError):
    """Another refresh holds the state folder."""


@contextmanager
def refresh_lock(home: Path) -> Iterator[None]:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "refresh.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RefreshRunning(f"another refresh is running on {home}; try again when it ends") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


class FolderBusy(RuntimeError):
    """Another process held the folder's lock for longer than we would wait."""


@contextmanager
def folder_lock(folder: Path, *, wait_s: float, poll_s: float = 0.1) -> Iterator[None]:
    """An exclusive advisory lock on `folder` itself (flock on the directory: no lock file inside it), waiting up
    to `wait_s` for another holder to finish; released by the kernel if the process dies."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    raise FolderBusy(f"another process has held {folder} for over {wait_s:g} s") from exc
                time.sleep(poll_s)
        yield
    finally:
        os.close(fd)  # closing releases the lock
