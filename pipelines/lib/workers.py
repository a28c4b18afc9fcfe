"""Child Python processes that run one function of this package and talk to the parent over a pipe.

multiprocessing's spawn start method re-runs the parent's ``__main__`` module in every child: under
``ai-emissions refresh`` that is the CLI, and with it Dagster, DuckDB and pyarrow (about 0.45 s and 85 MB per
child, measured). A worker started here imports only the module of the function it runs.

The function is named ``"package.module:function"`` and called as ``function(connection, *args)``, where
``connection`` is a ``multiprocessing.connection.Connection`` (``send``/``recv`` of picklable objects). When the
parent goes away the child's end of the pipe reads EOF, so a worker never outlives a killed parent for long.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding `pipelines`
_BOOT = "from pipelines.lib.workers import _child_main; _child_main()"


def supported() -> bool:
    """Workers need to hand a pipe to the child (POSIX ``pass_fds``)."""
    return os.name == "posix"


class Worker:
    """A running child process and the parent's end of its pipe."""

    def __init__(self, target: str, *args: object) -> None:
        self.connection, child_end = Pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, target, str(child_end.fileno())],
                pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL, env=env,
            )
        except BaseException:
            self.connection.close()
            raise
        finally:
            child_end.close()
        self.connection.send(args)  # arguments travel over the pipe, never on the command line (tokens)

    def close(self, timeout_s: float = 10.0) -> None:
        """Close the pipe (the child reads EOF and ends), wait for it, and kill it if it does not end."""
        self.connection.close()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _child_main() -> None:
    target, fd = sys.argv[1], int(sys.argv[2])
    connection = Connection(fd)
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        args = connection.recv()
    except EOFError:  # the parent went away before saying what to do
        return
    function(connection, *args)
