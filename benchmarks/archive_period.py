"""CPU time per record and peak memory of ``rabt audit archive`` and ``verify-archive`` on a filled log.

    python benchmarks/archive_period.py                      # 50,000 messages of 4 KB, SQLite
    python benchmarks/archive_period.py --messages 200000 --payload 13000
    python benchmarks/archive_period.py --encrypt             # encrypted to a recipient, decrypted to verify
    python benchmarks/archive_period.py --encrypt --incompressible --messages 40000   # ~330 MB archive
    python benchmarks/archive_period.py --periods 3          # three periods, each archive continuing the last

Fills a SQLite log in a temporary folder (accepted then published: two chain
records a message), then runs each command as its own process and prints its
CPU seconds (user + system, from the kernel's child accounting, so a busy
host moves it little) per 1,000 records and its peak resident memory. Memory
that stays flat as --messages grows is what shows the archive is streamed.
With ``--periods N`` the log is filled and archived N times: each archive
continues from the one before, so its size should not grow with the periods
before it.
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hub import lifeline


def fill(url: str, messages: int, payload: int, incompressible: bool = False, prefix: str = "m") -> None:
    from hub.messagelog import Accepted, open_message_log

    def body(n: int) -> bytes:
        # a filler of its own per message: one shared filler would deflate away within the 32 KB window
        filler = base64.b64encode(os.urandom(payload)) if incompressible else b"x" * payload
        return f"<w n='{n}'>".encode() + filler[:max(0, payload - 20)] + b"</w>"

    with open_message_log(url) as log:
        for first in range(0, messages, 1000):
            batch = []
            for n in range(first, min(first + 1000, messages)):
                raw = body(n)
                batch.append(Accepted(message_id=f"{prefix}-{n}", message_type="WageRecord",
                                      source_agency="centralbank",
                                      destination="licensing", routing_key="licensing.WageRecord.centralbank",
                                      raw=raw, envelope=raw if not incompressible else body(n)))
            log.accept_many(batch)
            log.mark_published([record.message_id for record in batch])


def measured(args: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """(CPU seconds, peak RSS in MB, wall seconds) of one child process, from its own accounting."""
    start = time.monotonic()
    child = lifeline.popen([sys.executable, "-m", "hub", *args], env=env, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"rabt {' '.join(args)} exited {child.returncode}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--payload", type=int, default=4096, help="bytes of each raw payload and envelope")
    parser.add_argument("--incompressible", action="store_true",
                        help="random payloads (base64), so the archive is as large as the log's payloads")
    parser.add_argument("--encrypt", action="store_true", help="encrypt to a recipient (CMS) and decrypt to verify")
    parser.add_argument("--periods", type=int, default=1, help="fill and archive this many periods in turn")
    options = parser.parse_args()
    from hub.pki import init_pki

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        init_pki(home / "pki", ["centralbank", "licensing"])
        url = f"sqlite:///{home / 'messages.sqlite3'}"
        env = {**os.environ, "RABT_HOME": str(home), "RABT_DATABASE_URL": url}
        for period in range(1, options.periods + 1):
            fill(url, options.messages, options.payload, options.incompressible, prefix=f"p{period}")
            out = home / (f"period-{period}.zip.p7m" if options.encrypt else f"period-{period}.zip")
            previous = [home / f"period-{n}.zip" for n in range(1, period)] if not options.encrypt else []
            archive_period(env, home, out, options, [arg for path in previous for arg in ("--previous", str(path))])
        if options.periods > 1:  # for comparison: what one archive of everything weighs
            full = home / "full.zip"
            until = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            measured(["audit", "archive", "--until", until, "--out", str(full), "--no-progress", "--from-genesis"], env)
            print(f"{full.name:18} archive size {full.stat().st_size / 1e6:.1f} MB ({full.stat().st_size} bytes) "
                  f"from the log's start (--from-genesis)")


def archive_period(env: dict[str, str], home: Path, out: Path, options, previous: list[str]) -> None:
    """Archive what came since the last archive into ``out`` and verify it (after its predecessors)."""
    records = options.messages * 2
    until = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() // 1000 % 1_000_000:06d}"
    recipient = home / "pki" / "agencies" / "licensing"
    sealing = ["--encrypt-to", f"{recipient}.pem"] if options.encrypt else []
    opening = ["--decrypt-key", f"{recipient}.key", "--decrypt-cert", f"{recipient}.pem"] if options.encrypt else []
    for name, args in (("archive", ["audit", "archive", "--until", until, "--out", str(out), "--no-progress",
                                    *sealing]),
                       ("verify-archive", ["audit", "verify-archive", str(out), *opening, *previous])):
        cpu, rss, wall = measured(args, env)
        print(f"{out.name:18} {name:15} {records} records: {cpu / records * 1000:.3f} CPU s per 1,000 records, "
              f"peak RSS {rss} MB, {wall:.1f} s wall")
    print(f"{out.name:18} archive size {out.stat().st_size / 1e6:.1f} MB ({out.stat().st_size} bytes) for "
          f"{options.messages} messages of {options.payload} B (raw and envelope)"
          + (" (verify-archive also checked the archives before it)" if previous else ""))


if __name__ == "__main__":
    main()
