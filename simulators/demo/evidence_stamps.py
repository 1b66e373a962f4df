"""Scenario: the message log's anchors are timestamped by the TSA, and the tokens verify.

The hub's stamper asks the TSA simulator for an RFC 3161 token for each
anchor (the demo's interval is two seconds). The scenario waits for an
anchor taken after some traffic to carry a token, checks that token offline
against the TSA certificate the hub pins, then runs ``rabt audit verify`` as
an auditor would: chain, anchors and every stored token.
"""

from __future__ import annotations

import sys

import sqlalchemy as sa

from hub import lifeline
from hub.messagelog.schema import anchors
from hub.timestamps import load_tsa_certificate, verify_token
from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect, wait_for
from simulators.demo.stack import TSA_CERTIFICATE

_NEWEST_STAMPED = (sa.select(anchors.c.anchor_seq, anchors.c.at, anchors.c.hash, anchors.c.timestamp_token)
                   .where(anchors.c.timestamp_token.is_not(None)).order_by(anchors.c.anchor_seq.desc()).limit(1))


def anchors_timestamped(ctx: DemoContext) -> str:
    """Wait for a stamped anchor, verify its token, then let ``rabt audit verify`` check them all."""
    certificate = load_tsa_certificate(ctx.stack.home / TSA_CERTIFICATE)
    taken = ctx.log.anchor()  # binds what the earlier scenarios wrote (None: an anchor binds it already)
    wanted = taken.anchor_seq if taken is not None else 1
    anchor = wait_for(f"anchor {wanted} or a later one to be timestamped", lambda: _newest_stamped(ctx, wanted),
                      timeout=30)
    info = verify_token(bytes(anchor.timestamp_token), anchor.hash, certificate)
    audit = lifeline.run([sys.executable, "-m", "hub", "audit", "verify"], env=ctx.stack.environment(),
                         capture_output=True, text=True, timeout=120)
    expect(audit.returncode == 0, f"rabt audit verify failed: {(audit.stderr or audit.stdout).strip()[-300:]}")
    verified = next((line for line in audit.stdout.splitlines() if line.startswith("timestamps verified")), "")
    expect(bool(verified), f"rabt audit verify checked no timestamps: {audit.stdout.strip()[-300:]}")
    return (f"anchor {anchor.anchor_seq} stamped at {info.gen_time:%H:%M:%S} UTC (serial {info.serial}); "
            f"audit: {verified.removeprefix('timestamps verified: ')}")


def _newest_stamped(ctx: DemoContext, at_least: int):
    with ctx.log.engine.connect() as conn:
        row = conn.execute(_NEWEST_STAMPED).first()
    return row if row is not None and row.anchor_seq >= at_least else None
