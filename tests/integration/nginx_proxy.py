"""A real nginx, configured from ``deploy/nginx/rabt.conf.template``, run in the foreground for a test.

The template is rendered as an operator would (every ``${RABT_*}`` filled in,
nginx's own ``$variables`` left alone) and included in a minimal main
configuration whose pid, logs and temporary folders are all in one folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from string import Template

import pytest

from hub import lifeline

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "rabt.conf.template"

MAIN_CONFIG = """\
{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/rabt.conf;
}}
"""


def render_template(values: dict[str, str]) -> str:
    """The template with every placeholder filled; a placeholder left over is a test error."""
    text = Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(values)
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "${RABT_" not in body, "a placeholder in deploy/nginx has no value in the test"
    return text


def nginx_binary() -> str:
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")  # sbin: not on every PATH
    if binary is None:
        pytest.fail("nginx is not installed (apt-get install -y nginx)")
    return binary


class Nginx:
    """nginx in the foreground (``daemon off``), stopped with SIGQUIT (graceful) then SIGKILL."""

    def __init__(self, folder: Path, values: dict[str, str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        (folder / "rabt.conf").write_text(render_template(values), encoding="utf-8")
        # As root nginx would run its workers as "nobody", who cannot enter a private tmp folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(MAIN_CONFIG.format(user=user, folder=folder), encoding="utf-8")
        command = [nginx_binary(), "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        self.process = lifeline.popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)

    def wait_listening(self, port: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"nginx exited: {self.error_log()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"nginx did not listen on {port}: {self.error_log()}")

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)  # SIGQUIT: finish open requests, then exit
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
