"""A throw-away PostgreSQL cluster for fault tests: its own data folder, port and socket, stopped and started
at will (never the shared server). ``initdb`` and ``pg_ctl`` must be on PATH; as root they run as the
``postgres`` user."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def why_unavailable() -> str | None:
    """Why no throw-away cluster can be made here (``None`` when one can)."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run initdb as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """``initdb`` in a temporary folder on a free port; :meth:`start`, :meth:`stop` (``immediate`` is a crash,
    ``fast`` a graceful shutdown), :meth:`destroy`. Its URL names the ``postgres`` database."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hybridtune-pg-"))
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(f"initdb -D {self.dir / 'data'} -A trust -U postgres --no-sync --no-instructions")
        self.running = False

    def _run(self, command: str) -> None:
        argv = ["su", "postgres", "-c", command] if os.geteuid() == 0 else shlex.split(command)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"{command!r} failed ({p.returncode}): {p.stderr.strip() or p.stdout.strip()}")

    def start(self) -> None:
        data = self.dir / "data"
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        self._run(f"pg_ctl -D {data} -o {shlex.quote(opts)} -l {self.dir / 'log'} -w -t 60 start")
        self.running = True

    def stop(self, mode: str = "immediate") -> None:
        self._run(f"pg_ctl -D {self.dir / 'data'} -m {mode} -w -t 60 stop")
        self.running = False

    def destroy(self) -> None:
        if self.running:
            try:
                self.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()
