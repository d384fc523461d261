// The ML Training page: configure and follow runs live, history, models, predictions.

import { ApiError, gql, onTokenNeeded, subscribe } from "./api.js";
import { reliability, strengths } from "./charts.js";

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

function showErrors(error) {
  $$("[data-error-for]").forEach((p) => { p.textContent = ""; });
  const field = error instanceof ApiError && error.field ? error.field : "form";
  const slot = $(`[data-error-for="${field}"]`) || $('[data-error-for="form"]');
  slot.textContent = error.message;
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
    eventId type status phase progress message error version } }`;
  stopFollowing = subscribe(query, { t: taskId }, {
    next: ({ trainingProgress: e }) => {
      if (e.progress !== null) {
        $("#bar").style.width = `${e.progress}%`;
        $(".progress").setAttribute("aria-valuenow", e.progress);
      }
      if (e.phase) {
        $("#phase").textContent = e.status === "completed" || e.status === "failed"
          || e.status === "cancelled" ? e.status : e.phase;
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
    <p>Model <strong>${escape(task.model?.version)}</strong> is active. Validation:
      ${m.n} matches from ${escape(m.validation_start)}.</p>
    <table class="metrics" id="final-metrics">
      <thead><tr><th></th><th class="num">RPS</th><th class="num">Log loss</th>
        <th class="num">Brier</th><th class="num">Accuracy</th></tr></thead>
      <tbody>
        <tr><td>model</td><td class="num">${fmt(m.rps, 5)}</td><td class="num">${fmt(m.log_loss)}</td>
          <td class="num">${fmt(m.brier)}</td><td class="num">${fmt(m.accuracy, 3)}</td></tr>
        <tr><td>market</td><td class="num">${fmt(market.rps, 5)}</td>
          <td class="num">${fmt(market.log_loss)}</td><td class="num">${fmt(market.brier)}</td>
          <td class="num">${fmt(market.accuracy, 3)}</td></tr>
      </tbody>
    </table>
    <p class="summary">RPS model − market: ${c.rps_diff >= 0 ? "+" : ""}${fmt(c.rps_diff, 5)}
      (standard error ${fmt(c.rps_diff_se, 5)})</p>`;
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
async function loadModels() {
  const { models } = await gql(`{ models(limit: 100) { version modelType status
    trainingMatches rps logLoss brierScore metrics } }`);
  $("#models tbody").innerHTML = models.map((m) => {
    const status = m.status.toLowerCase();
    const action = status === "active" ? "archive" : "activate";
    return `<tr data-version="${escape(m.version)}">
      <td>${escape(m.version)}</td><td><span class="badge ${status}">${status}</span></td>
      <td class="num">${m.trainingMatches ?? "–"}</td><td class="num">${fmt(m.rps, 5)}</td>
      <td class="num">${fmt(m.metrics?.market?.rps, 5)}</td><td class="num">${fmt(m.logLoss)}</td>
      <td class="num">${fmt(m.brierScore)}</td>
      <td><button type="button" data-action="${action}">${action}</button></td></tr>`;
  }).join("");
  $("#models-empty").hidden = models.length > 0;
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
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const version = button.closest("tr").dataset.version;
  const mutation = button.dataset.action === "activate" ? "activateModel" : "archiveModel";
  $("#models-error").textContent = "";
  try {
    await gql(`mutation($v: String!) { ${mutation}(version: $v) { status } }`, { v: version });
  } catch (error) {
    $("#models-error").textContent = error.message;
  }
  loadModels();
};

// ---- predict -------------------------------------------------------------------------------
async function loadTeams() {
  const league = $("#predict-league").value;
  const { teams } = await gql("query($l: String) { teams(league: $l) { name } }", { l: league });
  const options = teams.map((t) => `<option>${escape(t.name)}</option>`).join("");
  $("#predict-home").innerHTML = options;
  $("#predict-away").innerHTML = options;
  if (teams.length > 1) $("#predict-away").selectedIndex = 1;
}

async function loadPredictForm() {
  if (!leagues.length) await loadLeagues();
  const current = $("#predict-league").value;
  $("#predict-league").innerHTML = leagues.map((l) =>
    `<option value="${escape(l.code)}">${escape(l.code)} · ${escape(l.name)}</option>`).join("");
  if (current) $("#predict-league").value = current;
  if (leagues.length) await loadTeams();
}
$("#predict-league").onchange = loadTeams;

$("#predict-form").onsubmit = async (event) => {
  event.preventDefault();
  $("#predict-error").textContent = "";
  try {
    const { predict: p } = await gql(`query($h: String!, $a: String!, $l: String) {
      predict(home: $h, away: $a, league: $l) { homeWin draw awayWin modelVersion
        expectedGoals { home away } scoreGrid btts { yes }
        totals { line over under } asianHandicap { line win push lose } } }`,
    { h: $("#predict-home").value, a: $("#predict-away").value, l: $("#predict-league").value });
    $("#p-home").textContent = pct(p.homeWin);
    $("#p-draw").textContent = pct(p.draw);
    $("#p-away").textContent = pct(p.awayWin);
    const over = p.totals.find((t) => t.line === 2.5);
    const ah = p.asianHandicap.find((h) => h.line === -0.5);
    $("#markets").textContent = `Expected goals ${p.expectedGoals.home.toFixed(2)} – ` +
      `${p.expectedGoals.away.toFixed(2)} · over 2.5 ${pct(over.over)} · both teams score ` +
      `${pct(p.btts.yes)} · home −0.5 ${pct(ah.win)} · model ${p.modelVersion}`;
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

// ---- start ---------------------------------------------------------------------------------
loadLeagues().catch((error) => showErrors(error));
