// proxstream dashboard: polls the server and draws canvas line charts (no external libraries).
"use strict";

const CHARTS = [
  { key: "loss", title: "training loss", log: true },
  { key: "fvu", title: "FVU (fraction of variance unexplained)", log: true },
  { key: "l0", title: "L0 (active latents per vector)", log: false },
  { key: "dead", title: "dead latents", log: false },
  { key: "ingestRate", title: "ingest rate (rows/s)", log: false, second: "trainRate", secondTitle: "trained (vectors/s)" },
  { key: "rejectedBatches", title: "rejected batches (total)", log: false },
];
const COLORS = ["#1f77b4", "#d62728"];
const runs = new Map(); // name -> { points: [], el, canvases }

function fmt(v, digits = 4) {
  if (v === null || v === undefined || v === "NaN" || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString("en");
  if (a !== 0 && a < 1e-3) return Number(v).toExponential(2).replace(/\.?0+e/, "e");
  // strip trailing zeros of a fraction only ("100" stays "100", "0.500" becomes "0.5")
  return Number(v).toPrecision(digits).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

function niceTicks(lo, hi, n) {
  const span = hi - lo || 1, raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Math.abs(v) < 1e-12 * step ? 0 : v);
  return out.length < 3 && n < 16 ? niceTicks(lo, hi, n * 2) : out;
}

/** The canvas's 2-D context, sized to its CSS box at the device's pixel ratio and cleared; and that box. */
function clearedContext(canvas) {
  const dpr = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const g = canvas.getContext("2d");
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  return { g, w, h };
}

function draw(canvas, spec, pts) {
  const { g, w, h } = clearedContext(canvas);
  const L = 58, R = 10, T = 22, B = 26, pw = w - L - R, ph = h - T - B;
  g.fillStyle = "#1d2329"; g.font = "12px system-ui, sans-serif"; g.fillText(spec.title, L, 14);
  const keys = [spec.key].concat(spec.second ? [spec.second] : []);
  const usable = (v) => typeof v === "number" && isFinite(v) && (!spec.log || v > 0);
  const tr = (v) => spec.log ? Math.log10(v) : v;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const p of pts) for (const k of keys) if (usable(p[k])) {
    x0 = Math.min(x0, p.samples); x1 = Math.max(x1, p.samples); y0 = Math.min(y0, tr(p[k])); y1 = Math.max(y1, tr(p[k]));
  }
  canvas.dataset.points = String(pts.filter(p => usable(p[spec.key])).length);
  g.strokeStyle = "#d5dbe0"; g.strokeRect(L, T, pw, ph);
  if (!(x0 <= x1)) { g.fillStyle = "#8a949e"; g.fillText("waiting for data…", L + 10, T + ph / 2); return; }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = 0.06 * (y1 - y0); y0 -= pad; y1 += pad;
  if (!spec.log && y0 < 0 && y0 + pad >= 0) y0 = 0;
  const X = (v) => L + (v - x0) / (x1 - x0) * pw, Y = (v) => T + ph - (v - y0) / (y1 - y0) * ph;
  g.font = "11px system-ui, sans-serif"; g.fillStyle = "#66707a"; g.strokeStyle = "#eef1f4";
  let yt = niceTicks(y0, y1, 4);
  if (spec.log) {
    // decades, or 1-2-5 (then 1..9) multiples when the range spans less than a few decades
    const cands = [];
    for (let e = Math.floor(y0); e <= Math.ceil(y1); e++) for (const m of [1, 2, 3, 4, 5, 6, 7, 8, 9]) cands.push(e + Math.log10(m));
    const inRange = cands.filter(t => t >= y0 && t <= y1);
    const pick = (ms) => inRange.filter(t => ms.some(m => Math.abs((t - Math.floor(t + 1e-9)) - Math.log10(m)) < 1e-9));
    yt = [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]].map(pick).find((t, i) => t.length >= (i === 2 ? 1 : 2)) || inRange;
  }
  for (const t of yt) {
    g.beginPath(); g.moveTo(L, Y(t)); g.lineTo(L + pw, Y(t)); g.stroke();
    const label = spec.log ? fmt(Math.pow(10, t), 2) : fmt(t, 3);
    g.fillText(label, L - 6 - g.measureText(label).width, Y(t) + 4);
  }
  for (const t of niceTicks(x0, x1, 4)) {
    const label = fmt(t, 3), lw = g.measureText(label).width;
    g.fillText(label, Math.min(Math.max(X(t) - lw / 2, L), L + pw - lw), T + ph + 16);
  }
  keys.forEach((k, i) => {
    g.strokeStyle = COLORS[i]; g.lineWidth = 1.8; g.beginPath();
    let pen = false;
    for (const p of pts) {
      if (!usable(p[k])) { pen = false; continue; }
      const x = X(p.samples), y = Y(tr(p[k]));
      if (pen) g.lineTo(x, y); else { g.moveTo(x, y); pen = true; }
    }
    g.stroke();
  });
  if (spec.second) {
    g.font = "11px system-ui, sans-serif";
    [spec.title.split(" (")[0], spec.secondTitle].forEach((t, i) => {
      g.fillStyle = COLORS[i]; g.fillRect(L + 8, T + 8 + i * 14, 10, 3);
      g.fillStyle = "#1d2329"; g.fillText(t, L + 22, T + 12 + i * 14);
    });
  }
}

/**
 * The latent firing-density distribution of the newest held-out evaluation (status.health.density): latents per
 * log10-density bucket, as the "feature density" histogram of SAELens. data-bars counts the buckets drawn.
 */
function drawDensity(canvas, health) {
  const { g, w, h } = clearedContext(canvas);
  const L = 58, R = 10, T = 22, B = 30, pw = w - L - R, ph = h - T - B;
  g.fillStyle = "#1d2329"; g.font = "12px system-ui, sans-serif";
  g.fillText(health ? `latent firing density on ${fmt(health.rows, 6)} held-out rows (model at ${fmt(health.samples, 6)} vectors)`
    : "latent firing density on held-out rows", L, 14);
  g.strokeStyle = "#d5dbe0"; g.strokeRect(L, T, pw, ph);
  const entries = health && health.density ? Object.entries(health.density) : [];
  canvas.dataset.bars = String(entries.length);
  if (!entries.length) {
    g.fillStyle = "#8a949e";
    g.fillText(health === undefined ? "latent health is off for this run" : "waiting for the first evaluation…", L + 10, T + ph / 2);
    return;
  }
  const top = Math.max(1, ...entries.map(e => e[1]));
  const yt = niceTicks(0, top * 1.08, 4), y1 = Math.max(top * 1.08, yt[yt.length - 1]);
  const Y = (v) => T + ph - v / y1 * ph;
  g.font = "11px system-ui, sans-serif"; g.strokeStyle = "#eef1f4"; g.fillStyle = "#66707a";
  for (const t of yt) {
    g.beginPath(); g.moveTo(L, Y(t)); g.lineTo(L + pw, Y(t)); g.stroke();
    const label = fmt(t, 3); g.fillText(label, L - 6 - g.measureText(label).width, Y(t) + 4);
  }
  const bw = pw / entries.length;
  entries.forEach(([label, count], i) => {
    const x = L + i * bw;
    g.fillStyle = label === "none" ? "#9aa5b1" : (Number(label) >= -1 ? "#d62728" : "#1f77b4");
    g.fillRect(x + bw * 0.12, Y(count), bw * 0.76, T + ph - Y(count));
    g.fillStyle = "#1d2329";
    const c = String(count), cw = g.measureText(c).width;
    if (count > 0) g.fillText(c, x + (bw - cw) / 2, Math.max(T + 11, Y(count) - 3));
    g.fillStyle = "#66707a";
    const name = label === "none" ? "none" : (Number(label) === -7 ? "<1e-6" : "1e" + label), nw = g.measureText(name).width;
    g.fillText(name, x + (bw - nw) / 2, T + ph + 14);
  });
  g.fillText("latents by share of rows they fire on", L, T + ph + 27);
}

function card(name) {
  const el = document.createElement("section");
  el.className = "run"; el.id = "run-" + name;
  el.innerHTML = `<h2>${name}<span class="state"></span></h2><div class="facts"></div><div class="charts"></div>`;
  const canvases = CHARTS.map(spec => {
    const c = document.createElement("canvas");
    c.dataset.chart = spec.key; c.dataset.points = "0";
    el.querySelector(".charts").appendChild(c);
    return c;
  });
  const density = document.createElement("canvas");
  density.dataset.chart = "density"; density.dataset.bars = "0"; density.className = "wide";
  el.querySelector(".charts").appendChild(density);
  document.getElementById("runs").appendChild(el);
  return { points: [], el, canvases, density, last: -1 };
}

// A server started with a token (serve --token-file) answers the API only with "Authorization: Bearer TOKEN":
// open the page as /#token=TOKEN once; the token is kept for this tab (sessionStorage) and taken out of the address bar.
if (location.hash.startsWith("#token=")) {
  sessionStorage.setItem("proxstream-token", decodeURIComponent(location.hash.slice(7)));
  history.replaceState(null, "", location.pathname + location.search);
}

/** fetch with the tab's token, if any; a 401 says how to give one. */
async function api(path, options = {}) {
  const token = sessionStorage.getItem("proxstream-token");
  const headers = Object.assign({}, options.headers || {}, token ? { Authorization: "Bearer " + token } : {});
  const r = await fetch(path, Object.assign({}, options, { headers }));
  if (r.status === 401) {
    throw new Error(token ? "the token of this tab is wrong; open /#token=TOKEN with the server's token"
      : "this server needs its token: open /#token=TOKEN");
  }
  return r;
}

/** POST /runs/NAME/ACTION (restart a failed run, or start one that could not resume fresh), then redraw. */
async function act(name, action) {
  if (action === "start-fresh" && !confirm(`Train ${name} from scratch? Its unreadable checkpoints are moved aside, not deleted.`)) return;
  const r = await api(`/runs/${encodeURIComponent(name)}/${action}`, { method: "POST" });
  if (!r.ok) alert(`${action} ${name}: ` + (await r.text()));
  refresh();
}

async function refresh() {
  try {
    const list = await (await api("/runs")).json();
    document.getElementById("empty").hidden = list.length > 0;
    let total = 0;
    for (const s of list) {
      if (!runs.has(s.name)) runs.set(s.name, card(s.name));
      const r = runs.get(s.name);
      const resp = await api(`/runs/${encodeURIComponent(s.name)}/history?after=${r.last}`);
      const fresh = resp.ok ? await resp.json() : [];  // a run that could not resume has no history
      for (const p of fresh) { r.points.push(p); r.last = Math.max(r.last, p.samples); }
      if (r.points.length > 5000) r.points.splice(0, r.points.length - 5000);
      total += r.points.length;
      const st = r.el.querySelector(".state"); st.textContent = s.state; st.className = "state " + s.state;
      r.el.querySelector(".facts").innerHTML =
        `<b>${fmt(s.samples, 6)}</b> vectors · <b>${fmt(s.vectorsPerSecond, 4)}</b> vec/s · FVU <b>${fmt(s.fvu)}</b> · ` +
        `L0 <b>${fmt(s.l0)}</b> · dead <b>${s.deadLatents}</b>/${s.latents} · ${s.algorithm}, ${s.sparsifier}` +
        `${s.sparsifier === "relu" ? "" : " k=" + s.k}, d=${s.inputDim} · ingested <b>${fmt(s.ingestedRows, 6)}</b> rows · ` +
        `rejected <b>${s.rejectedBatches}</b> batches · busy ${s.busyReplies} · queued ${fmt(s.queuedBytes / 1048576, 3)} MiB · ` +
        `checkpoint ${s.checkpoint ? s.checkpoint + " (" + fmt(s.checkpointSamples, 6) + ")" : "none yet"}` +
        `${s.resumedFrom ? " · resumed from " + s.resumedFrom : ""}${s.error ? " · <b>error:</b> " + s.error : ""}` +
        `${s.checkpointFailures ? " · <b>checkpoint failures: " + s.checkpointFailures + "</b> (" + s.checkpointError + ")" : ""}` +
        (s.health ? ` · held out <b>${fmt(s.heldOutRows, 6)}</b> rows: FVU <b>${fmt(s.health.fvu)}</b>, dense (&gt;${fmt(100 * s.health.denseFraction, 3)} %) ` +
          `<b>${s.health.dense}</b>, silent <b>${s.health.density.none}</b>, shrinkage <b>${fmt(s.health.shrinkage)}</b>, ` +
          `max decoder cosine <b>${fmt(s.health.maxCosine)}</b>${s.health.cosineAtoms < s.latents ? " (over " + s.health.cosineAtoms + " sampled atoms)" : ""}`
          : (s.heldOutRows ? ` · held out ${fmt(s.heldOutRows, 6)} rows` : "")) +
        (s.state === "FAILED" ? ` <button onclick="act('${s.name}', 'restart')">restart from newest checkpoint</button>` : "") +
        (s.state === "RESUME_FAILED" ? ` <button onclick="act('${s.name}', 'start-fresh')">start fresh (moves the checkpoints aside)</button>` : "");
      CHARTS.forEach((spec, i) => draw(r.canvases[i], spec, r.points));
      // null: waiting for the first evaluation; undefined: the run holds no rows out (health.holdout 0)
      drawDensity(r.density, s.health ? s.health : (s.holdout > 0 ? null : undefined));
    }
    document.getElementById("summary").textContent =
      `${list.length} run${list.length === 1 ? "" : "s"} · ${total} points · updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    document.getElementById("summary").textContent = e.message && e.message.includes("token") ? e.message : "server unreachable: " + e;
  }
}

refresh();
setInterval(refresh, 1000);
