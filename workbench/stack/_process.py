"""Background processes owned by the local stack: started detached, tracked by pid file.

``stop`` only ever signals a pid that it wrote itself *and* whose command line still matches, so
a recycled pid or someone else's server on the same port is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.settings import Settings

Progress = Callable[[str], None]
"""Reports one step of a long-running command to the person waiting for it."""


NODE_PORT_STEP = 100
"""A local cluster's nodes sit side by side: node N listens this much times N - 1 above node 1."""


def node_port(first: int, node: int) -> int:
    """Node ``node``'s port, given node 1's."""
    return first + NODE_PORT_STEP * (node - 1)


class StackError(Exception):
    """The local stack cannot do what was asked; the message says why and what to do."""


def absolute(settings: Settings) -> Settings:
    """``settings`` with an absolute ``state_dir``. A process's command line names its files
    under it, and a pid file is trusted only while the command line still matches: a stack
    started with ``.local`` and looked at with ``/path/to/checkout/.local`` must agree."""
    return settings.model_copy(update={"state_dir": settings.state_dir.resolve()})


@dataclass(frozen=True)
class ManagedProcess:
    """One long-running process of the stack, e.g. the Kafka broker."""

    name: str
    run_dir: Path  # holds <name>.pid
    log_file: Path
    marker: str  # a string that must appear in the process's command line

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    def pid(self) -> int | None:
        """The pid of our running process, or None. A stale pid file (the process is gone, or
        the pid now names a stranger) stays until :meth:`stop`, so that the status can say the
        process stopped, and why (:meth:`last_words`)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self.marker in command_line(pid) else None

    def start(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
        """Start ``argv`` in its own session, output appended to the log; return its pid.

        posix_spawn rather than Popen: the process outlives this one, and nobody will wait()
        for it here (a Popen object would warn about a child still running when collected).
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        pid = os.posix_spawnp(
            argv[0],
            list(argv),
            dict(os.environ if env is None else env),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (
                    os.POSIX_SPAWN_OPEN,
                    1,
                    str(self.log_file),
                    os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                    0o644,
                ),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,  # survives the CLI; not hit by the terminal's ^C
        )
        self.pid_file.write_text(f"{pid}\n")
        # Until the child has exec'd, its command line is still ours: wait for the real one.
        deadline = time.monotonic() + 5
        while self.marker not in command_line(pid) and alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        return pid

    def has_exited(self) -> bool:
        """True once the process started last has exited. For use while it starts: unlike
        :meth:`pid` it does not look at the command line, which may not be final yet."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return True
        return not alive(pid)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout``. Returns whether a process was stopped."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def last_words(self) -> str:
        """Why it stopped, as far as its log says: its last critical line (a worker logs one
        when it stops on an error), else its last line (Faust logs errors it lives with)."""
        tail = self.log_tail(300).splitlines()
        said = [line for line in tail if "[CRITICAL]" in line]
        if said:
            return said[-1].split("[CRITICAL]", 1)[1].strip()[:300]
        return f"its last line: {tail[-1].strip()[:300]}" if tail else "(no log)"

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log yet)"
        return "\n".join(text.splitlines()[-lines:])


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
    if state == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def port_holder(port: int) -> str:
    """Describe the process listening on ``port``, as "pid 123 (cmdline)", or "unknown process"."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return f"pid {entry.name} ({command_line(int(entry.name))[:120]})"
    return "an unknown process"


def ensure_ports_free(owner: str, ports: dict[int, str], setting_hint: str) -> None:
    """Raise a clear error if any of ``ports`` ({port: purpose}) is taken by someone else."""
    for port, purpose in ports.items():
        if port_open(port):
            raise StackError(
                f"{owner}: port {port} ({purpose}) is already taken by {port_holder(port)}. "
                f"Stop that process, or move {owner} to a free port with {setting_hint}."
            )


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    process: ManagedProcess,
    interval: float = 0.3,
) -> None:
    """Poll ``ready`` until it holds; fail early if the process died, late on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process.has_exited():
            raise StackError(
                f"{process.name} exited while starting. Last lines of {process.log_file}:\n"
                f"{process.log_tail()}"
            )
        time.sleep(interval)
    raise StackError(
        f"{what} did not answer within {timeout:.0f}s. Last lines of {process.log_file}:\n"
        f"{process.log_tail()}"
    )
