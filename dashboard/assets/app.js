// fedgan dashboard: reads the retained statuses, the devices' presence and
// the cloud's preview picture over MQTT-over-WebSockets (mqtt.js) and draws
// them. It publishes nothing. docs/DESIGN.md §5.7.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const k of kids) e.append(k);
    return e;
  };
  const fmt = (v, d = 4) => (typeof v === "number" && isFinite(v) ? +v.toPrecision(d) + "" : "–");
  const MAX_POINTS = 2000;
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

  let cfg = null;
  let client = null;
  let previewURL = null;
  const state = {
    cloud: null, // the latest global status
    comms: new Map(), // id → {status, presence: Map dev → state, loss: Map x → y, rounds: Map round → loss}
    evals: new Map(), // eval round (from 1) → eval map
  };

  function comm(id) {
    let c = state.comms.get(id);
    if (!c) {
      c = { status: null, presence: new Map(), loss: new Map(), rounds: new Map() };
      state.comms.set(id, c);
    }
    return c;
  }

  function setConn(s, text) {
    const c = $("conn");
    c.dataset.state = s;
    c.textContent = text;
  }

  // --- connecting ----------------------------------------------------------

  function wsURL() {
    const q = new URLSearchParams(location.search).get("ws");
    if (q) return q; // behind a proxy: ?ws=wss://host/path
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + location.hostname + ":" + cfg.ws_port + cfg.ws_path;
  }

  function randomID() {
    const b = new Uint8Array(6);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  function showLogin(msg) {
    $("login").hidden = false;
    $("logout").hidden = true;
    $("login-error").textContent = msg || "";
    $("anon").hidden = !cfg.anonymous;
    $("user").required = !cfg.anonymous;
  }

  function connect(username, password) {
    if (client) client.end(true);
    $("login").hidden = true;
    $("main").hidden = false;
    $("logout").hidden = false;
    setConn("connecting", "connecting…");
    const opts = {
      clientId: cfg.client_id_prefix + "dashboard-" + randomID(),
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 3000,
      connectTimeout: 10000,
      keepalive: 30,
    };
    if (username) {
      opts.username = username;
      opts.password = password; // kept by mqtt.js in memory for reconnects; never stored
    }
    const c = mqtt.connect(wsURL(), opts);
    client = c;
    c.on("connect", () => {
      if (client !== c) return;
      setConn("connected", "connected" + (username ? " as " + username : " (anonymous)"));
      const t = cfg.topics;
      c.subscribe([t.community_status, t.presence, t.global_status, t.preview], { qos: 0 }, (err, granted) => {
        const refused = (granted || []).filter((g) => g.qos === 128).map((g) => g.topic);
        if (err || refused.length) $("note").textContent = "subscription refused: " + (err ? err.message : refused.join(", "));
      });
    });
    c.on("reconnect", () => client === c && setConn("connecting", "reconnecting…"));
    c.on("offline", () => client === c && setConn("offline", "offline: retrying"));
    c.on("error", (err) => {
      if (client !== c) return;
      // CONNACK 4 (bad user name or password) or 5 (not authorized): ask again.
      if (err && (err.code === 4 || err.code === 5 || err.code === 134 || err.code === 135)) {
        c.end(true);
        client = null;
        setConn("refused", "refused");
        showLogin("The broker refused the login: " + err.message);
        return;
      }
      setConn("error", "error: " + (err && err.message));
    });
    c.on("message", (topic, payload) => {
      try {
        onMessage(topic, payload);
      } catch (e) {
        console.error(topic, e);
      }
    });
  }

  // --- messages ------------------------------------------------------------

  const text = new TextDecoder();

  function onMessage(topic, payload) {
    const rest = topic.slice(cfg.root.length + 1).split("/");
    if (rest[0] === "global" && rest[1] === "preview" && rest.length === 2) return showPreview(payload);
    if (payload.length === 0) return; // a cleared retained message
    if (rest[0] === "global" && rest[1] === "status" && rest.length === 2) return onCloud(JSON.parse(text.decode(payload)));
    if (rest[0] === "c" && rest[2] === "status" && rest.length === 3) return onEdge(rest[1], JSON.parse(text.decode(payload)));
    if (rest[0] === "c" && rest[2] === "presence" && rest.length === 4) {
      const p = JSON.parse(text.decode(payload));
      comm(rest[1]).presence.set(rest[3], p.state === "online" ? "online" : "offline");
      return render();
    }
  }

  function trim(m) {
    while (m.size > MAX_POINTS) m.delete(m.keys().next().value);
  }

  function onEdge(id, st) {
    const c = comm(id);
    c.status = st;
    const e = st.edge || {};
    if (typeof e.loss === "number" && isFinite(e.loss) && (e.updates > 0 || e.round > 1)) {
      const li = cfg.local_iters > 0 ? cfg.local_iters : 1;
      c.loss.set(e.round - 1 + Math.min(e.round_iteration || 0, li) / li, e.loss);
      trim(c.loss);
    }
    render();
  }

  function onCloud(st) {
    state.cloud = st;
    const lr = st.last_round;
    if (lr && lr.losses) {
      for (const [id, loss] of Object.entries(lr.losses)) {
        comm(id).rounds.set(lr.round, loss);
        trim(comm(id).rounds);
      }
    }
    if (st.eval && st.eval_round > 0) state.evals.set(st.eval_round, st.eval);
    render();
  }

  function showPreview(payload) {
    const img = $("preview");
    if (previewURL) URL.revokeObjectURL(previewURL);
    previewURL = null;
    if (payload.length === 0 || payload.length > cfg.preview_max_bytes) {
      img.hidden = true;
      $("no-preview").hidden = false;
      return;
    }
    previewURL = URL.createObjectURL(new Blob([payload], { type: "image/png" }));
    img.src = previewURL;
    img.hidden = false;
    $("no-preview").hidden = true;
    $("preview-info").textContent = "(" + Math.round(payload.length / 1024) + " KB)";
  }

  // --- drawing -------------------------------------------------------------

  let pending = false;
  function render() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      renderOverview();
      renderCommunities();
      renderCharts();
    });
  }

  function renderOverview() {
    const cl = state.cloud && state.cloud.cloud;
    let round = null, rounds = cfg.global_rounds, done = false;
    if (cl) {
      rounds = cl.rounds || rounds;
      done = !!cl.done;
      round = cl.round;
    } else if (cfg.community && comm(cfg.community).status) {
      round = comm(cfg.community).status.edge.round;
    }
    $("round").textContent = round === null ? "–" : round;
    $("rounds").textContent = rounds ? "of " + rounds + (done ? " (done)" : round === null ? "" : " in progress") : "";
    $("round-bar").style.width = round === null || !rounds ? "0" : Math.min(100, (100 * (done ? rounds : round - 1)) / rounds) + "%";
    if (state.cloud) {
      const s = Math.round(state.cloud.elapsed_seconds || 0);
      $("elapsed").textContent = Math.floor(s / 60) + "m " + (s % 60) + "s";
      const rep = (cl && cl.reported) || [];
      $("state").textContent = "reported this round: " + (rep.length ? rep.join(", ") : "none");
      const ev = state.cloud.eval;
      if (ev) {
        const parts = [];
        if (state.cloud.eval_round) parts.push("round " + state.cloud.eval_round);
        if (typeof ev.modes === "number") parts.push(ev.modes_covered + " of " + ev.modes + " modes", fmt(100 * ev.high_quality, 3) + "% high quality");
        if (typeof ev.fid === "number") parts.push("FID " + fmt(ev.fid));
        if (typeof ev.is === "number") parts.push("IS " + fmt(ev.is));
        if (ev.eval_error) parts.push(ev.eval_error);
        $("eval").textContent = parts.join(", ");
      }
    }
  }

  function deviceState(c, dev) {
    const e = (c.status && c.status.edge) || {};
    if ((e.suspects || []).includes(dev)) return "suspect";
    const pres = c.presence.get(dev);
    if (pres === "offline") return "offline";
    if ((e.live_devices || []).includes(dev)) {
      // In sync mode, a live device missing from the last aggregation did
      // not answer in time: late.
      const w = e.weights || {};
      if (c.status.mode === "sync" && Object.keys(w).length && !(dev in w)) return "late";
      return "live";
    }
    return pres || "unknown";
  }

  function renderCommunities() {
    const box = $("communities");
    const ids = [...new Set([...cfg.communities, ...state.comms.keys()])];
    const lr = state.cloud && state.cloud.last_round;
    const suspects = (state.cloud && state.cloud.cloud && state.cloud.cloud.suspects) || [];
    const cards = ids.map((id) => {
      const c = comm(id);
      const st = c.status;
      const e = (st && st.edge) || null;
      const head = el("h2", {}, id);
      if (suspects.includes(id)) head.append(el("span", { class: "tag suspect" }, "suspect"));
      const card = el("article", { class: "community", "data-id": id }, head);
      const facts = el("dl", {});
      const fact = (k, v) => facts.append(el("dt", {}, k), el("dd", {}, v));
      if (lr && lr.weights && id in lr.weights) fact("Eq. 1 weight", fmt(lr.weights[id], 3));
      if (lr && lr.losses && id in lr.losses) fact("round " + lr.round + " loss", fmt(lr.losses[id]));
      if (e) {
        fact("round", e.round);
        fact("iteration", e.iteration + " (" + e.round_iteration + " of " + cfg.local_iters + " this round)");
        fact("state", e.state);
        fact("loss", fmt(e.loss));
        fact("iterations/s", fmt(st.iterations_per_second, 3));
        fact("late / stale / duplicate", (e.late || 0) + " / " + (e.stale || 0) + " / " + (e.duplicate || 0));
        if (st.bridge) fact("uplink", st.bridge.connected ? "connected" : "down (" + (st.bridge.queue_messages || 0) + " queued)");
        const bar = el("div", { class: "bar" }, el("div", {}));
        bar.firstChild.style.width = Math.min(100, (100 * e.round_iteration) / (cfg.local_iters || 1)) + "%";
        card.append(facts, bar);
      } else {
        card.append(facts);
      }
      const devs = new Set([...c.presence.keys(), ...((e && e.live_devices) || []), ...Object.keys((e && e.weights) || {}), ...((e && e.suspects) || [])]);
      if (devs.size) {
        const w = (e && e.weights) || {};
        const wmax = Math.max(1e-9, ...Object.values(w));
        const list = el("ul", { class: "devices" });
        for (const dev of [...devs].sort()) {
          const s = deviceState(c, dev);
          const wb = el("span", { class: "weight" }, el("span", {}));
          wb.firstChild.style.width = (dev in w ? (100 * w[dev]) / wmax : 0) + "%";
          list.append(el("li", { class: "device", "data-id": dev, "data-state": s },
            el("span", { class: "dot" }), el("span", { class: "name" }, dev), el("span", { class: "tag " + s }, s),
            wb, el("span", { class: "wv" }, dev in w ? fmt(w[dev], 3) : "")));
        }
        card.append(el("h3", {}, "devices and their Eq. " + (st && st.mode === "async" ? "5" : "4") + " weights"), list);
      } else if (!e) {
        card.append(el("p", { class: "small" }, cfg.role === "cloud" || id !== cfg.community ? "devices and live status: on edge " + id + "'s dashboard" : "no status yet"));
      }
      return card;
    });
    box.replaceChildren(...cards);
  }

  function renderCharts() {
    // The cloud's round summaries (each community's L_D*(G_k) as uploaded,
    // the quantity of loss.png) once a round has closed; before that, or
    // without a cloud, the edge's live aggregated loss.
    const perRound = [...state.comms.values()].some((c) => c.rounds.size);
    const loss = [];
    let i = 0;
    for (const [id, c] of state.comms) {
      const pts = perRound ? c.rounds : c.loss;
      if (pts.size) loss.push({ name: id, color: COLORS[i % COLORS.length], points: [...pts].sort((a, b) => a[0] - b[0]) });
      i++;
    }
    $("loss-title").textContent = perRound ? "each community's loss L_D*(G_k) at the end of each round" : "the edge's aggregated loss, live";
    lineChart($("loss-chart"), loss, "round", "loss");

    const ev = [...state.evals].sort((a, b) => a[0] - b[0]);
    const fid = ev.filter(([, e]) => typeof e.fid === "number").map(([r, e]) => [r, e.fid]);
    let q;
    if (fid.length) {
      q = [{ name: "FID (lower is better)", color: COLORS[0], points: fid }];
    } else {
      q = [
        { name: "modes covered (share)", color: COLORS[0], points: ev.filter(([, e]) => e.modes > 0).map(([r, e]) => [r, e.modes_covered / e.modes]) },
        { name: "high-quality samples (share)", color: COLORS[2], points: ev.filter(([, e]) => typeof e.high_quality === "number").map(([r, e]) => [r, e.high_quality]) },
      ].filter((s) => s.points.length);
    }
    lineChart($("quality-chart"), q, "round", fid.length ? "FID" : "share");
  }

  // ticks returns round values (1, 2 or 5 × 10^k apart) covering [lo, hi].
  function ticks(lo, hi, n, integer) {
    const raw = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = mag;
    for (const m of [2, 5, 10]) if (Math.abs(m * mag - raw) < Math.abs(step - raw)) step = m * mag; // the nearest
    if (integer) step = Math.max(1, Math.round(step));
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  // lineChart draws series [{name, color, points: [[x, y]...]}] into svg,
  // the legend above the plot.
  function lineChart(svg, series, xlabel, ylabel) {
    const NS = "http://www.w3.org/2000/svg";
    const W = 480, H = 300, L = 52, R = 10, B = 34, T = 10 + 13 * Math.ceil(series.length / 3);
    const node = (tag, attrs, txt) => {
      const n = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
      if (txt !== undefined) n.textContent = txt;
      return n;
    };
    const all = series.flatMap((s) => s.points).filter((p) => isFinite(p[0]) && isFinite(p[1]));
    const kids = [];
    if (!all.length) {
      kids.push(node("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "waiting for data"));
      svg.replaceChildren(...kids);
      return;
    }
    let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
    let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
    if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
    if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 0.5; y0 -= d; y1 += d; }
    const pad = (y1 - y0) * 0.05;
    y0 -= pad; y1 += pad;
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
    kids.push(node("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
    kids.push(node("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
    for (const y of ticks(y0, y1, 4, false)) {
      kids.push(node("line", { x1: L, y1: sy(y), x2: W - R, y2: sy(y), class: "grid" }));
      kids.push(node("text", { x: L - 4, y: sy(y) + 4, "text-anchor": "end" }, fmt(y, 3)));
    }
    for (const x of ticks(x0, x1, 6, Number.isInteger(x0) && Number.isInteger(x1) && x1 - x0 >= 3)) {
      kids.push(node("line", { x1: sx(x), y1: H - B, x2: sx(x), y2: H - B + 3, class: "axis" }));
      kids.push(node("text", { x: sx(x), y: H - B + 14, "text-anchor": "middle" }, fmt(x, 4)));
    }
    kids.push(node("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "label" }, xlabel));
    kids.push(node("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", class: "label", transform: "rotate(-90 12 " + (T + H - B) / 2 + ")" }, ylabel));
    series.forEach((s, k) => {
      const pts = s.points.filter((p) => isFinite(p[0]) && isFinite(p[1]));
      kids.push(node("polyline", { points: pts.map((p) => sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" "), stroke: s.color, class: "line" }));
      if (pts.length === 1) kids.push(node("circle", { cx: sx(pts[0][0]), cy: sy(pts[0][1]), r: 3, fill: s.color }));
      const lx = L + (k % 3) * 140, ly = 8 + 13 * Math.floor(k / 3);
      kids.push(node("rect", { x: lx, y: ly - 4, width: 10, height: 3, fill: s.color }));
      kids.push(node("text", { x: lx + 14, y: ly, class: "legend" }, s.name));
    });
    svg.replaceChildren(...kids);
  }

  // --- start ---------------------------------------------------------------

  async function start() {
    try {
      const r = await fetch("config.json", { cache: "no-store" });
      if (!r.ok) throw new Error("config.json: HTTP " + r.status);
      cfg = await r.json();
    } catch (e) {
      $("note").textContent = "cannot load the dashboard's settings: " + e.message;
      return;
    }
    $("where").textContent = cfg.role === "edge" ? "edge " + cfg.community + " of " + cfg.name : "cloud of " + cfg.name;
    document.title = "fedgan: " + $("where").textContent;
    if (!cfg.ws_port && !new URLSearchParams(location.search).get("ws")) {
      $("note").textContent = "This broker has no WebSocket listener: set `websocket:` (e.g. 127.0.0.1:9001) in its section of the topology.";
      return;
    }
    $("note").textContent = "Curves start when the page connects; the retained statuses give the latest point at once.";
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const u = $("user").value.trim();
      const p = $("password").value;
      $("password").value = "";
      connect(u, p);
    });
    $("anon").addEventListener("click", () => connect("", ""));
    $("logout").addEventListener("click", () => {
      if (client) client.end(true);
      client = null;
      setConn("idle", "not connected");
      showLogin("");
    });
    if (cfg.anonymous && new URLSearchParams(location.search).get("anonymous") !== null) connect("", "");
    else showLogin("");
  }

  start();
})();
