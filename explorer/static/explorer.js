// dmlnet explorer: renders the JSON API into the page and polls it, so the page follows the chain without a
// reload. No framework; charts by uPlot (served from this app, installed from npm).
"use strict";

document.documentElement.classList.add("js"); // the page renders here: the server's <noscript> summary stays hidden

const POLL_MS = Number(document.body.dataset.pollMs || 2000);
const STATES = ["open", "claimed", "submitted", "revealing", "decided", "accepted"];
const charts = {};
const TABLE_ROWS = 100; // rows a table renders (the JSON has them all; a phone need not draw thousands)

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

function eth(wei) {
  // Wei as a decimal string (exact, beyond 2^53) shown in ETH with up to 6 decimals.
  if (wei === null || wei === undefined) return "–";
  const v = BigInt(wei);
  const sign = v < 0n ? "-" : "";
  const a = v < 0n ? -v : v;
  const whole = a / 10n ** 18n;
  const frac = (a % 10n ** 18n).toString().padStart(18, "0").slice(0, 6).replace(/0+$/, "");
  return `${sign}${whole}${frac ? "." + frac : ""} ETH`;
}

function short(hex) {
  return hex ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : "–";
}

function artifactLink(digest) {
  // The store's copy of an artifact, by its digest (the explorer redirects to the store by CID).
  return digest ? el("a", { href: `/artifacts/${digest}`, class: "mono", title: digest, target: "_blank" }, short(digest)) : "–";
}

function accountLink(address) {
  return address ? el("a", { href: `/accounts/${address}`, class: "mono", title: address }, short(address)) : "–";
}

// One formatter for every date: toLocaleString() builds a new one per call, which dominated a page's render.
const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });

function when(ts) {
  return ts ? DATE_FORMAT.format(new Date(ts * 1000)) : "–";
}

// Task parameters and event arguments as people read them: amounts in ETH, durations in seconds, times as dates.
const AMOUNT = /(reward|bond|budget|amount|stake|escrow|credit|slashed)$/i;
const DURATION = /(timeout|window)$/i;
const INSTANT = /(deadline|until|at|releaseAt)$/i;

function readable(key, value) {
  if (value === null || value === undefined) return "–";
  if (AMOUNT.test(key) && /^\d+$/.test(String(value))) return el("span", { title: `${value} wei` }, eth(value));
  if (DURATION.test(key) && typeof value === "number") return `${value} s`;
  if (INSTANT.test(key) && typeof value === "number" && value > 1e9) return el("span", { title: `${value}` }, when(value));
  if (typeof value === "string" && value.length > 20) return el("span", { class: "mono", title: value }, short(value));
  return el("span", { class: "mono" }, String(value));
}

function unitName(index, unitsPerRound) {
  return index === unitsPerRound ? "Σ" : String(index);
}

function unitPath(taskId, round, index) {
  return `/tasks/${taskId}/rounds/${round}/units/${index}`;
}

function card(label, value, attrs = {}) {
  return el("div", { class: "card", ...attrs }, el("div", { class: "label" }, label), el("div", { class: "value" }, value));
}

function table(headers, rows, attrs = {}) {
  return el(
    "div",
    { class: "scroll" },
    el("table", attrs, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))))
  );
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.text()).slice(0, 200)}`);
  return response.json();
}

function setLive(text, bad = false) {
  const live = document.getElementById("live");
  live.textContent = text;
  live.className = bad ? "live bad" : "live";
}

function compact(v) {
  // Axis labels that fit: 1.2M, 350k, 0.93.
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(3)}`;
}

const CHART_HEIGHT = 220;

function chartWidth(host) {
  return Math.max(280, host.clientWidth - 16);
}

// A chart is drawn at its host's width: when the window changes width (a phone turned, a window resized), each
// chart follows its host instead of keeping the width it was created at.
window.addEventListener("resize", () => {
  for (const [id, chart] of Object.entries(charts)) {
    const host = document.getElementById(id);
    if (host && chart.width !== chartWidth(host)) chart.setSize({ width: chartWidth(host), height: CHART_HEIGHT });
  }
});

function lineChart(id, title, series, xs, ys) {
  // One uPlot chart per id, kept across polls (data replaced, not re-created).
  const host = document.getElementById(id);
  if (!host) return;
  const data = [xs, ...ys];
  if (typeof uPlot === "undefined") {
    host.textContent = "charts unavailable (uPlot not installed: run `make install`)";
    return;
  }
  if (charts[id]) {
    if (charts[id].width !== chartWidth(host)) charts[id].setSize({ width: chartWidth(host), height: CHART_HEIGHT });
    charts[id].setData(data);
    return;
  }
  host.textContent = "";
  charts[id] = new uPlot(
    {
      title,
      width: chartWidth(host),
      height: CHART_HEIGHT,
      series: [{}, ...series.map((s, i) => ({ label: s, stroke: ["#2f5bd3", "#e5534b", "#23864f"][i % 3], width: 2, points: { show: true } }))],
      // One point alone: a range around it (uPlot would otherwise stretch one instant over years).
      scales: { x: { time: series.timeAxis !== false, range: (u, min, max) => (min === max ? (series.timeAxis === false ? [min - 1, max + 1] : [min - 1800, max + 1800]) : [min, max]) } },
      // Rounds are whole numbers: no tick between them.
      axes: [series.timeAxis === false ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] } : {}, { size: 60, values: (u, vals) => vals.map(compact) }],
    },
    data,
    host
  );
}

// ------------------------------------------------------------------------------------------------ network page

async function renderNetwork(main) {
  const [net, tasks, accounts] = await Promise.all([api("/api/network"), api("/api/tasks?limit=50"), api("/api/accounts?limit=50")]);
  const s = net.solvency || {};
  const solvent = s.surplus !== undefined ? BigInt(s.surplus) >= 0n : null;
  main.replaceChildren(
    el("h1", {}, "Network"),
    el("div", { class: "cards", id: "network-cards" },
      card("tasks", net.tasks.total, { "data-figure": "tasks" }),
      card("active", net.tasks.active || 0),
      card("completed", net.tasks.completed || 0),
      card("miners", net.nodes.miners, { "data-figure": "miners" }),
      card("verifiers", net.nodes.verifiers, { "data-figure": "verifiers" }),
      card("units accepted", net.units_accepted, { "data-figure": "units-accepted" }),
      card("gas per accepted unit", net.gas_per_accepted_unit ?? "–"),
      card("contract balance", s.balance ? eth(s.balance) : s.error || "–", { "data-figure": "balance", "data-wei": s.balance }),
      card("owed", s.total_owed ? eth(s.total_owed) : "–", { "data-figure": "owed", "data-wei": s.total_owed }),
      card("solvent", solvent === null ? "–" : solvent ? "yes" : "NO", { class: solvent === false ? "card bad" : "card" })
    ),
    el("h2", {}, "Throughput"),
    el("div", { class: "chart", id: "chart-units" }),
    el("h2", {}, "Gas"),
    el("div", { class: "chart", id: "chart-gas" }),
    el("h2", {}, "Tasks"),
    table(
      ["task", "status", "round", "accepted", "rejected", "challenges", "escrow", "owner"],
      tasks.map((t) => [
        el("a", { href: `/tasks/${t.task_id}` }, `#${t.task_id}`), t.status, `${Math.min(t.current_round + 1, t.rounds)} / ${t.rounds}`,
        t.accepted, t.rejected, t.challenges, eth(t.escrow), accountLink(t.owner),
      ]),
      { id: "tasks-table" }
    ),
    el("h2", {}, "Nodes"),
    table(
      ["account", "roles", "stake", "units accepted", "rejected", "seats", "earned", "slashed", "last active"],
      accounts.map((a) => [accountLink(a.address), a.roles.join(", "),
        el("span", { "data-stake": a.staked, "data-account": a.address }, eth(a.staked)),
        a.units_accepted + a.aggregates_accepted, a.units_rejected, a.seats, eth(a.credited), eth(a.slashed), when(a.last_at)]),
      { id: "accounts-table" }
    )
  );
  for (const id of Object.keys(charts)) delete charts[id];
  lineChart("chart-units", "units accepted per minute", ["units/min"], net.units_per_minute.map((p) => p.t), [net.units_per_minute.map((p) => p.units)]);
  lineChart("chart-gas", "gas used per minute", ["gas"], net.gas_over_time.map((p) => p.t), [net.gas_over_time.map((p) => p.gas)]);
  return net.indexed_block;
}

// ------------------------------------------------------------------------------------------------ task page

let selectedUnit = null;

async function renderTask(main, taskId) {
  const t = await api(`/api/tasks/${taskId}`);
  const grid = el("div", { class: "grid scroll", id: "unit-grid" },
    t.rounds_grid.map((units, r) =>
      el("div", { class: "row", "data-round": r },
        el("span", { class: "round" }, `round ${r + 1}`),
        units.map((u) => {
          const key = `${u.round}/${u.index}`;
          const label = u.index === t.units_per_round ? "Σ" : u.index;
          return el("div", {
            class: `unit s-${u.status}${u.index === t.units_per_round ? " aggregate" : ""}${selectedUnit === key ? " selected" : ""}`,
            "data-unit": key, "data-status": u.status,
            title: `round ${u.round + 1} unit ${u.index}: ${u.status}${u.miner ? " by " + u.miner : ""}${u.rejections ? `, ${u.rejections} rejected` : ""}`,
            onclick: () => {
              selectedUnit = key;
              history.replaceState(null, "", unitPath(taskId, u.round, u.index)); // a unit has its own URL
              showUnit(taskId, u.round, u.index, t.units_per_round);
            },
          }, label);
        })
      )
    )
  );
  const acc = t.accuracy || [];
  // A classification task is judged by accuracy, a language model by its validation loss (and perplexity).
  const loss = t.metric === "validation loss";
  const figureOf = (p) => (loss ? p.loss : p.accuracy);
  main.replaceChildren(
    el("h1", {}, `Task #${t.task_id}`),
    el("div", { class: "cards", id: "task-cards" },
      card("status", t.status, { "data-figure": "status" }),
      card("round", `${Math.min(t.current_round + 1, t.rounds)} / ${t.rounds}`),
      card("units per round", t.units_per_round),
      card("quorum", t.quorum),
      card("accepted", t.accepted, { "data-figure": "accepted" }),
      card("rejected", t.rejected, { "data-figure": "rejected" }),
      card("challenges", t.challenges),
      card("budget", eth(t.budget), { "data-figure": "budget", "data-wei": t.budget }),
      card("paid out", eth(t.paid_out), { "data-figure": "paid", "data-wei": t.paid_out }),
      card("slashed in", eth(t.slashed_in), { "data-figure": "slashed", "data-wei": t.slashed_in }),
      card("escrow left", eth(t.escrow), { "data-figure": "escrow", "data-wei": t.escrow }),
      card("owner", accountLink(t.owner))
    ),
    el("h2", {}, "Audit"),
    auditPanel(taskId, await api(`/api/tasks/${taskId}/audit`).catch(() => ({ state: "none" }))),
    el("h2", {}, "Units"),
    el("div", { class: "legend" }, [...STATES, "rejected"].map((s) => el("span", { style: `--c: var(--${s})` }, s))),
    grid,
    el("div", { id: "unit-detail" }),
    ...(t.rejections && t.rejections.length ? [
      el("h2", {}, "Why rejected"),
      el("p", { class: "muted" }, "each rejected result re-executed whole by this explorer: the check that failed, where, by how much"),
      table(["round", "unit", "miner", "re-judged", "check", "segment", "distance / tolerance", "why"],
        t.rejections.map((x) => [x.round + 1, x.idx, accountLink(x.miner),
          el("span", { class: x.outcome === "valid" ? "bad" : "" }, x.outcome === "valid" ? "valid: wrongly rejected" : x.outcome),
          x.check_name || "–", x.segment ?? "–",
          x.distance === null || x.distance === undefined ? "–" : `${Number(x.distance).toPrecision(3)} / ${x.tolerance}`,
          x.reason]),
        { id: "rejections-table" }),
    ] : []),
    el("h2", {}, loss ? "Validation loss per round (held-out tail)" : "Accuracy per round (held-out split)"),
    el("p", { class: "muted", id: "baseline", "data-accuracy": t.baseline_accuracy ?? "" },
      t.baseline_accuracy !== null && t.baseline_accuracy !== undefined
        ? (loss ? `centralized baseline: loss ${Number(t.baseline_accuracy).toFixed(3)}, perplexity ${Math.exp(t.baseline_accuracy).toFixed(2)} (${t.baseline_note})`
          : `centralized baseline ${(100 * t.baseline_accuracy).toFixed(1)}% (${t.baseline_note})`)
        : `centralized baseline: ${t.baseline_note}`),
    el("div", { class: "chart", id: "chart-accuracy", "data-points": acc.length }, acc.length ? "" : "no round aggregated yet"),
    el("h2", {}, "Payouts and slashes"),
    table(["account", "kind", "amount"], t.money_by_account.map((m) => [accountLink(m.account), m.kind, eth(m.amount)]), { id: "money-table" }),
    el("h2", {}, "Parameters"),
    table(["parameter", "value"], Object.entries(t.params).map(([k, v]) =>
      [k, k.endsWith("Digest") ? artifactLink(v) : readable(k, v)]), { id: "params-table" }),
    t.final_model ? el("p", {}, "final model: ", artifactLink(t.final_model)) : ""
  );
  delete charts["chart-accuracy"];
  if (acc.length) {
    const ys = [acc.map(figureOf)];
    const series = [loss ? "validation loss" : "accuracy"];
    if (t.baseline_accuracy !== undefined && t.baseline_accuracy !== null) {
      ys.push(acc.map(() => t.baseline_accuracy));
      series.push("centralized baseline");
    }
    series.timeAxis = false;
    lineChart("chart-accuracy", loss ? "validation loss on the held-out tail" : "accuracy on the held-out split",
      series, acc.map((p) => p.round + 1), ys);
  }
  if (selectedUnit) {
    const [r, i] = selectedUnit.split("/").map(Number);
    await showUnit(taskId, r, i, t.units_per_round);
  }
  return null;
}

function auditPanel(taskId, a) {
  // `dml audit` from the page: events replayed, artifacts re-hashed, sampled units re-executed, money summed.
  const run = el("button", {
    id: "run-audit",
    disabled: a.state === "running" ? "" : null,
    onclick: async () => {
      run.disabled = true;
      await fetch(`/api/tasks/${taskId}/audit`, { method: "POST" });
      refresh();
    },
  }, a.state === "running" ? "auditing…" : "run the audit");
  const outcome = {
    none: "not audited from this explorer yet",
    running: "running…",
    passed: "passed: nothing found",
    failed: `FAILED: ${a.findings} finding(s): ${a.detail || ""}`,
    error: `could not run: ${a.detail || ""}`,
    kept: "a report from an earlier run",
  }[a.state] || a.state;
  return el("p", { id: "audit", "data-state": a.state, class: a.state === "failed" || a.state === "error" ? "bad" : "" },
    run, " ", outcome, a.report ? [" · ", el("a", { href: a.report, target: "_blank" }, "report")] : "");
}

async function showUnit(taskId, round, index, unitsPerRound) {
  const host = document.getElementById("unit-detail");
  document.querySelectorAll(".unit.selected").forEach((n) => n.classList.remove("selected"));
  document.querySelector(`[data-unit="${round}/${index}"]`)?.classList.add("selected");
  let u;
  try {
    u = await api(`/api/tasks/${taskId}/rounds/${round}/units/${index}`);
  } catch (err) {
    host.replaceChildren(el("p", { class: "muted" }, `round ${round + 1} unit ${unitName(index, unitsPerRound)}: open, nothing happened yet`));
    return;
  }
  host.replaceChildren(
    el("h2", { id: "unit-title" }, `Round ${round + 1}, unit ${unitName(index, unitsPerRound)}: ${u.status} `,
      el("a", { href: unitPath(taskId, round, index), id: "unit-link", title: "this unit's own URL" }, "link")),
    el("p", {}, "miner ", accountLink(u.miner), " · result ", artifactLink(u.result_digest), " · model ", artifactLink(u.model_digest),
      " · level ", u.level, " · votes ", `${u.valid_votes} valid / ${u.invalid_votes} invalid`),
    table(["epoch", "level", "verifier", "seats", "committed", "revealed", "vote"],
      u.seats.map((s) => [s.epoch, s.level, accountLink(s.verifier), s.drawn - s.released, s.committed, s.revealed,
        s.valid === null ? "–" : s.valid ? "valid" : "invalid"])),
    el("h2", {}, "History"),
    table(["block", "time", "event", "details"], u.history.map((h) => [h.block, when(h.at), h.event,
      el("span", { class: "details" }, Object.entries(h.args).filter(([k]) => !["taskId", "round", "index"].includes(k))
        .flatMap(([k, v]) => [`${k} `, readable(k, v), " "]))]), { id: "history-table" })
  );
}

// ------------------------------------------------------------------------------------------------ account page

async function renderAccount(main, address) {
  const a = await api(`/api/accounts/${address}`);
  const stake = a.stake || {};
  const per = (taskId) => (a.units_per_round || {})[String(taskId)]; // its aggregation unit's index (shown as Σ)
  main.replaceChildren(
    el("h1", {}, a.address),
    el("div", { class: "cards", id: "account-cards" },
      card("roles", a.roles.join(", ") || "–"),
      card("stake", eth(stake.total), { "data-figure": "stake", "data-wei": stake.total }),
      card("free", eth(stake.free)),
      card("locked", eth(stake.locked), { "data-figure": "locked", "data-wei": stake.locked }),
      card("unbonding", eth(stake.unbonding)),
      card("credit (withdrawable)", eth(stake.credit), { "data-figure": "credit", "data-wei": stake.credit }),
      card("earned", eth(a.credited), { "data-figure": "earned", "data-wei": a.credited }),
      card("slashed", eth(a.slashed), { "data-figure": "slashed", "data-wei": a.slashed, class: BigInt(a.slashed) > 0n ? "card bad" : "card" }),
      card("withdrawn", eth(a.withdrawn)),
      card("units accepted", a.units_accepted + a.aggregates_accepted),
      card("units rejected", a.units_rejected, { "data-figure": "rejected" }),
      card("seats", a.seats)
    ),
    el("h2", {}, "Earnings and slashes over time"),
    el("div", { class: "chart", id: "chart-money" }),
    el("h2", {}, "Money"),
    a.money.length > TABLE_ROWS ? el("p", { class: "muted" }, `the latest ${TABLE_ROWS} of ${a.money.length}`) : "",
    table(["block", "time", "kind", "amount", "task", "unit"], a.money.slice(-TABLE_ROWS).reverse().map((m) => [m.block, when(m.at), m.kind, eth(m.amount),
      m.task_id ? el("a", { href: `/tasks/${m.task_id}` }, `#${m.task_id}`) : "–",
      m.round === null ? "–" : `round ${m.round + 1} unit ${unitName(m.idx, per(m.task_id))}`]), { id: "money-table" }),
    el("h2", {}, "Units"),
    table(["task", "round", "unit", "status", "result"], a.units.map((u) => [el("a", { href: `/tasks/${u.task_id}` }, `#${u.task_id}`),
      u.round + 1, el("a", { href: unitPath(u.task_id, u.round, u.index) }, unitName(u.index, per(u.task_id))), u.status,
      artifactLink(u.result_digest)]), { id: "units-table" }),
    el("h2", {}, "Votes"),
    table(["task", "round", "unit", "epoch", "level", "seats", "revealed", "vote"], a.votes.map((v) => [
      el("a", { href: `/tasks/${v.task_id}` }, `#${v.task_id}`), v.round + 1,
      el("a", { href: unitPath(v.task_id, v.round, v.idx) }, unitName(v.idx, per(v.task_id))), v.epoch, v.level, v.drawn - v.released, v.revealed,
      v.valid === null ? "–" : v.valid ? "valid" : "invalid"]))
  );
  delete charts["chart-money"];
  let earned = 0, slashed = 0;
  const xs = [], ys1 = [], ys2 = [];
  for (const m of a.money) {
    if (m.kind === "credit") earned += Number(BigInt(m.amount) / 10n ** 12n) / 1e6;
    else if (m.kind === "slash") slashed += Number(BigInt(m.amount) / 10n ** 12n) / 1e6;
    else continue;
    xs.push(m.at); ys1.push(earned); ys2.push(slashed);
  }
  if (xs.length) lineChart("chart-money", "cumulative ETH", ["earned", "slashed"], xs, [ys1, ys2]);
  else document.getElementById("chart-money").textContent = "no earnings or slashes yet";
  return null;
}

// ------------------------------------------------------------------------------------------------ routing

async function refresh() {
  const main = document.getElementById("page");
  const path = location.pathname;
  const started = performance.now();
  try {
    let m;
    const healthy = api("/health").catch(() => null); // in parallel with the page's own data
    if ((m = path.match(/^\/tasks\/(\d+)\/rounds\/(\d+)\/units\/(\d+)/)) && selectedUnit === null) {
      selectedUnit = `${m[2]}/${m[3]}`; // a unit's own URL: its task's page with the unit open
    }
    if ((m = path.match(/^\/tasks\/(\d+)/))) await renderTask(main, m[1]);
    else if ((m = path.match(/^\/accounts\/(0x[0-9a-fA-F]{40})/))) await renderAccount(main, m[1]);
    else await renderNetwork(main);
    const health = await healthy;
    setLive(`live · block ${health && health.indexed_block !== null ? health.indexed_block : "?"} · ${new Date().toLocaleTimeString()}`);
    document.body.dataset.renderMs = (performance.now() - started).toFixed(1); // fetch + render, for the bench
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (err) {
    setLive(`not updating: ${err.message}`, true);
  }
}

refresh();
setInterval(refresh, POLL_MS);
