"""The figures ``wage_month_through_file_adapter.py`` prints, one ``name  value`` line each.

What ran (broker, log, key, processes), how much went through, how fast, the
CPU (watchers and relay; the consumer's and the benchmark's own sampling
apart), what held the watchers back, the bytes written, the memory, the
SQLite log's largest WAL and the machine's load around the run.
"""

from __future__ import annotations

import os

#: ``--key-type`` and the hub's signing key it names
KEYS = {"ec": "ECDSA P-256", "rsa": "RSA-2048"}


def report(args, files: int, lines: int, gen_seconds: float, figures: dict) -> None:
    """Print the run's figures (``figures``: what ``process`` returned) to stdout."""
    watchers = [usage for _, _, usage in figures["results"]]
    for line in [*_run_lines(args, files, lines, figures), *_time_lines(files, lines, gen_seconds, figures, watchers),
                 *_write_lines(files, figures, watchers), *_memory_lines(figures, watchers)]:
        print(line)


def _run_lines(args, files: int, lines: int, figures: dict) -> list[str]:
    done = sum(r[0] for r in figures["results"])
    failed = sum(r[1] for r in figures["results"])
    licensing = figures["queues"].get("licensing")
    return [f"broker            {args.broker or 'embedded SQLite'}",
            f"message log       {'PostgreSQL (fresh database)' if args.postgres else 'SQLite'}",
            f"hub signing key   {KEYS[args.key_type]}",
            f"watcher processes {args.processes} (+ relay in the parent), {args.batch_files} files per transaction",
            f"files             {files:,} generated, {done:,} accepted, {failed:,} not accepted",
            f"salary lines      {lines:,}",
            f"published         {figures['published']:,} messages"
            + (f" (licensing queue holds {licensing.ready:,})" if licensing is not None else "")]


def _time_lines(files: int, lines: int, gen_seconds: float, figures: dict, watchers: list) -> list[str]:
    wall, relay = figures["wall"], figures["relay"]
    cpu = relay.cpu + sum(u.cpu for u in watchers)
    return [f"generation        {gen_seconds:.1f} s (not in the figures below)",
            f"wall time         {wall:.1f} s  (drop -> done/ + published)",
            f"files/s           {files / wall:,.0f}",
            f"records/s         {lines / wall:,.0f}",
            f"CPU time          {cpu:.1f} s, {1000 * cpu / max(files, 1):.2f} ms per file (watchers "
            f"{sum(u.cpu for u in watchers):.1f}, relay {relay.cpu:.1f}; system {relay.system + sum(u.system for u in watchers):.1f})",
            # what held the watchers back: a run queue shared with other jobs (waited), or the disk and the log's
            # writer lock (blocked: each commit's sync, each turn at the lock)
            f"watchers waited   {sum(u.waited for u in watchers):.1f} s runnable for a core (all watchers; they ran "
            f"{sum(u.cpu for u in watchers):.1f} s), blocked {sum(u.blocked for u in watchers):,} times"]


def _write_lines(files: int, figures: dict, watchers: list) -> list[str]:
    relay = figures["relay"]
    written = sum(u.written for u in watchers)
    handed = sum(u.handed for u in watchers)
    lines = [f"written to disk   {(relay.written + written) / 2**30:.2f} GiB, {(relay.written + written) / files / 1024:.0f} KiB "
             f"per file (watchers {written / 2**30:.2f}, relay {relay.written / 2**30:.2f}; dirtied page cache)",
             f"handed to write() {(relay.handed + handed) / 2**30:.2f} GiB, {(relay.handed + handed) / files / 1024:.0f} KiB "
             f"per file (watchers {handed / 2**30:.2f}, relay {relay.handed / 2**30:.2f})"]
    consumer = figures["consumer"]
    if consumer is not None:
        # whichever process commits past the WAL's limit checkpoints: the consumer's pages may be written by the relay
        every = relay.handed + handed + consumer.handed
        lines.append(f"consumer          {consumer.cpu:.1f} s CPU, {consumer.system:.1f} system (not in the CPU above); "
                     f"{consumer.handed / files / 1024:.0f} KiB per file handed to write(), with all the others' "
                     f"{every / files / 1024:.0f} KiB")
    return lines


def _memory_lines(figures: dict, watchers: list) -> list[str]:
    relay = figures["relay"]
    lines = [f"peak RSS          relay/parent {relay.rss_mib:.0f} MiB, largest watcher "
             f"{max(u.rss_mib for u in watchers):.0f} MiB, sum {relay.rss_mib + sum(u.rss_mib for u in watchers):.0f} MiB",
             f"peak memory       {figures['pss']:.0f} MiB (PSS of all processes, sampled every 0.5 s; the sampling's "
             f"{figures['sampling']:.1f} s CPU is not in the CPU above)"]
    wal = figures["wal"]
    if wal.path:
        from hub.messagelog import checkpoints

        lines.append(f"largest WAL       {wal.bytes / 2**20:.1f} MiB, budget "
                     f"{getattr(checkpoints, 'WAL_PAGES', 16384) * 4096 / 2**20:.0f} MiB (sampled every 2 ms; "
                     f"{wal.cpu:.1f} s CPU, not in the CPU above)")
    before, after = figures["load"]
    return lines + [f"load average      {before[0]:.1f} before, {after[0]:.1f} after (1 min; {os.cpu_count()} cores)"]
