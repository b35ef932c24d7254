// armvex inspector page: plain JavaScript, no build step, no libraries.
// It listens to /api/events (server-sent events: one JSON view of the machine every 500 ms)
// and draws it; the buttons POST to the JSON API (docs/inspector.md).
"use strict";

const $ = (id) => document.getElementById(id);
const hex = (v, w = 8) => "0x" + (v >>> 0).toString(16).padStart(w, "0");
const hex64 = (v) => "0x" + Number(v).toString(16);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const fmtNs = (ns) => (ns / 1e9).toFixed(6) + " s";

const HISTORY = 240; // samples kept for the pictures over virtual time
const history = [];  // {vns, mips, rings: {key: occupancy}, dev: {name: accesses}, irq: {id: acks}}
let last = null;     // the previous view
let selectedDevice = null;

// ---- drawing over virtual time -------------------------------------------------------------

function xOf(vns, w) {
  const a = history[0].vns, b = history[history.length - 1].vns;
  return b > a ? ((vns - a) / (b - a)) * (w - 1) : w - 1;
}

function lineChart(canvas, series, colors) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#fafbfc"; ctx.fillRect(0, 0, w, h);
  let max = 1;
  for (const s of series) for (const p of s) max = Math.max(max, p[1]);
  ctx.fillStyle = "#889"; ctx.font = "10px monospace";
  ctx.fillText(max.toFixed(max < 10 ? 1 : 0), 2, 10);
  if (history.length > 1) ctx.fillText(fmtNs(history[0].vns) + " … " + fmtNs(history[history.length - 1].vns), 40, h - 2);
  series.forEach((s, i) => {
    ctx.strokeStyle = colors[i % colors.length]; ctx.lineWidth = 1.5; ctx.beginPath();
    s.forEach((p, j) => { const x = xOf(p[0], w), y = h - 12 - (p[1] / max) * (h - 24); j ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.stroke();
  });
}

function stripCanvas(cls, w, h) {
  const c = document.createElement("canvas"); c.width = w; c.height = h; c.className = cls; return c;
}

// A heat strip: one column per sample, darker = more accesses in that interval.
function heat(canvas, values) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const max = Math.max(1, ...values.map((v) => v[1]));
  for (let i = 0; i < values.length; i++) {
    const [vns, n] = values[i];
    if (!n) continue;
    const x0 = xOf(vns, w), x1 = i + 1 < values.length ? xOf(values[i + 1][0], w) : w;
    const t = Math.log1p(n) / Math.log1p(max);
    ctx.fillStyle = `rgba(220, 60, 20, ${0.15 + 0.85 * t})`;
    ctx.fillRect(x0, 0, Math.max(1, x1 - x0), h);
  }
}

// A swimlane: a tick at each virtual time the line was acknowledged (exact times from the
// GICC_IAR reads in the MMIO log, and per-interval counts for the rest).
function lane(canvas, counts, exact) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#f3f4f7"; ctx.fillRect(0, 0, w, h);
  const max = Math.max(1, ...counts.map((v) => v[1]));
  ctx.fillStyle = "#5470c6";
  for (const [vns, n] of counts) if (n) { const bh = 2 + (h - 2) * Math.log1p(n) / Math.log1p(max); ctx.fillRect(xOf(vns, w), h - bh, 2, bh); }
  ctx.fillStyle = "#d62728";
  const a = history[0].vns;
  for (const t of exact) if (t >= a) ctx.fillRect(xOf(t, w), 0, 1, h);
}

// ---- panels --------------------------------------------------------------------------------

let cpusKey = "";
function drawCpus(v) {
  const key = JSON.stringify(v.cpus.map((c) => [c.instructions, c.regs, c.cpsr, c.state]));
  if (key === cpusKey) return;
  cpusKey = key;
  $("cpus").innerHTML = v.cpus.map((c) => {
    const names = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "sp", "lr", "pc"];
    const regs = c.regs.map((r, i) => `<span>${names[i].padEnd(3)} ${hex(r)}</span>`).join("");
    const next = (c.next || []).map((n, i) => `<tr class="${i ? "" : "pc"}"><td>${hex(n.addr)}</td><td>${n.raw}</td><td>${esc(n.text)}</td></tr>`).join("");
    const banked = c.banked.map((b) => `<tr><td>${b.mode}</td><td>${hex(b.sp)}</td><td>${hex(b.lr)}</td><td>${b.spsr == null ? "" : hex(b.spsr)}</td><td>${b.r8_12 ? b.r8_12.map((r) => hex(r)).join(" ") : ""}</td></tr>`).join("");
    return `<div class="cpu"><h3>CPU ${c.index}: ${c.mode} mode, ${c.thumb ? "Thumb" : "ARM"}, ${c.state}, ${c.instructions} instructions</h3>
      <div class="regs">${regs}</div>
      <div>CPSR ${hex(c.cpsr)} <span class="flags">${c.flags}</span> <small>(upper case: set; N Z C V Q, masks A I F, T)</small></div>
      <table class="next"><tbody>${next}</tbody></table>
      <details><summary>banked registers</summary><table><thead><tr><th>mode</th><th>sp</th><th>lr</th><th>spsr</th><th>r8–r12</th></tr></thead><tbody>${banked}</tbody></table></details></div>`;
  }).join("");
}

const heatCanvases = {};
let memoryKey = "";
function drawMemory(v) {
  const tbody = $("memory").tBodies[0];
  const byName = Object.fromEntries(v.devices.map((d) => [d.name, d]));
  const key = v.memory.map((m) => m.name + m.base).join();
  if (key !== memoryKey) {
    memoryKey = key;
    tbody.innerHTML = v.memory.map((m) => {
      const d = m.kind === "mmio" ? byName[m.name] : null;
      const end = m.base + Number(m.size) - 1;
      return `<tr class="${m.kind}" data-name="${esc(m.name)}"><td>${hex(m.base)}-${hex(end >>> 0)}</td>
        <td>${esc(m.name)}${m.alias_of ? " → " + esc(m.alias_of) : ""}</td><td>${d ? esc(d.kind) : m.kind}</td>
        <td></td><td></td><td class="heat-cell"></td></tr>`;
    }).join("");
    for (const tr of tbody.rows) {
      const name = tr.dataset.name;
      if (!byName[name]) continue;
      tr.cells[5].appendChild(heatCanvases[name] = stripCanvas("heat", 200, 10));
      tr.onclick = () => { selectedDevice = name; drawDeviceDetail(last); for (const r of tbody.rows) r.classList.toggle("selected", r.dataset.name === name); };
    }
  }
  for (const tr of tbody.rows) {
    const d = byName[tr.dataset.name];
    if (!d) continue;
    tr.cells[3].textContent = d.reads;
    tr.cells[4].textContent = d.writes;
    heat(heatCanvases[d.name], history.map((s) => [s.vns, s.dev[d.name] || 0]));
  }
  drawDeviceDetail(v);
}

function drawDeviceDetail(v) {
  const d = v.devices.find((x) => x.name === selectedDevice);
  if (!d) { $("device-detail").innerHTML = '<p class="hint">Click a device to see its last accesses.</p>'; return; }
  $("device-detail").innerHTML = `<h3>${esc(d.name)} (${esc(d.kind)}) at ${hex(d.base)}${d.irq != null ? ", GIC interrupt " + d.irq : ""}: last accesses</h3>
    <table><tbody>${d.last.map(logRow).join("")}</tbody></table>`;
}

function logRow(r) {
  return `<tr id="row-${r.seq}"><td>#${r.seq}</td><td>${r.time}</td><td>cpu${r.cpu}</td><td>${esc(r.device)}</td><td>${r.write ? "write" : "read "}</td>
    <td>+${hex(r.offset, 3)} ${r.register || ""}</td><td>${hex(r.value)}</td></tr>`;
}

function descChain(descs) {
  return descs.map((d) => `<span class="desc${d.writable ? " w" : ""}" title="${d.writable ? "device-writable" : "device-readable"}">${hex(d.addr)}+${d.len}${d.writable ? " W" : " R"}</span>`).join('<span class="arrow">→</span>');
}
const reqBadge = (r) => (r ? ` <span class="badge">${r.kind} sector ${r.sector} len ${r.len} status ${r.status}</span>` : "");

let virtioKey = "";
function drawVirtio(v) {
  const key = JSON.stringify(v.virtio.map((t) => [t.status, t.interrupt_status, t.queues.map((q) => [q.avail_idx, q.used_idx, q.next_avail]), t.recent.length && t.recent[t.recent.length - 1].time]));
  if (key === virtioKey) return;
  virtioKey = key;
  $("virtio").innerHTML = v.virtio.map((t) => {
    const queues = t.queues.map((q) => {
      const chains = q.chains.map((c) => {
        const body = c.error ? `<span class="hint" title="${esc(c.error)}">completed: its table is the driver's again</span>` : descChain(c.descriptors) + reqBadge(c.request);
        return `<div class="chain ${c.state}"><span class="label">avail[${c.avail_index}] head ${c.head} ${c.state}</span>${body}</div>`;
      }).join("");
      const recent = t.recent.filter((c) => c.queue === q.index).slice(-6).map((c) =>
        `<div class="chain taken"><span class="label">avail[${c.avail_index}] head ${c.head} @${c.time}</span>${descChain(c.descriptors)}${reqBadge(c.request)}</div>`).join("");
      return `<h3>queue ${q.index}: size ${q.size}/${q.max_size}${q.ready ? "" : " (not ready)"}</h3>
        <table><tbody><tr><td>descriptors</td><td>${hex64(q.desc)}</td><td>avail ring</td><td>${hex64(q.avail)}</td><td>used ring</td><td>${hex64(q.used)}</td></tr>
        <tr><td>avail idx</td><td class="avail-idx">${q.avail_idx}</td><td>used idx</td><td class="used-idx">${q.used_idx}</td><td>in flight</td><td>${(q.avail_idx - q.used_idx + 65536) % 65536}</td></tr></tbody></table>
        <div class="hint">available ring now (newest last):</div>${chains || '<p class="hint">no chains yet</p>'}
        ${recent ? `<div class="hint">chains as the device took them at QueueNotify (newest last):</div>${recent}` : ""}`;
    }).join("");
    const reqs = t.recent.filter((c) => c.request).slice(-8).reverse();
    const reqTable = reqs.length ? `<h3>last requests</h3><table><thead><tr><th>virtual ns</th><th>type</th><th>sector</th><th>length</th><th>status</th></tr></thead><tbody>${reqs.map((c) => `<tr><td>${c.time}</td><td>${c.request.kind}</td><td>${c.request.sector}</td><td>${c.request.len}</td><td>${c.request.status}</td></tr>`).join("")}</tbody></table>` : "";
    return `<div class="transport" data-device="${esc(t.device)}"><b>${esc(t.name)}</b> at ${hex(t.base)}: <b>${esc(t.device)}</b>, virtio-mmio version ${t.version}, GIC interrupt ${t.irq}, InterruptStatus ${t.interrupt_status}<br>
      status ${t.status_names.map((s) => `<span class="badge on">${s}</span>`).join("") || '<span class="badge">0</span>'}<br>
      features ${t.feature_names.map((s) => `<span class="badge">${s}</span>`).join("")}
      ${queues}${reqTable}</div>`;
  }).join("");
}

const laneCanvases = {};
let irqKey = "";
function drawIrqs(v) {
  const tbody = $("irqs").tBodies[0];
  const iar = {};
  for (const r of v.mmio_log) if (!r.write && r.register === "GICC_IAR") (iar[r.value & 0x3ff] = iar[r.value & 0x3ff] || []).push(r.time);
  const mask = (m) => (m ? "cpu" + [0, 1, 2, 3].filter((i) => m & (1 << i)).join(",") : "-");
  const key = v.irqs.map((q) => q.id).join();
  if (key !== irqKey) {
    irqKey = key;
    tbody.innerHTML = v.irqs.map((q) => `<tr data-id="${q.id}"><td>${q.id}</td><td>${esc(q.source || "")}</td><td></td><td></td><td></td><td></td><td></td><td></td><td></td></tr>`).join("");
    for (const tr of tbody.rows) tr.cells[8].appendChild(laneCanvases[tr.dataset.id] = stripCanvas("lane", 260, 12));
  }
  v.irqs.forEach((q, i) => {
    const c = tbody.rows[i].cells;
    [mask(q.enabled), mask(q.pending), mask(q.active), q.level ? "high" : "low", mask(q.targets), q.count].forEach((t, j) => {
      if (c[2 + j].textContent !== String(t)) c[2 + j].textContent = t;
    });
    lane(laneCanvases[q.id], history.map((s) => [s.vns, s.irq[q.id] || 0]), iar[q.id] || []);
  });
}

function drawCharts() {
  lineChart($("mips-chart"), [history.map((s) => [s.vns, s.mips])], ["#1a7f37"]);
  const keys = [...new Set(history.flatMap((s) => Object.keys(s.rings)))];
  const colors = ["#5470c6", "#ee6666", "#91cc75", "#fac858", "#73c0de", "#9a60b4"];
  lineChart($("ring-chart"), keys.map((k) => history.map((s) => [s.vns, s.rings[k] || 0])), colors);
  $("ring-legend").innerHTML = keys.map((k, i) => `<span style="color:${colors[i % colors.length]}">■ ${esc(k)}</span>`).join("");
}

let followHtml = "";
// The MMIO records found for the request being followed (keyed by its head and avail index):
// the MMIO log is a bounded window, so once the guest's disk goes quiet the request's
// notification and interrupt scroll out of it; the steps found stay shown.
let followSeen = { key: null, found: {} };
// The six steps of the last virtio-blk request, found in the view and the MMIO log.
function drawFollow(v) {
  const t = v.virtio.find((x) => x.device === "virtio-blk" && x.queues.length);
  const steps = [];
  const link = (r) => (r ? ` <a href="#row-${r.seq}" data-seq="${r.seq}">MMIO #${r.seq} at ${r.time} ns</a>` : "");
  if (!t) { $("follow").innerHTML = "<li>no virtio-blk transport</li>"; return; }
  const q = t.queues[0];
  const pending = [...q.chains].reverse().find((c) => c.state !== "used" && c.request) || null;
  const chain = pending || [...t.recent].reverse().find((c) => c.queue === 0 && c.request) || null;
  if (chain && !chain.state) chain.state = "used";
  const log = v.mmio_log;
  const onT = (r) => r.device === t.name;
  // The notification of this chain: the last one at or before the time the device took it.
  const key = chain ? `${chain.head}:${chain.avail_index}` : null;
  if (key !== followSeen.key) followSeen = { key, found: {} };
  const seen = (name, r) => (r ? (followSeen.found[name] = r) : followSeen.found[name] || null);
  const notify = seen("notify", pending ? null : [...log].reverse().find((r) => onT(r) && r.write && r.register === "QueueNotify" && (!chain || !chain.time || r.time <= chain.time)) || null);
  const after = (r0, pred) => (r0 ? log.find((r) => r.seq > r0.seq && pred(r)) || null : null);
  const isr = seen("isr", after(notify, (r) => onT(r) && !r.write && r.register === "InterruptStatus"));
  const iar = seen("iar", after(notify, (r) => !r.write && r.register === "GICC_IAR" && (r.value & 0x3ff) === t.irq));
  const ack = seen("ack", after(isr, (r) => onT(r) && r.write && r.register === "InterruptACK"));
  const eoi = seen("eoi", after(iar, (r) => r.write && r.register === "GICC_EOIR" && (r.value & 0x3ff) === t.irq));
  const req = chain && chain.request;
  steps.push([!!chain, `<b>Chain built</b>: the driver writes descriptors ${chain ? chain.descriptors.map((d) => `${hex(d.addr)}+${d.len}${d.writable ? "W" : "R"}`).join(" → ") : ""}${req ? ` (a ${req.kind} of ${req.len} bytes at sector ${req.sector})` : ""} into the table at ${hex64(q.desc)}.`]);
  steps.push([!!chain, `<b>Avail ring</b>: it puts head ${chain ? chain.head : "?"} in avail[${chain ? chain.avail_index % q.size : "?"}] and bumps avail idx (now ${q.avail_idx}).`]);
  steps.push([!!notify, `<b>QueueNotify</b>: it writes the queue number to ${t.name}+0x050.${link(notify)}`]);
  steps.push([!!chain && chain.state === "used", `<b>Device completes</b>: armvex's virtio-blk reads the host file, writes the data and status ${req ? req.status : "?"} (0 = OK), all during that write.`]);
  steps.push([!!isr || !!iar, `<b>Used ring + InterruptStatus + GIC line</b>: used idx becomes ${q.used_idx}, InterruptStatus bit 0 is set, GIC line ${t.irq} goes high; the CPU takes the IRQ and reads GICC_IAR${link(iar)}, then InterruptStatus${link(isr)}.`]);
  steps.push([!!ack && !!eoi, `<b>Guest ACK and EOI</b>: vm_interrupt() writes InterruptACK${link(ack)}, the GIC driver writes GICC_EOIR${link(eoi)}.`]);
  const html = steps.map(([done, html]) => `<li class="${done ? "done" : ""}">${html}</li>`).join("");
  if (html === followHtml) return;
  followHtml = html;
  $("follow").innerHTML = html;
  for (const a of $("follow").querySelectorAll("a[data-seq]")) a.onclick = () => highlight(a.dataset.seq);
}

function highlight(seq) {
  $("log-filter").checked = false; drawLog(last, true);
  for (const tr of document.querySelectorAll("#log tr.hl")) tr.classList.remove("hl");
  const tr = document.querySelector(`#log #row-${seq}`);
  if (tr) { tr.classList.add("hl"); tr.scrollIntoView({ block: "center" }); }
}

let logKey = "";
function drawLog(v, force) {
  if (!v) return;
  const only = $("log-filter").checked;
  const newest = v.mmio_log.length ? v.mmio_log[v.mmio_log.length - 1].seq : -1;
  const key = `${newest} ${only}`;
  if (key === logKey && !force) return;
  logKey = key;
  const rows = v.mmio_log.filter((r) => !only || r.device.startsWith("virtio") || (r.register || "").startsWith("GICC"));
  $("log").tBodies[0].innerHTML = rows.slice(-150).map(logRow).join("");
}

// ---- the display and the keyboard ----------------------------------------------------------

let screenBusy = false;
function refreshScreen() {
  if (screenBusy) return;
  screenBusy = true;
  const img = new Image();
  img.onload = () => { $("screen").src = img.src; screenBusy = false; };
  img.onerror = () => { screenBusy = false; };
  img.src = "/api/screen.png?t=" + Date.now();
}

// Browser key codes to Linux input key codes (linux/input-event-codes.h).
const KEYS = { Escape: 1, Minus: 12, Equal: 13, Backspace: 14, Tab: 15, BracketLeft: 26, BracketRight: 27, Enter: 28,
  ControlLeft: 29, Semicolon: 39, Quote: 40, Backquote: 41, ShiftLeft: 42, Backslash: 43, Comma: 51, Period: 52,
  Slash: 53, ShiftRight: 54, AltLeft: 56, Space: 57, CapsLock: 58, ControlRight: 97, AltRight: 100, Home: 102,
  ArrowUp: 103, PageUp: 104, ArrowLeft: 105, ArrowRight: 106, End: 107, ArrowDown: 108, PageDown: 109, Insert: 110, Delete: 111 };
"QWERTYUIOP".split("").forEach((c, i) => (KEYS["Key" + c] = 16 + i));
"ASDFGHJKL".split("").forEach((c, i) => (KEYS["Key" + c] = 30 + i));
"ZXCVBNM".split("").forEach((c, i) => (KEYS["Key" + c] = 44 + i));
"1234567890".split("").forEach((c, i) => (KEYS["Digit" + c] = 2 + i));
for (let i = 1; i <= 10; i++) KEYS["F" + i] = 58 + i;

function key(e, action) {
  const code = KEYS[e.code];
  if (!code) return;
  e.preventDefault();
  fetch(`/api/key?code=${code}&action=${action}`, { method: "POST" });
}
$("keyboard").addEventListener("keydown", (e) => { if (!e.repeat) key(e, "down"); });
$("keyboard").addEventListener("keyup", (e) => key(e, "up"));

// ---- controls ------------------------------------------------------------------------------

async function command(path) {
  const r = await fetch(path, { method: "POST" });
  const j = await r.json().catch(() => ({}));
  $("command-result").textContent = r.ok ? `${j.stopped || (j.running ? "running" : "")} at ${j.instructions}` : `error: ${j.error || r.status}`;
}
$("pause").onclick = () => command("/api/pause");
$("continue").onclick = () => command("/api/continue");
$("step").onclick = () => command("/api/step?n=" + encodeURIComponent($("step-n").value));
$("bp-set").onclick = () => command("/api/breakpoint?addr=" + encodeURIComponent($("bp-addr").value));
$("bp-clear").onclick = () => command("/api/breakpoint?addr=none");
$("log-filter").onchange = () => drawLog(last, true);

// ---- updates -------------------------------------------------------------------------------

function sample(v) {
  const s = { vns: v.virtual_ns, mips: v.mips || 0, rings: {}, dev: {}, irq: {} };
  for (const t of v.virtio) for (const q of t.queues) if (q.ready) s.rings[`${t.name} q${q.index}`] = (q.avail_idx - q.used_idx + 65536) % 65536;
  const prevDev = last ? Object.fromEntries(last.devices.map((d) => [d.name, d.reads + d.writes])) : {};
  for (const d of v.devices) s.dev[d.name] = last ? Math.max(0, d.reads + d.writes - (prevDev[d.name] || 0)) : 0;
  const prevIrq = last ? Object.fromEntries(last.irqs.map((q) => [q.id, q.count])) : {};
  for (const q of v.irqs) s.irq[q.id] = last ? Math.max(0, q.count - (prevIrq[q.id] || 0)) : 0;
  if (!last || v.virtual_ns !== last.virtual_ns) { history.push(s); if (history.length > HISTORY) history.shift(); }
}

function update(v) {
  if (!v || !v.cpus) return;
  sample(v);
  if (document.hidden) { last = v; return; }
  $("board").textContent = v.board;
  $("instructions").textContent = v.instructions.toLocaleString("en");
  $("vtime").textContent = fmtNs(v.virtual_ns);
  $("mips").textContent = (v.mips || 0).toFixed(1);
  $("state").textContent = v.running ? "running" : (v.stopped || "stopped");
  $("state").className = "state " + (v.running ? "running" : "stopped");
  if (v.breakpoint != null && document.activeElement !== $("bp-addr")) $("bp-addr").placeholder = hex(v.breakpoint);
  drawCpus(v); drawMemory(v); drawVirtio(v); drawIrqs(v); drawCharts(); drawFollow(v); drawLog(v);
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  last = v;
}

function connect() {
  const es = new EventSource("/api/events");
  es.onmessage = (e) => { try { update(JSON.parse(e.data)); } catch (err) { console.error(err); } };
  es.onerror = () => { $("state").textContent = "disconnected"; $("state").className = "state"; };
}
connect();
refreshScreen();
setInterval(refreshScreen, 2000);
