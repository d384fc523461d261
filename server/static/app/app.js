// The ML Training page: configure and follow runs live, history, models, predictions and
// fixtures.

import { ApiError, gql, onTokenNeeded, subscribe } from "./api.js";
import { reliability, strengths } from "./charts.js";
import "./data.js";

const $ = (selector) => document.querySelector(selector);
const $$ = (selector) => [...document.querySelectorAll(selector)];
const fmt = (value, digits = 4) => (value === null || value === undefined ? "–"
  : Number(value).toFixed(digits));
const pct = (value) => `${(100 * value).toFixed(1)}%`;
const escape = (text) => String(text ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

let leagues = [];
let stopFollowing = null;

// ---- token ---------------------------------------------------------------------------------
onTokenNeeded(() => new Promise((resolve) => {
  const dialog = $("#token-dialog");
  dialog.querySelector("input").value = "";
  dialog.onclose = () => resolve(dialog.querySelector("input").value || null);
  dialog.showModal();
}));

// ---- tabs ----------------------------------------------------------------------------------
function showTab(name) {
  for (const button of $$("nav button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const section of $$(".tab")) section.hidden = section.id !== `tab-${name}`;
  if (name === "history") loadHistory();
  if (name === "models") loadModels();
  if (name === "predict") loadPredictForm();
  if (name === "fixtures") loadFixturesForm();
}
for (const button of $$("nav button")) button.onclick = () => showTab(button.dataset.tab);

// ---- configuration -------------------------------------------------------------------------
function checkbox(name, value, label, checked = false) {
  const wrapper = document.createElement("label");
  wrapper.innerHTML = `<input type="checkbox" name="${name}" value="${escape(value)}"
    ${checked ? "checked" : ""}> ${escape(label)}`;
  return wrapper;
}

const selected = (name) => $$(`input[name="${name}"]:checked`).map((i) => i.value);

function renderSeasons() {
  const keep = new Set(selected("season"));
  const chosen = new Set(selected("league"));
  const seasons = new Set();
  for (const league of leagues) {
    if (chosen.has(league.code)) league.seasons.forEach((s) => seasons.add(s));
  }
  const box = $("#seasons");
  box.replaceChildren(...[...seasons].sort().reverse().map((s) =>
    checkbox("season", s, `20${s.slice(0, 2)}/${s.slice(2)}`, keep.has(s))));
  renderSummary();
}

function renderSummary() {
  const chosen = selected("league");
  const seasons = selected("season");
  const type = $('input[name="modelType"]:checked').value.toLowerCase();
  const from = $('input[name="dateFrom"]').value, to = $('input[name="dateTo"]').value;
  const matches = leagues.filter((l) => chosen.includes(l.code))
    .reduce((n, l) => n + l.matchCount, 0);
  $("#summary").textContent = chosen.length
    ? `${type} model on ${chosen.join(", ")}; ${seasons.length ? `seasons ${seasons.join(", ")}`
      : "every season"}${from ? `, from ${from}` : ""}${to ? `, to ${to}` : ""}` +
      (seasons.length ? "" : ` (up to ${matches} matches)`)
    : "Pick at least one league.";
  $("#start").disabled = !chosen.length;
}

async function loadLeagues() {
  const data = await gql("{ leagues { code name country matchCount seasons } }");
  leagues = data.leagues;
  $("#leagues").replaceChildren(...leagues.map((l) =>
    checkbox("league", l.code, `${l.code} · ${l.name} (${l.country}, ${l.matchCount})`)));
  renderSeasons();
}

$("#config").addEventListener("change", (event) => {
  if (event.target.name === "league") renderSeasons();
  else renderSummary();
});
$("#clear-leagues").onclick = () => {
  $$('input[name="league"]').forEach((i) => { i.checked = false; });
  renderSeasons();
};
$("#clear-seasons").onclick = () => {
  $$('input[name="season"]').forEach((i) => { i.checked = false; });
  renderSummary();
};
$("#clear-dates").onclick = () => {
  $('input[name="dateFrom"]').value = "";
  $('input[name="dateTo"]').value = "";
  renderSummary();
};
$("#toggle-config").onclick = () => {
  const form = $("#config");
  form.hidden = !form.hidden;
  $("#toggle-config").textContent = form.hidden ? "Show" : "Hide";
  $("#toggle-config").setAttribute("aria-expanded", String(!form.hidden));
};

// the API names fields as it was sent them (dateFrom); the form's labels say From
const LABELS = { modelType: "Model", leagues: "Leagues", seasons: "Seasons", dateFrom: "From",
  dateTo: "To", xi: "Decay per day", refitDays: "Refit every (days)",
  validationShare: "Validation share" };
const inWords = (message) => message.replace(/\b(modelType|dateFrom|dateTo|xi|refitDays|validationShare)\b/g,
  (name) => `“${LABELS[name]}”`);

function showErrors(error) {
  $$("[data-error-for]").forEach((p) => { p.textContent = ""; });
  const field = error instanceof ApiError && error.field ? error.field : "form";
  const slot = $(`[data-error-for="${field}"]`) || $('[data-error-for="form"]');
  slot.textContent = inWords(error.message);
}

$("#config").onsubmit = async (event) => {
  event.preventDefault();
  showErrors({ message: "" });
  const input = {
    modelType: $('input[name="modelType"]:checked').value,
    leagues: selected("league"),
    seasons: selected("season"),
    dateFrom: $('input[name="dateFrom"]').value || null,
    dateTo: $('input[name="dateTo"]').value || null,
    hyperparameters: {},
  };
  for (const [name, parse] of [["xi", parseFloat], ["refitDays", (v) => parseInt(v, 10)],
    ["validationShare", parseFloat]]) {
    const raw = $(`input[name="${name}"]`).value;
    if (raw !== "") input.hyperparameters[name] = parse(raw);
  }
  $("#start").disabled = true;
  try {
    const data = await gql(`mutation($input: TrainingInput!) {
      startTraining(input: $input) { taskId status matchCount } }`, { input });
    follow(data.startTraining.taskId);
  } catch (error) {
    showErrors(error);
  } finally {
    $("#start").disabled = false;
  }
};

// ---- a live run ----------------------------------------------------------------------------
function follow(taskId) {
  stopFollowing?.();
  $("#run").hidden = false;
  $("#run-id").textContent = taskId.slice(0, 12);
  $("#result").replaceChildren();
  $("#cancel").disabled = false;
  $("#cancel").onclick = async () => {
    $("#cancel").disabled = true;
    try {
      await gql("mutation($t: String!) { cancelTraining(taskId: $t) { status } }", { t: taskId });
    } catch (error) {
      $("#message").textContent = error.message;
    }
  };
  const query = `subscription($t: String!) { trainingProgress(taskId: $t) {
    eventId type status phase phaseText progress message error version } }`;
  stopFollowing = subscribe(query, { t: taskId }, {
    next: ({ trainingProgress: e }) => {
      if (e.progress !== null) {
        $("#bar").style.width = `${e.progress}%`;
        $(".progress").setAttribute("aria-valuenow", e.progress);
      }
      if (e.phase) {
        $("#phase").textContent = e.status === "completed" || e.status === "failed"
          || e.status === "cancelled" ? e.status : e.phaseText;
        $("#phase").className = `badge ${e.status || ""}`;
      }
      if (e.message) $("#message").textContent = e.message;
      if (["completed", "failed", "cancelled"].includes(e.status)) finished(taskId, e);
    },
    error: (error) => { $("#message").textContent = error.message; },
  });
}

async function finished(taskId, event) {
  $("#cancel").disabled = true;
  if (event.status !== "completed") {
    $("#result").innerHTML = `<p class="error">${escape(event.error || event.status)}</p>`;
    return;
  }
  const { task } = await gql(`query($t: String!) { task(taskId: $t) {
    metrics model { version } } }`, { t: taskId });
  const m = task.metrics || {}, market = m.market || {}, c = m.comparison || {};
  $("#result").innerHTML = `
    <p>Validation of <strong>${escape(task.model?.version)}</strong>: ${m.n} matches from
      ${escape(m.validation_start)}.</p>
    <table class="metrics" id="final-metrics">
      <thead><tr><th></th><th class="num">RPS</th><th class="num">Log loss</th>
        <th class="num">Brier</th><th class="num">Accuracy</th></tr></thead>
      <tbody>
        <tr><td>model</td><td class="num">${fmt(m.rps, 5)}</td><td class="num">${fmt(m.log_loss)}</td>
          <td class="num">${fmt(m.brier)}</td><td class="num">${m.accuracy == null ? "–" : pct(m.accuracy)}</td></tr>
        <tr><td>market</td><td class="num">${fmt(market.rps, 5)}</td>
          <td class="num">${fmt(market.log_loss)}</td><td class="num">${fmt(market.brier)}</td>
          <td class="num">${market.accuracy == null ? "–" : pct(market.accuracy)}</td></tr>
      </tbody>
    </table>
    <p class="summary">RPS model − market: ${c.rps_diff >= 0 ? "+" : ""}${fmt(c.rps_diff, 5)}
      (standard error ${fmt(c.rps_diff_se, 5)})</p>
    <p id="promotion">${escape(event.message)}</p>`;
}

// ---- history -------------------------------------------------------------------------------
function duration(run) {
  if (!run.startedAt || !run.completedAt) return "–";
  return `${((new Date(run.completedAt) - new Date(run.startedAt)) / 1000).toFixed(1)} s`;
}

async function loadHistory() {
  const { trainingRuns } = await gql(`{ trainingRuns(limit: 100) { taskId runType status
    matchCount startedAt completedAt createdAt rps logLoss brierScore errorMessage
    model { version } } }`);
  const rows = trainingRuns.map((r) => {
    const status = r.status.toLowerCase();
    const tail = r.model?.version ?? r.errorMessage ?? "";
    return `<tr data-task="${escape(r.taskId)}">
      <td>${new Date(r.createdAt).toLocaleString()}</td><td>${escape(r.runType)}</td>
      <td><span class="badge ${status}">${status}</span></td>
      <td class="num">${r.matchCount ?? "–"}</td><td class="num">${duration(r)}</td>
      <td class="num">${fmt(r.rps, 5)}</td><td class="num">${fmt(r.logLoss)}</td>
      <td class="num">${fmt(r.brierScore)}</td><td>${escape(tail)}</td></tr>`;
  });
  $("#history tbody").innerHTML = rows.join("");
  $("#history-empty").hidden = rows.length > 0;
  $("#history").hidden = rows.length === 0;
}
$("#refresh-history").onclick = loadHistory;

// ---- models --------------------------------------------------------------------------------
const statusName = (status) => (status === "COMPLETED" ? "candidate" : status.toLowerCase());

async function loadModels() {
  const { models } = await gql(`{ models(limit: 100) { version modelType status
    trainingMatches scope dataTo rps logLoss brierScore metrics } }`);
  $("#models tbody").innerHTML = models.map((m) => {
    const status = statusName(m.status);
    const action = status === "active" ? "archive" : "activate";
    return `<tr data-version="${escape(m.version)}">
      <td><input type="checkbox" data-compare aria-label="compare ${escape(m.version)}"></td>
      <td><button type="button" class="link" data-action="detail">${escape(m.version)}</button></td>
      <td><span class="badge ${status}">${status}</span></td>
      <td>${escape((m.scope || "").replaceAll(",", ", "))}</td><td>${escape(m.dataTo ?? "–")}</td>
      <td class="num">${m.trainingMatches ?? "–"}</td>
      <td class="num">${m.metrics?.n ?? "–"}</td><td class="num">${fmt(m.rps, 5)}</td>
      <td class="num">${fmt(m.metrics?.market?.rps, 5)}</td><td class="num">${fmt(m.logLoss)}</td>
      <td class="num">${fmt(m.brierScore)}</td>
      <td><button type="button" data-action="${action}">${action}</button></td></tr>`;
  }).join("");
  $("#models-empty").hidden = models.length > 0;
  $("#compare-models").disabled = true;
  const { activeModel } = await gql(`{ activeModel(modelType: "full") {
    calibrationCurves { home draw away } teamStrengths { attack defense team { name } } } }`);
  const fallback = activeModel ? null : (await gql(`{ models(status: "active", limit: 1) {
    calibrationCurves { home draw away } teamStrengths { attack defense team { name } } } }`))
    .models[0];
  const model = activeModel || fallback;
  reliability($("#calibration"), model?.calibrationCurves);
  strengths($("#strengths"), model?.teamStrengths.map((t) => ({ ...t, name: t.team?.name ?? "?" })));
}
$("#refresh-models").onclick = loadModels;
$("#models").onclick = async (event) => {
  if (event.target.matches("input[data-compare]")) {
    $("#compare-models").disabled = $$("#models input[data-compare]:checked").length !== 2;
    return;
  }
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const version = button.closest("tr").dataset.version;
  $("#models-error").textContent = "";
  if (button.dataset.action === "detail") {
    showDetail(version);
    return;
  }
  const mutation = button.dataset.action === "activate" ? "activateModel" : "archiveModel";
  try {
    await gql(`mutation($v: String!) { ${mutation}(version: $v) { status } }`, { v: version });
  } catch (error) {
    $("#models-error").textContent = error.message;
  }
  loadModels();
};

// A version in detail, and two versions compared on the matches both held out.
const BINS = "{ predicted observed count }";
const CALIBRATION = `{ home ${BINS} draw ${BINS} away ${BINS} }`;

function binRows(calibration, label = "") {
  if (!calibration) return `<tr><td class="empty">no held-out forecasts stored</td></tr>`;
  return ["home", "draw", "away"].map((outcome) => `<tr><th>${label}${outcome}</th>${
    calibration[outcome].map((b) => `<td data-count="${b.count}">${fmt(b.predicted, 2)} /
      ${fmt(b.observed, 2)} (${b.count})</td>`).join("")}</tr>`).join("");
}

async function showDetail(version) {
  try {
    const { model: m } = await gql(`query($v: String!) { model(version: $v) { version modelType
      status scope trainingSeasons dataFrom dataTo trainingMatches validationFrom validationTo
      validationMatches rps logLoss brierScore detail { hyperparameters logs
        perLeague { league scores { n rps logLoss brier accuracy } }
        calibration ${CALIBRATION} } } }`, { v: version });
    const d = m.detail;
    $("#detail-title").textContent = `${m.version} (${m.modelType}, ${statusName(m.status)})`;
    const hyper = Object.entries(d.hyperparameters || {}).map(([k, v]) => `${k} ${v}`).join(", ");
    const seasons = m.trainingSeasons || [];
    $("#detail-windows tbody").innerHTML = [
      ["Leagues", m.scope],
      ["Seasons", seasons.length > 4 ? `${seasons[0]} to ${seasons.at(-1)} (${seasons.length})`
        : seasons.join(", ")],
      ["Fitted on", `${m.trainingMatches} matches, ${m.dataFrom} to ${m.dataTo}`],
      ["Validated on", `${m.validationMatches} held-out matches, ${m.validationFrom} to `
        + `${m.validationTo}: RPS ${fmt(m.rps, 5)}, log loss ${fmt(m.logLoss)}`],
      ["Hyperparameters", hyper],
    ].map(([k, v]) => `<tr><td>${k}</td><td>${escape(v ?? "–")}</td></tr>`).join("");
    $("#detail-leagues tbody").innerHTML = d.perLeague.map((x) => `<tr><td>${escape(x.league)}</td>
      <td class="num">${x.scores.n}</td><td class="num">${fmt(x.scores.rps, 5)}</td>
      <td class="num">${fmt(x.scores.logLoss)}</td><td class="num">${fmt(x.scores.brier)}</td>
      <td class="num">${pct(x.scores.accuracy)}</td></tr>`).join("");
    $("#detail-calibration tbody").innerHTML = binRows(d.calibration);
    $("#detail-logs").textContent = d.logs.join("\n");
    resetBets(m.version);
    $("#model-detail").hidden = false;
    $("#model-detail").scrollIntoView();
  } catch (error) {
    $("#models-error").textContent = error.message;
  }
}
$("#close-detail").onclick = () => { $("#model-detail").hidden = true; };

// A version's betting evaluation: the server scores the version's held-out forecasts of its
// validation matches (the stored model's forecasts when it kept none) and bets their edges
// at each pre-match price source.  The reading below the figures is derived from their
// intervals, never written in advance.
const BET_STATS = "bets roi roiCi { low high } kellyGrowthPerBet kellyGrowthCi { low high } "
  + "kellyLogGrowthTotal clv clvCi { low high } clvBets";
const EVALUATION = `query($v: String!, $from: Date, $to: Date, $heldOut: Boolean) {
  evaluation(version: $v, dateFrom: $from, dateTo: $to, heldOut: $heldOut) {
  modelVersion forecasts heldOut n
  marketSource rpsDiff rpsDiffSe inSampleMatches matchesWithoutMarket skippedUnknownTeams
  skippedWithoutForecast
  periodFrom periodTo selection { leagues dateFrom dateTo default }
  betting { minEdge kellyFraction maxStake closingSource sources { source matchesPriced
    overall { ${BET_STATS} } leagues { league stats { ${BET_STATS} } } } } } }`;
const SOURCE_NAMES = {
  max_pre: "best pre-match price across books (football-data)",
  bbmax_pre: "best pre-match price across books (BetBrain)",
  avg_pre: "market average pre-match price (football-data)",
  bbav_pre: "market average pre-match price (BetBrain)",
};
const signed = (value, digits = 1) => (value === null || value === undefined ? "–"
  : `${value >= 0 ? "+" : "−"}${Math.abs(100 * value).toFixed(digits)}%`);
const withCi = (value, ci, digits = 1) => `${signed(value, digits)}${ci
  ? ` [${signed(ci.low, digits)}, ${signed(ci.high, digits)}]` : ""}`;
const kellyName = (k) => ({ 0.25: "Quarter", 0.5: "Half", 1: "Full" })[k] ?? `${k}×`;
let betsTimer = null;

function resetBets(version) {
  clearInterval(betsTimer);
  $("#bets-from").value = "";
  $("#bets-to").value = "";
  $("#bets-forecasts").value = "held-out";
  $("#evaluate-bets").dataset.version = version;
  $("#evaluate-bets").disabled = false;
  $("#bets-status").textContent = "";
  $("#bets-error").textContent = "";
  $("#bets").hidden = true;
}

// Where the interval lies: "below", "above" or "spans" zero (null: no interval).
const side = (ci) => (!ci ? null : ci.high < 0 ? "below" : ci.low > 0 ? "above" : "spans");

function betsReading(e) {
  const lines = [];
  const total = e.n + e.matchesWithoutMarket;
  if (e.heldOut) {
    lines.push(`Held-out forecasts: each made by the fit on the data before the version's `
      + "validation period, so none of these matches is in-sample.");
  }
  if (e.skippedWithoutForecast > 0) {
    lines.push(`${e.skippedWithoutForecast} selected matches have no held-out forecast `
      + "(outside the validation period): not scored.");
  }
  if (e.inSampleMatches > 0) {
    lines.push(`${e.inSampleMatches} of the ${total} matches are in-sample (on or before the `
      + "last match the served model was fitted on): figures on them flatter the model.");
  }
  // a profit or a beaten close on matches the model was fitted on proves nothing
  const but = e.inSampleMatches > 0 ? ", but on in-sample matches: not evidence of an edge" : "";
  for (const s of e.betting.sources) {
    const o = s.overall;
    const name = SOURCE_NAMES[s.source] ?? s.source;
    if (!o.bets) {
      lines.push(`At the ${name}: no edge above ${pct(e.betting.minEdge)}, no bets.`);
      continue;
    }
    const roi = {
      below: `the selected bets lost money (ROI ${withCi(o.roi, o.roiCi)}, interval below 0)`,
      above: `the selected bets made money (ROI ${withCi(o.roi, o.roiCi)}, interval above 0${
        but})`,
      spans: `ROI interval includes 0 (${withCi(o.roi, o.roiCi)}): no evidence of an edge`,
    }[side(o.roiCi)] ?? `${o.bets} bet: too few for an interval`;
    const clv = {
      below: "the bets got worse prices than the close (CLV interval below 0)",
      above: `the bets beat the closing line (CLV interval above 0${but})`,
      spans: "CLV interval includes 0",
    }[side(o.clvCi)];
    lines.push(`At the ${name}, ${o.bets} bets: ${roi}${clv ? `; ${clv}` : ""}.`);
  }
  return lines;
}

function betsTable(s, kelly) {
  const rows = [["all leagues", s.overall], ...s.leagues.map((x) => [x.league, x.stats])];
  return `<h4>${escape(SOURCE_NAMES[s.source] ?? s.source)} <small>(${escape(s.source)},
    ${s.matchesPriced} matches priced)</small></h4>
    <div class="scroll"><table class="bets" data-source="${escape(s.source)}">
    <thead><tr><th>League</th><th class="num">Bets</th><th class="num">ROI [95% CI]</th>
      <th class="num">${kelly}-Kelly log growth per bet [95% CI]</th>
      <th class="num" title="the bankroll after the bets, placed in date order">Bankroll</th>
      <th class="num" title="mean log(bet price / closing price)">CLV [95% CI]</th></tr></thead>
    <tbody>${rows.map(([league, x]) => `<tr data-league="${escape(league)}">
      <td>${escape(league)}</td><td class="num">${x.bets}</td>
      <td class="num">${withCi(x.roi, x.roiCi)}</td>
      <td class="num">${withCi(x.kellyGrowthPerBet, x.kellyGrowthCi, 2)}</td>
      <td class="num">${x.kellyLogGrowthTotal === null || x.kellyLogGrowthTotal === undefined
        ? "–" : `×${Math.exp(x.kellyLogGrowthTotal).toFixed(3)}`}</td>
      <td class="num">${withCi(x.clv, x.clvCi)}</td></tr>`).join("")}</tbody></table></div>`;
}

$("#evaluate-bets").onclick = async () => {
  const button = $("#evaluate-bets");
  const version = button.dataset.version;
  const started = Date.now();
  button.disabled = true;
  $("#bets-error").textContent = "";
  $("#bets").hidden = true;
  const wait = () => {
    $("#bets-status").textContent = `Evaluating ${version}: scoring its matches and `
      + `bootstrapping the bets (${Math.round((Date.now() - started) / 1000)} s)…`;
  };
  wait();
  const timer = setInterval(wait, 1000);
  betsTimer = timer;
  const current = () => button.dataset.version === version;  // not another version's since
  try {
    const { evaluation: e } = await gql(EVALUATION, { v: version,
      from: $("#bets-from").value || null, to: $("#bets-to").value || null,
      // null: held out where the version kept them (the server says which it scored)
      heldOut: $("#bets-forecasts").value === "stored" ? false : null });
    if (!current()) return;
    const b = e.betting;
    const sel = e.selection;
    $("#bets-scope").textContent = `${e.n} matches of ${sel.leagues.join(", ")}, `
      + `${e.periodFrom} to ${e.periodTo}${sel.default ? ` (${sel.default})` : ""}, `
      + `forecasts: ${e.forecasts}; a bet on the outcome with the largest edge over ${pct(b.minEdge)}, Kelly stakes `
      + `${b.kellyFraction} × edge / (price − 1), at most ${pct(b.maxStake)}; CLV against `
      + `${b.closingSource}. RPS model − market (${e.marketSource}) ${fmt(e.rpsDiff, 5)} `
      + `(SE ${fmt(e.rpsDiffSe, 5)}).`;
    $("#bets-reading").innerHTML = betsReading(e).map((x) => `<li>${escape(x)}</li>`).join("");
    $("#bets-tables").innerHTML = b.sources.map((s) => betsTable(s, kellyName(b.kellyFraction)))
      .join("");
    $("#bets").hidden = false;
    $("#bets-status").textContent = `Evaluated in ${((Date.now() - started) / 1000).toFixed(1)} s.`;
  } catch (error) {
    if (!current()) return;
    $("#bets-status").textContent = "";
    $("#bets-error").textContent = error.message;
  } finally {
    clearInterval(timer);
    if (current()) button.disabled = false;
  }
};

$("#compare-models").onclick = async () => {
  const [a, b] = $$("#models input[data-compare]:checked").map((box) => box.closest("tr")
    .dataset.version).reverse();  // the older one is A
  const pairs = "{ n rpsDiff rpsDiffSe a { rps logLoss } b { rps logLoss } }";
  try {
    const { compareModels: c } = await gql(`query($a: String!, $b: String!) {
      compareModels(a: $a, b: $b) { note n overall ${pairs} leagues { league paired ${pairs} }
        hyperparameters { name a b same } windows { name a b same }
        calibrationA ${CALIBRATION} calibrationB ${CALIBRATION} } }`, { a, b });
    $("#compare-title").textContent = `A ${a} / B ${b}`;
    $("#compare-note").textContent = c.note;
    const rows = c.overall ? [["overall", c.overall], ...c.leagues.map((x) => [x.league, x.paired])]
      : [];
    $("#compare-paired tbody").innerHTML = rows.map(([name, x]) => `<tr><td>${escape(name)}</td>
      <td class="num">${x.n}</td><td class="num">${fmt(x.a.rps, 5)}</td>
      <td class="num">${fmt(x.b.rps, 5)}</td><td class="num">${fmt(x.rpsDiff, 5)}</td>
      <td class="num">${fmt(x.rpsDiffSe, 5)}</td><td class="num">${fmt(x.a.logLoss)}</td>
      <td class="num">${fmt(x.b.logLoss)}</td></tr>`).join("");
    const cell = (v) => escape(Array.isArray(v) ? (v.length > 4 ? `${v[0]}…${v.at(-1)} (${v.length})`
      : v.join(", ")) : v ?? "–");
    $("#compare-settings tbody").innerHTML = [...c.hyperparameters, ...c.windows].map((x) => `<tr>
      <td>${escape(x.name)}</td><td class="${x.same ? "" : "differs"}">${cell(x.a)}</td>
      <td class="${x.same ? "" : "differs"}">${cell(x.b)}</td></tr>`).join("");
    $("#compare-calibration tbody").innerHTML = binRows(c.calibrationA, "A ")
      + binRows(c.calibrationB, "B ");
    $("#model-compare").hidden = false;
    $("#model-compare").scrollIntoView();
  } catch (error) {
    $("#models-error").textContent = error.message;
  }
};
$("#close-compare").onclick = () => { $("#model-compare").hidden = true; };

// ---- predict ------------------------------------------------------------------------------
// The models that can predict (active or archived) with their leagues; a model's teams
// (those it has strengths for, per league) are fetched when it is chosen, then kept.
let predictors = [];
let rosters = null;
const teamsOf = new Map();

async function loadPredictors() {
  const { models } = await gql(`{ models(limit: 100) { version modelType status
    trainingLeagues } }`);
  predictors = models.filter((m) => ["ACTIVE", "ARCHIVED"].includes(m.status));
  predictors.sort((a, b) => (b.status === "ACTIVE") - (a.status === "ACTIVE")
    || (b.modelType === "full") - (a.modelType === "full"));
  if (!leagues.length) await loadLeagues();
  rosters = (await gql("{ leagues { code teams { name } } }")).leagues;
  return predictors;
}

async function modelTeams(model) {
  if (!model) return {};
  if (!teamsOf.has(model.version)) {
    const { model: m } = await gql(`query($v: String!) { model(version: $v) {
      teamStrengths { team { name } } } }`, { v: model.version });
    const known = new Set((m?.teamStrengths || []).map((t) => t.team?.name));
    const teams = {};
    for (const code of model.trainingLeagues || []) {
      teams[code] = (rosters.find((r) => r.code === code)?.teams || [])
        .map((t) => t.name).filter((n) => known.has(n));
    }
    teamsOf.set(model.version, teams);
  }
  return teamsOf.get(model.version);
}

function modelOptions(select) {
  const current = select.value;
  select.innerHTML = predictors.map((m) => `<option value="${escape(m.version)}">
    ${escape(m.version)}${m.status === "ACTIVE" ? " (active)" : ""}</option>`).join("");
  if (current && predictors.some((m) => m.version === current)) select.value = current;
}

function leagueOptions(select, model) {
  const current = select.value;
  const codes = model?.trainingLeagues || [];
  select.innerHTML = codes.map((code) => {
    const league = leagues.find((l) => l.code === code);
    return `<option value="${escape(code)}">${escape(code)} · ${escape(league?.name ?? code)}</option>`;
  }).join("");
  if (codes.includes(current)) select.value = current;
}

const chosen = (select) => predictors.find((m) => m.version === select.value);

async function loadTeams() {
  const teams = (await modelTeams(chosen($("#predict-model"))))[$("#predict-league").value]
    || [];
  const options = teams.map((t) => `<option>${escape(t)}</option>`).join("");
  $("#predict-home").innerHTML = options;
  $("#predict-away").innerHTML = options;
  if (teams.length > 1) $("#predict-away").selectedIndex = 1;
}

async function loadPredictForm() {
  await loadPredictors();
  if (!predictors.length) {
    $("#predict-error").textContent = "No trained model yet: start a training run.";
    return;
  }
  modelOptions($("#predict-model"));
  leagueOptions($("#predict-league"), chosen($("#predict-model")));
  await loadTeams();
}
$("#predict-model").onchange = async () => {
  leagueOptions($("#predict-league"), chosen($("#predict-model")));
  await loadTeams();
};
$("#predict-league").onchange = loadTeams;

const PREDICTIONS = `query($f: [FixtureInput!]!, $v: String) {
  predictions(fixtures: $f, modelVersion: $v) { homeTeam awayTeam homeWin draw awayWin
    modelVersion expectedGoals { home away } scoreGrid btts { yes }
    totals { line over under } asianHandicap { line win push lose }
    market { home draw away } edge { home draw away } } }`;

$("#predict-form").onsubmit = async (event) => {
  event.preventDefault();
  $("#predict-error").textContent = "";
  $("#prediction").hidden = true;  // no earlier answer stays under a new error
  const form = event.target;
  const prices = ["oddsHome", "oddsDraw", "oddsAway"].map((n) => form[n].value);
  const given = prices.filter((v) => v !== "").length;
  if (given && given < 3) {
    $("#predict-error").textContent = "Give all three odds (1, X, 2) or none.";
    return;
  }
  const fixture = { home: $("#predict-home").value, away: $("#predict-away").value,
    league: $("#predict-league").value };
  if (given) {
    const [home, draw, away] = prices.map(Number);
    fixture.odds = { home, draw, away };
  }
  try {
    const { predictions: [p] } = await gql(PREDICTIONS,
      { f: [fixture], v: $("#predict-model").value || null });
    $("#p-home").textContent = pct(p.homeWin);
    $("#p-draw").textContent = pct(p.draw);
    $("#p-away").textContent = pct(p.awayWin);
    const over = p.totals.find((t) => t.line === 2.5);
    const ah = p.asianHandicap.find((h) => h.line === -0.5);
    $("#markets").textContent = `Expected goals ${p.expectedGoals.home.toFixed(2)} – ` +
      `${p.expectedGoals.away.toFixed(2)} · over 2.5 ${pct(over.over)} · both teams score ` +
      `${pct(p.btts.yes)} · home −0.5 ${pct(ah.win)} · model ${p.modelVersion}`;
    $("#edges").textContent = p.edge
      ? `Market (margin removed) ${pct(p.market.home)} / ${pct(p.market.draw)} / ` +
        `${pct(p.market.away)} · edge ${signed(p.edge.home)} / ${signed(p.edge.draw)} / ` +
        `${signed(p.edge.away)} (model probability × odds − 1)`
      : "";
    const size = 7;
    const top = Math.max(...p.scoreGrid.slice(0, size).flatMap((r) => r.slice(0, size)));
    let html = `<tr><th>home \\ away</th>${[...Array(size).keys()].map((j) => `<th>${j}</th>`).join("")}</tr>`;
    for (let i = 0; i < size; i++) {
      html += `<tr><th>${i}</th>` + p.scoreGrid[i].slice(0, size).map((v) => {
        const alpha = (v / top).toFixed(2);
        return `<td style="background: rgba(31,111,235,${alpha}); color: ${v / top > 0.55 ? "#fff" : "#1d2430"}">${(100 * v).toFixed(1)}</td>`;
      }).join("") + "</tr>";
    }
    $("#grid").innerHTML = html;
    $("#prediction").hidden = false;
  } catch (error) {
    $("#predict-error").textContent = error.message;
    $("#prediction").hidden = true;
  }
};

// ---- fixtures ------------------------------------------------------------------------------
// A pasted or uploaded fixtures.csv goes to POST /api/predictions as text/csv (the server's
// one parser); typed lines "Home v Away [1 X 2]" go as JSON fixtures of the chosen league.
let fixtureRows = [];

async function loadFixturesForm() {
  await loadPredictors();
  if (!predictors.length) {
    $("#fixtures-error").textContent = "No trained model yet: start a training run.";
    return;
  }
  modelOptions($("#fixtures-model"));
  leagueOptions($("#fixtures-league"), chosen($("#fixtures-model")));
}
$("#fixtures-model").onchange = () =>
  leagueOptions($("#fixtures-league"), chosen($("#fixtures-model")));

$("#fixtures-file").onchange = async (event) => {
  const file = event.target.files[0];
  if (file) $("#fixtures-text").value = await file.text();
};

function typedFixtures(text, league) {
  const fixtures = [];
  for (const [n, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line) continue;
    const m = line.match(/^(.+?)\s+(?:v|vs\.?|-)\s+(.+?)(?:\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?))?$/i);
    if (!m) throw new Error(`line ${n + 1}: write "Home v Away", optionally with three odds`);
    const fixture = { home: m[1], away: m[2], league };
    if (m[3]) fixture.odds = { home: Number(m[3]), draw: Number(m[4]), away: Number(m[5]) };
    fixtures.push({ line: n + 1, fixture });
  }
  if (!fixtures.length) throw new Error("type at least one fixture, or paste a fixtures file");
  return fixtures;
}

async function postPredictions(body, contentType, version) {
  const query = version ? `?modelVersion=${encodeURIComponent(version)}` : "";
  const response = await fetch(`/api/predictions${query}`, {
    method: "POST", headers: { "content-type": contentType }, body,
  });
  const out = await response.json();
  if (!response.ok) {
    const e = out.error || out;
    throw new Error(e.message || e.detail || `HTTP ${response.status}`);
  }
  return out.data;
}

function renderFixtures(rows) {
  const cell = (v) => `<td class="num">${v === null || v === undefined ? "–" : pct(v)}</td>`;
  const edge = (v) => (v === null || v === undefined ? `<td class="num">–</td>`
    : `<td class="num ${v > 0 ? "pos" : "neg"}">${signed(v)}</td>`);
  $("#fixtures-table tbody").innerHTML = rows.map((r) => {
    const notes = (r.notes || []).join("; ");  // prices left out of the row, and why
    const name = `${escape(r.homeTeam ?? r.fixture.home)} v ${escape(r.awayTeam ?? r.fixture.away)}`
      + (notes ? ` <span class="note" title="${escape(notes)}">(prices ignored)</span>` : "");
    if (r.error) {
      return `<tr class="bad"><td class="num">${r.line}</td><td>${name}</td>
        <td colspan="9" class="error">${escape(r.error)}</td></tr>`;
    }
    const xg = `${r.expectedGoals.home.toFixed(2)}–${r.expectedGoals.away.toFixed(2)}`;
    return `<tr><td class="num">${r.line}</td><td>${name}</td>${cell(r.homeWin)}${cell(r.draw)}
      ${cell(r.awayWin)}<td class="num">${xg}</td>${cell(r.over25)}${cell(r.btts)}
      ${edge(r.edge?.home)}${edge(r.edge?.draw)}${edge(r.edge?.away)}</tr>`;
  }).join("");
  $("#fixtures-table").hidden = false;
  $("#fixtures-export").disabled = !rows.length;
}

$("#fixtures-run").onclick = async () => {
  $("#fixtures-error").textContent = "";
  const text = $("#fixtures-text").value;
  const version = $("#fixtures-model").value || null;
  $("#fixtures-run").disabled = true;
  try {
    if (/^\s*\S*HomeTeam/m.test(text.split(/\r?\n/)[0] || "")) {
      fixtureRows = await postPredictions(text, "text/csv", version);
    } else {
      const typed = typedFixtures(text, $("#fixtures-league").value || null);
      const data = await postPredictions(JSON.stringify({
        fixtures: typed.map((t) => t.fixture), modelVersion: version,
      }), "application/json");
      fixtureRows = data.map((r, i) => ({ line: typed[i].line, ...r }));
    }
    renderFixtures(fixtureRows);
  } catch (error) {
    fixtureRows = [];  // the previous results do not answer this request
    $("#fixtures-table tbody").replaceChildren();
    $("#fixtures-table").hidden = true;
    $("#fixtures-export").disabled = true;
    $("#fixtures-error").textContent = error.message;
  } finally {
    $("#fixtures-run").disabled = false;
  }
};

// the columns of `fpe predict --fixtures F --csv` (server/cli/predict.py FIXTURE_COLUMNS)
const CSV_COLUMNS = ["line", "date", "league", "home", "away", "p_home", "p_draw", "p_away",
  "xg_home", "xg_away", "over25", "btts", "best_home", "best_draw", "best_away", "edge_home",
  "edge_draw", "edge_away", "edge_over25", "edge_under25", "model", "error", "notes"];

$("#fixtures-export").onclick = () => {
  const quote = (v) => (v === null || v === undefined ? "" : /[",\n]/.test(String(v))
    ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  const lines = fixtureRows.map((r) => [r.line, r.fixture.date, r.fixture.league,
    r.homeTeam ?? r.fixture.home, r.awayTeam ?? r.fixture.away, r.homeWin, r.draw, r.awayWin,
    r.expectedGoals?.home, r.expectedGoals?.away, r.over25, r.btts, r.bestOdds?.home,
    r.bestOdds?.draw, r.bestOdds?.away, r.edge?.home, r.edge?.draw, r.edge?.away,
    r.edgeOver25?.over, r.edgeOver25?.under, r.modelVersion, r.error,
    (r.notes || []).join("; ") || null].map(quote).join(","));
  const header = CSV_COLUMNS;
  const blob = new Blob([[header.join(","), ...lines].join("\n") + "\n"], { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "predictions.csv";
  link.click();
  URL.revokeObjectURL(link.href);
};

// ---- start ---------------------------------------------------------------------------------
loadLeagues().catch((error) => showErrors(error));
