"""The report's lines of ``end_to_end.py``: throughput, visa-check latency, and the runs side by side.

Nothing here runs anything: it turns the figures the run's phases returned
into lines: the pushes against raw pika, the visa checks' latency
percentiles on both paths, and, with several ``--processes``, one row per run
and how the rate grew from one gateway process count to the next, round by
round.
"""

from __future__ import annotations

import math
import statistics

from end_to_end_floor import Floor, cpu_per_message
from end_to_end_visa import Outcome


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` from 0 to 100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(len(ordered) * q / 100) - 1))]


def latency_row(name: str, result: Outcome) -> str:
    answered = f"  {name:<40}{len(result.latencies):>8}{result.busy:>6}{len(result.errors):>7}"
    if not result.latencies:
        return f"{answered}   (no answers)"
    return answered + "".join(f"{percentile(result.latencies, q) * 1000:>8.1f}" for q in (50, 95, 99, 100))


def throughput_lines(put: dict, raw: tuple | None, bodies: list[bytes]) -> list[str]:
    count, e2e = put["count"], put["applied"] / put["applied_s"]
    lines = [f"{'throughput':<46}{'msg/s':>8}{'seconds':>9}{'messages':>10}",
             f"  {'gateway answered (SOAP receipts)':<44}{count / put['accepted_s']:>8.1f}{put['accepted_s']:>9.1f}"
             f"{count - len(put['errors']):>10}",
             f"  {'end to end: SOAP push -> applied by licensing':<44}{e2e:>8.1f}{put['applied_s']:>9.1f}"
             f"{put['applied']:>10}"]
    if raw is not None:
        size = sum(map(len, bodies)) / len(bodies)
        lines += [f"  {'raw pika publish->consume, same bytes':<44}{raw[2]:>8.0f}{count / raw[2]:>9.2f}{count:>10}",
                  f"ratio end-to-end / raw pika: {e2e / raw[2]:.3f}  (goal >= 0.5); envelopes {size:.0f} bytes on average"]
    return lines + [f"errors: {len(put['errors'])} pushes failed, {count - len(put['errors']) - put['applied']} "
                    f"accepted but not applied", f"cpu seconds: {put['cpu']}"]


def visa_lines(visa: dict, rate: float) -> list[str]:
    hub, direct = visa["hub"], visa["direct"]
    cpu_ms = cpu_per_message(*visa["cpu_used"], len(hub.latencies))
    lags, in_flight = hub.lag + direct.lag or [0.0], hub.in_flight or [0]
    return [f"{'visa check round trip':<42}{'answers':>8}{'Busy':>6}{'errors':>7}{'p50':>8}{'p95':>8}{'p99':>8}"
            f"{'max':>8}  ms",
            latency_row("police SOAP -> gateway -> licensing -> back", hub),
            latency_row("direct GET licensing /api/visa-eligibility", direct),
            f"asked {visa['count']} per path at {rate:g}/s; generator late by at most {max(lags) * 1000:.1f} ms "
            f"(p99 {percentile(lags, 99) * 1000:.1f} ms) from the due time to the send",
            f"checks under way at once via the hub (all gateway processes): p50 {percentile(in_flight, 50)}, "
            f"p99 {percentile(in_flight, 99)}, max {max(in_flight)}",
            f"cpu seconds via the hub: {visa['cpu'][0]}",
            f"cpu seconds direct: {visa['cpu'][1]}",
            f"cpu per answered visa check: hub {cpu_ms['hub']:.2f} ms, licensing consumer {cpu_ms['licensing']:.2f} ms; "
            f"the load generator's own per request {generator_cpu_ms(*visa['cpu_used'], visa['count']):.2f} ms"]


def generator_cpu_ms(before: dict[str, float], after: dict[str, float], requests: int) -> float:
    """Milliseconds of CPU this process spent per request (``benchmark`` is its own time, the stack not in it)."""
    return (after["benchmark"] - before.get("benchmark", 0.0)) / max(requests, 1) * 1000


def push_row(put: dict, floor: Floor | str, processes: int | None) -> dict:
    """One run's throughput figures for the side-by-side table (``--processes 1 2``)."""
    cpu_ms = cpu_per_message(*put["cpu_used"], put["applied"])
    rate = put["applied"] / put["applied_s"]
    machine = floor.machine_rate if isinstance(floor, Floor) else None
    return {"processes": processes, "rate": rate, "floor": machine, "ratio": rate / machine if machine else None,
            "hub": cpu_ms["hub"], "licensing": cpu_ms["licensing"],
            "client": put["client_cpu"] / max(put["count"], 1) * 1000, "ceiling": put["ceiling"]}


def side_by_side(rows: list[dict]) -> list[str]:
    """The pushes of every run in one table, and how the rate grew with the gateway processes.

    ``hub/licensing``: licensing's consumer does the same work per message however many
    gateway processes run, so its CPU per message shows how fast the shared machine ran
    during each run; the hub's divided by it compares runs made at different speeds.
    ``ceiling``: the rate the machine's cores could carry at the run's CPU per message.
    """
    lines = [f"{'gateway processes':<19}{'msg/s':>8}{'floor msg/s':>13}{'ratio':>7}"
             f"{'hub ms/msg':>12}{'licensing ms/msg':>18}{'client ms/msg':>15}{'hub/licensing':>15}{'ceiling':>9}"]
    for row in rows:
        floor = f"{row['floor']:>13.0f}{row['ratio']:>7.3f}" if row["floor"] else f"{'-':>13}{'-':>7}"
        lines.append(f"{row['processes'] or 'default'!s:<19}{row['rate']:>8.1f}{floor}{row['hub']:>12.2f}"
                     f"{row['licensing']:>18.2f}{row['client']:>15.2f}"
                     f"{row['hub'] / max(row['licensing'], 1e-9):>15.2f}{row['ceiling']:>9.0f}")
    if len(rows) > 1 and rows[0]["processes"]:
        lines += scaling_lines(rounds(rows))
    return lines


def rounds(rows: list[dict]) -> list[tuple[dict, dict]]:
    """(first, last) run of each round: ``--processes 1 2 1 2`` is two rounds, a new one where the first count recurs."""
    starts = [index for index, row in enumerate(rows) if row["processes"] == rows[0]["processes"]] + [len(rows)]
    return [(rows[start], rows[end - 1]) for start, end in zip(starts, starts[1:]) if end - start > 1]


def scaling_lines(pairs: list[tuple[dict, dict]]) -> list[str]:
    """How the rate grew from each round's first run to its last, and the most the machine allowed.

    One round decides nothing on a shared machine: the same code's ratio moved
    from 1.3x to 1.9x between rounds, as each run's CPU per message moved.
    """
    if not pairs:
        return []
    first, last = pairs[0]
    ratios = [b["rate"] / a["rate"] for a, b in pairs]
    ceilings = [b["ceiling"] / a["rate"] for a, b in pairs]
    spread = f" (median {statistics.median(ratios):.2f}x of {len(pairs)} rounds)" if len(pairs) > 1 else ""
    return [f"{last['processes']} processes / {first['processes']}: {', '.join(f'{r:.2f}x' for r in ratios)} "
            f"the rate{spread} (goal >= 1.6x for 2 / 1)",
            f"the most {last['processes']} processes could reach here: their ceiling / the rate of "
            f"{first['processes']} = {', '.join(f'{c:.2f}x' for c in ceilings)}"]
