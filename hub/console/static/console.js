// Keeps the console live: the alarm band on every page, and on the overview the
// figures (/api/v1/overview) and the history charts (/api/v1/history, drawn as SVG).
// No build step, no framework; text goes in through textContent only.
"use strict";
(function () {
  const root = document.body;
  const labelsNode = document.getElementById("console-labels");
  const labels = labelsNode ? JSON.parse(labelsNode.textContent) : {};
  const arabicDigits = root.dataset.digits === "arabic";
  const zone = root.dataset.zone || "UTC";
  const DASH = "\u2014";

  // Latin or Arabic-Indic digits, as the operator chose (the same mapping as hub/console/i18n.py)
  const digits = (text) => arabicDigits
    ? String(text).replace(/[0-9.%]/g, (c) => c === "." ? "\u066B" : c === "%" ? "\u066A" : String.fromCharCode(0x0660 + (+c)))
    : String(text);
  const num = (v, places) => (v === null || v === undefined) ? DASH : digits(places ? v.toFixed(places) : String(v));
  const pct = (v) => (v === null || v === undefined) ? DASH : digits((v * 100).toFixed(1) + "%");
  const label = (key, fields) => {
    let text = labels[key] || key;
    for (const [name, value] of Object.entries(fields || {})) text = text.split("{" + name + "}").join(value);
    return text;
  };
  const valueLabel = (kind, value) => labels[kind + "_" + value] || value;

  // direction controls in agency text show as [U+202E] instead of reordering the page (as hub/console/bidi.py)
  const reveal = (text) => String(text).replace(/[\u202A-\u202E\u2066-\u2069]/g,
    (c) => "[U+" + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0") + "]");

  // a time in the operator's zone, UTC on hover (as hub/console/i18n.py local_time)
  const zoned = new Intl.DateTimeFormat("sv-SE", {timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"});
  function timeNode(utc) {
    if (!utc) return document.createTextNode(DASH);
    const node = document.createElement("time");
    const moment = new Date(utc);
    node.setAttribute("datetime", utc);
    node.dir = "ltr";
    node.title = moment.toISOString().replace("T", " ").slice(0, 19) + " UTC";
    node.textContent = digits(zoned.format(moment));
    return node;
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.className = cls || "";
    if (text instanceof Node) td.appendChild(text);
    else if (cls && cls.indexOf("num") === 0) td.textContent = text;
    else { const bdi = document.createElement("bdi"); bdi.dir = "auto"; bdi.textContent = reveal(text); td.appendChild(bdi); }
    row.appendChild(td);
    return td;
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
    cell(tr, timeNode(a.last_success), "last_success");
    cell(tr, num(a.received), "num received");
    cell(tr, num(a.refused), "num refused");
    cell(tr, num(a.applied), "num applied");
    cell(tr, num(a.failed_at_consumer), "num failed_at_consumer");
    cell(tr, pct(a.error_rate), "num error_rate");
    const circuit = cell(tr, valueLabel("circuit", a.circuit), "circuit " + a.circuit);
    if (a.circuit_detail) circuit.title = reveal(a.circuit_detail);  // why there is no state
    return tr;
  }

  function alarmItem(a) {
    const li = document.createElement("li");
    li.className = "alarm " + a.severity;
    li.dataset.alarm = a.name;
    li.dataset.subject = a.subject;
    const severity = document.createElement("b");
    severity.className = "severity";
    severity.textContent = valueLabel("severity", a.severity);
    const link = document.createElement("a");
    link.href = a.href;
    // a readiness check's name is the hub's word (broker, database…): said in the page's language
    const subject = a.name === "RabtNotReady" ? valueLabel("check", a.subject) : a.subject;
    const fields = {subject: subject, value: digits(a.value)};
    link.textContent = label("alarm_" + a.name, fields);
    const todo = document.createElement("span");
    todo.className = "todo";
    todo.textContent = label("todo_" + a.name, fields);
    li.append(severity, " ", link, " ", todo);
    return li;
  }

  function renderAlarms(alarms) {
    const band = document.getElementById("alarms");
    if (!band) return;
    band.className = "alarms " + (alarms.length ? alarms[0].severity : "quiet");
    const items = alarms.map(alarmItem);
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "alarm none";
      li.textContent = label("no_alarms");
      items.push(li);
    }
    document.getElementById("alarm-list").replaceChildren(...items);
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

  // the consumption table keeps its forms (they carry the CSRF token): each row is switched in place
  function renderConsumption(paused) {
    const table = document.getElementById("consumption-table");
    if (!table) return;
    const byDestination = new Map((paused || []).map((p) => [p.destination, p]));
    for (const tr of table.querySelectorAll("tr.consumption")) {
      const pause = byDestination.get(tr.dataset.destination);
      tr.classList.toggle("paused", !!pause);
      tr.classList.toggle("consuming", !pause);
      const state = tr.querySelector("td.state");
      if (pause) {
        const bold = document.createElement("b");
        bold.textContent = label("paused");
        const since = document.createElement("span");
        since.className = "muted";
        since.append(" (", label("paused_by", {actor: reveal(pause.actor), since: ""}), timeNode(pause.since), ")");
        state.replaceChildren(bold, since);
      } else {
        state.textContent = label("consuming");
      }
      const toggle = tr.querySelector("button.pause, button.resume");
      if (!toggle) continue;  // a viewer sees no buttons
      toggle.className = pause ? "resume" : "pause";
      toggle.textContent = label(pause ? "resume_button" : "pause_button");
      toggle.form.action = pause ? table.dataset.resume : table.dataset.pause;
    }
  }

  function certificateRow(c) {
    const tr = document.createElement("tr");
    tr.className = "certificate " + c.state;
    tr.dataset.party = c.party;
    tr.dataset.serial = c.serial;
    const party = cell(tr, c.party, "");
    if (!c.current) {
      const note = document.createElement("span");
      note.className = "muted";
      note.append(" (" + label("accepted_until") + " ", timeNode(c.accepted_until), ")");
      party.appendChild(note);
    }
    const serial = document.createElement("bdi");
    serial.dir = "ltr";
    serial.textContent = c.serial;
    cell(tr, serial, "");
    cell(tr, timeNode(c.not_after), "time");
    cell(tr, num(c.days_left), "num days_left");
    cell(tr, label("cert_" + c.state), "state");
    return tr;
  }

  function renderOverview(data) {
    document.getElementById("queues").replaceChildren(...data.queues.map(queueRow));
    document.getElementById("adapters").replaceChildren(...data.adapters.map(adapterRow));
    document.getElementById("outbox-backlog").textContent = data.log ? num(data.log.outbox_backlog) : DASH;
    document.getElementById("dead-total").textContent = num(data.dead_letters_total);
    document.getElementById("updated").replaceChildren(timeNode(data.generated_at));
    badge("broker-status", data.broker.reachable);
    badge("database-status", data.database.reachable);
    renderConsumption(data.paused);
    const certificates = document.getElementById("certificate-rows");
    if (certificates && data.certificates) certificates.replaceChildren(...data.certificates.map(certificateRow));
    renderAlarms(data.alarms || []);
  }

  // -- a queue's peek page: depth and the messages probably waiting, redrawn while messages flow ----
  function peekedRow(m, trailUrl) {
    const tr = document.createElement("tr");
    tr.className = "peeked";
    tr.dataset.messageId = m.message_id;
    const link = document.createElement("a");
    link.href = trailUrl + "?q=" + encodeURIComponent(m.message_id);
    const id = document.createElement("bdi");
    id.dir = "auto";
    id.textContent = reveal(m.message_id);
    link.appendChild(id);
    cell(tr, link, "");
    cell(tr, m.message_type, "");
    cell(tr, m.source_agency, "");
    cell(tr, m.status, "");
    cell(tr, m.published_at || "", "time");
    return tr;
  }

  function renderPeek(peek, table) {
    document.getElementById("peek-depth").textContent = num(peek.depth);
    document.getElementById("peeked").replaceChildren(...peek.messages.map((m) => peekedRow(m, table.dataset.trail)));
  }

  // -- charts: one SVG per queue or agency, each line scaled to its own largest value --------------
  const SVG = "http://www.w3.org/2000/svg";
  const LINES = {queue: ["depth", "published", "delivered"], agency: ["received", "refused"]};
  const RATES = new Set(["published", "delivered", "received", "refused"]);

  function drawChart(figure, metrics, from, to) {
    const width = 300, height = 70;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("class", "spark");
    svg.setAttribute("role", "img");
    const legend = document.createElement("ul");
    legend.className = "legend";
    const charts = document.getElementById("charts");
    for (const metric of LINES[figure.dataset.kind]) {
      const points = (metrics && metrics[metric]) || [];
      const top = Math.max(1, ...points.map((p) => p[1]));
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("class", "line " + metric);
      // x runs with time; in RTL the figure is mirrored by CSS so time still flows in reading direction
      line.setAttribute("points", points.map(([t, v]) =>
        `${((t - from) / (to - from) * width).toFixed(1)},${(height - 2 - v / top * (height - 4)).toFixed(1)}`).join(" "));
      svg.appendChild(line);
      if (points.length) {  // the newest point as a dot: a line needs two minutes, the dot shows the first
        const [t, v] = points[points.length - 1];
        const dot = document.createElementNS(SVG, "circle");
        dot.setAttribute("class", "dot " + metric);
        dot.setAttribute("cx", ((t - from) / (to - from) * width).toFixed(1));
        dot.setAttribute("cy", (height - 2 - v / top * (height - 4)).toFixed(1));
        dot.setAttribute("r", "2.5");
        svg.appendChild(dot);
      }
      const last = points.length ? points[points.length - 1][1] : null;
      const item = document.createElement("li");
      item.className = "current " + metric;
      item.dataset.metric = metric;
      item.textContent = (charts.dataset[metric] || metric) + ": " + num(last, RATES.has(metric) ? 2 : 0);
      legend.appendChild(item);
    }
    const caption = figure.querySelector("figcaption");
    figure.replaceChildren(caption, svg, legend);
  }

  const SPAN_SECONDS = {hour: 3600, day: 86400};
  let span = "hour";

  async function refreshCharts(section) {
    const now = Date.now() / 1000;
    for (const kind of ["queue", "agency"]) {
      const response = await fetch(`${section.dataset.history}?kind=${kind}&span=${span}`,
        {credentials: "same-origin", headers: {"Accept": "application/json"}});
      if (!response.ok) continue;
      const history = await response.json();
      for (const figure of document.querySelectorAll(`figure.chart[data-kind="${kind}"]`)) {
        drawChart(figure, history.series[figure.dataset.name], now - SPAN_SECONDS[span], now);
      }
    }
  }

  // -- latency against its targets, refusals by reason ------------------------------------------
  function noneRow(columns, text) {
    const tr = document.createElement("tr");
    const td = cell(tr, text, "muted");
    td.colSpan = columns;
    return tr;
  }

  function latencyRow(l, table) {
    const tr = document.createElement("tr");
    tr.className = "latency " + (l.met ? "ok" : "missed");
    tr.dataset.agency = l.agency;
    tr.dataset.operation = l.operation;
    cell(tr, l.agency, "");
    cell(tr, l.operation, "");
    cell(tr, num(l.count), "num");
    cell(tr, num(l.p50, 3), "num p50");
    cell(tr, num(l.p99, 3), "num p99");
    cell(tr, num(l.target_p99), "num").title = l.target_why || "";
    cell(tr, l.met ? table.dataset.met : table.dataset.missed, "slo");
    return tr;
  }

  function refusalRow(r) {
    const tr = document.createElement("tr");
    tr.className = "refusal";
    tr.dataset.agency = r.agency;
    tr.dataset.code = r.code;
    cell(tr, r.agency, "");
    cell(tr, r.code, "");
    cell(tr, num(r.count), "num");
    return tr;
  }

  function renderNumbers(numbers) {
    const table = document.getElementById("latency");
    const none = table.dataset.none;
    const latency = numbers.latency.map((l) => latencyRow(l, table));
    document.getElementById("latency-rows").replaceChildren(...(latency.length ? latency : [noneRow(7, none)]));
    const refusals = numbers.refusals.map(refusalRow);
    document.getElementById("refusal-rows").replaceChildren(...(refusals.length ? refusals : [noneRow(3, none)]));
  }

  async function fetchJson(url) {
    const response = await fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}});
    if (response.status === 401) { window.location.reload(); return null; }
    return response.ok ? response.json() : null;
  }

  function every(ms, work) {
    async function tick() {
      try { await work(); } catch (err) {
        const updated = document.getElementById("updated");
        if (updated) updated.textContent = "offline: " + err;
      } finally { window.setTimeout(tick, ms); }
    }
    window.setTimeout(tick, ms);
  }

  const section = document.getElementById("overview");
  const band = document.getElementById("alarms");
  if (section) {
    const ms = Math.max(500, parseInt(section.dataset.refreshMs, 10) || 2000);
    every(ms, async () => { const data = await fetchJson(section.dataset.api); if (data) renderOverview(data); });
    refreshCharts(section).catch(() => {});
    for (const button of document.querySelectorAll("button.span")) {
      button.addEventListener("click", () => {
        span = button.dataset.span;
        for (const other of document.querySelectorAll("button.span")) other.setAttribute("aria-pressed", String(other === button));
        refreshCharts(section).catch(() => {});
      });
    }
    every(Math.max(ms, 2000), () => refreshCharts(section));
    every(Math.max(ms, 5000), async () => { const data = await fetchJson(section.dataset.numbers); if (data) renderNumbers(data); });
  } else if (band) {
    const peekTable = document.getElementById("peek");
    if (peekTable) {
      every(2000, async () => {
        const data = await fetchJson(peekTable.dataset.api);
        if (data) renderPeek(data, peekTable);
      });
    }
    every(5000, async () => { const data = await fetchJson(band.dataset.api); if (data) renderAlarms(data.alarms); });
  }
})();
