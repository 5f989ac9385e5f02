"""The dashboard in a real browser: ``streamlit run app.py`` on a free localhost port, and
Debian's Chromium for Playwright. Shared by the browser tests and the watching benchmark."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FINISHED = ("complete", "pruned", "failed")  # what counts towards a study's total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` in a child process, on its own port and database."""

    def __init__(self, db: Path, *extra: str) -> None:
        self.db = db
        self.extra = list(extra)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = db.parent / f"streamlit-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self) -> Server:
        env = {**os.environ, "TUNER_DB": str(self.db), "TF_CPP_MIN_LOG_LEVEL": "3"}
        cmd = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.port", str(self.port), "--server.headless", "true", *self.extra,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"streamlit did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean-up runs, as when a machine dies."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def launch(playwright: Any) -> Any:
    """Debian's Chromium, headless."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def db_trials(db: Path, status: str | tuple[str, ...] | None = None,
              study: str | None = None) -> Any:  # fmt: skip
    """The statuses of every trial, or how many have ``status`` (one, or a tuple of them);
    of study ``study`` alone when given."""
    where, args = "", []
    if study is not None:
        where, args = " AND study_id = (SELECT id FROM studies WHERE name = ?)", [study]
    try:
        with sqlite3.connect(db) as conn:
            if status is None:
                query = f"SELECT status FROM trials WHERE 1{where} ORDER BY number"
                return conn.execute(query, args).fetchall()
            wanted = (status,) if isinstance(status, str) else tuple(status)
            marks = ",".join("?" * len(wanted))
            query = f"SELECT COUNT(*) FROM trials WHERE status IN ({marks}){where}"
            return conn.execute(query, [*wanted, *args]).fetchone()[0]
    except sqlite3.OperationalError:
        return [] if status is None else 0


def wait_until(predicate: Any, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def set_number(page: Any, label: str, value: float) -> None:
    """Type ``value`` into the number input ``label`` and commit it."""
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
