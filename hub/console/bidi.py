"""Agency text on the console's pages, kept from reordering the text around it.

Names, reasons and payloads come from partner agencies, and Unicode direction
controls in them — U+202E RIGHT-TO-LEFT OVERRIDE above all — would otherwise
reorder what the operator sees: the rest of a line in a payload dump read
backwards, an id beside a name shown reversed ("Trojan Source"). Two defences,
both used by the templates through the ``agency`` and ``payload`` filters:

* every piece of agency text is isolated in ``<bdi dir="auto">`` (the
  Unicode-isolate semantics of U+2068 … U+2069), so its direction — Arabic
  right-to-left, ids left-to-right — never leaks into its neighbours;
* the embedding, override and isolate controls are shown as visible
  ``[U+202E]`` marks instead of acting, so even inside the isolated text nothing
  reads in an order other than the one received. (The plain marks U+200E,
  U+200F and U+061C only steer neutral characters and stay as they are.)
"""

from __future__ import annotations

import re

from markupsafe import Markup

_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def reveal_controls(text: object) -> str:
    """``text`` with each direction control replaced by a visible ``[U+XXXX]``; None becomes ''."""
    if text is None:
        return ""
    return _CONTROLS.sub(lambda found: f"[U+{ord(found.group()):04X}]", str(text))


def agency(text: object) -> Markup:
    """Agency text for HTML: escaped, controls revealed, isolated in ``<bdi dir="auto">``."""
    return Markup('<bdi dir="auto">%s</bdi>') % reveal_controls(text)


def payload(text: object) -> Markup:
    """A payload dump for a ``<pre dir="ltr">``: escaped, controls revealed, isolated as left-to-right text."""
    return Markup('<bdi dir="ltr">%s</bdi>') % reveal_controls(text)
