// Keeps the overview live: polls /api/v1/overview and rewrites the figures.
// No build step, no framework; text goes in through textContent only.
"use strict";
(function () {
  const section = document.getElementById("overview");
  if (!section) return;
  const api = section.dataset.api;
  const every = Math.max(500, parseInt(section.dataset.refreshMs, 10) || 2000);
  const num = (v, digits) => (v === null || v === undefined) ? "\u2014" : (digits ? v.toFixed(digits) : String(v));
  const pct = (v) => (v === null || v === undefined) ? "\u2014" : (v * 100).toFixed(1) + "%";

  // direction controls in agency text show as [U+202E] instead of reordering the page (as hub/console/bidi.py)
  const reveal = (text) => String(text).replace(/[\u202A-\u202E\u2066-\u2069]/g,
    (c) => "[U+" + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0") + "]");

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.className = cls || "";
    if (cls && cls.indexOf("num") === 0) { td.textContent = text; } else {
      const bdi = document.createElement("bdi"); bdi.dir = "auto"; bdi.textContent = reveal(text); td.appendChild(bdi);
    }
    row.appendChild(td);
  }

  function queueRow(q) {
    const tr = document.createElement("tr");
    tr.dataset.queue = q.name;
    cell(tr, q.name, "");
    cell(tr, num(q.ready), "num ready");
    cell(tr, num(q.unacked), "num unacked");
    cell(tr, num(q.consumers), "num consumers");
    cell(tr, num(q.publish_rate, 2), "num publish_rate");
    cell(tr, num(q.deliver_rate, 2), "num deliver_rate");
    cell(tr, num(q.net_rate, 2), "num net_rate");
    cell(tr, num(q.dead_letters), "num dead_letters");
    return tr;
  }

  function adapterRow(a) {
    const tr = document.createElement("tr");
    tr.dataset.adapter = a.name;
    cell(tr, a.name, "");
    cell(tr, a.last_success || "\u2014", "last_success");
    cell(tr, num(a.received), "num received");
    cell(tr, num(a.refused), "num refused");
    cell(tr, pct(a.error_rate), "num error_rate");
    cell(tr, a.circuit, "circuit " + a.circuit);
    if (a.circuit_detail) tr.lastChild.title = reveal(a.circuit_detail);  // why there is no state
    return tr;
  }

  function badge(id, ok) {
    const el = document.getElementById(id);
    if (!el) return;
    el.classList.toggle("ok", ok);
    el.classList.toggle("bad", !ok);
    const b = el.querySelector("b");
    const broker = document.getElementById("broker-status");
    if (b && broker) b.textContent = ok ? broker.dataset.ok : broker.dataset.bad;
  }

  function render(data) {
    document.getElementById("queues").replaceChildren(...data.queues.map(queueRow));
    document.getElementById("adapters").replaceChildren(...data.adapters.map(adapterRow));
    document.getElementById("outbox-backlog").textContent = data.log ? data.log.outbox_backlog : "\u2014";
    document.getElementById("dead-total").textContent = data.dead_letters_total;
    document.getElementById("updated").textContent = data.generated_at;
    badge("broker-status", data.broker.reachable);
    badge("database-status", data.database.reachable);
  }

  async function poll() {
    try {
      const response = await fetch(api, {credentials: "same-origin", headers: {"Accept": "application/json"}});
      if (response.status === 401) { window.location.reload(); return; }
      if (response.ok) render(await response.json());
    } catch (err) {
      document.getElementById("updated").textContent = "offline: " + err;
    } finally {
      window.setTimeout(poll, every);
    }
  }
  window.setTimeout(poll, every);
})();
