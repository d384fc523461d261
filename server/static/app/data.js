// The Data tab: how fresh each league's data is, when the scheduled refresh is next due,
// team aliases, and model files (export a version, import a file).

import { gql } from "./api.js";

const $ = (selector) => document.querySelector(selector);
const escape = (text) => String(text ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const when = (iso) => (iso ? `${iso.slice(0, 16).replace("T", " ")} UTC` : "–");

async function loadFreshness() {
  const { leagues, refreshSchedule: r } = await gql(`{
    leagues { code name country matchCount seasons lastMatchDate lastIngestAt }
    refreshSchedule { enabled description nextDue lastRunAt } }`);
  $("#freshness tbody").replaceChildren(...leagues.map((l) => {
    const row = document.createElement("tr");
    row.innerHTML = `<td>${escape(l.code)}</td><td>${escape(l.name)}</td>
      <td>${escape(l.country)}</td><td class="num">${l.matchCount}</td>
      <td>${escape(l.seasons.at(-1) ?? "")}–${escape(l.seasons[0] ?? "")}</td>
      <td>${escape(l.lastMatchDate ?? "–")}</td><td>${escape(when(l.lastIngestAt))}</td>`;
    return row;
  }));
  $("#freshness-empty").hidden = leagues.length > 0;
  $("#refresh-status").textContent = r.enabled
    ? `Scheduled refresh: ${r.description}; next due ${when(r.nextDue)}`
      + (r.lastRunAt ? `; last run ${when(r.lastRunAt)}` : "")
    : "Scheduled refresh: off (set FPE_REFRESH=daily or weekly to keep the models current)";
}

async function loadAliases() {
  const { teamAliases } = await gql("{ teamAliases { alias team country } }");
  $("#aliases tbody").replaceChildren(...teamAliases.map((a) => {
    const row = document.createElement("tr");
    row.innerHTML = `<td>${escape(a.alias)}</td><td>${escape(a.team)}</td>
      <td>${escape(a.country)}</td>`;
    return row;
  }));
}

async function loadVersions() {
  const { models } = await gql("{ models(limit: 100) { version modelType status } }");
  $("#export-model").replaceChildren(...models.map((m) => new Option(
    `${m.version} (${m.status})`, m.version)));
  updateExportLink();
}

function updateExportLink() {
  const version = $("#export-model").value;
  const link = $("#export-link");
  link.hidden = !version;
  link.href = `/api/model/versions/${encodeURIComponent(version)}/export`;
  link.download = `${version}.json`;
}

export async function loadData() {
  for (const [load, slot] of [[loadFreshness, "#freshness-error"], [loadAliases, "#alias-error"],
    [loadVersions, "#files-error"]]) {
    try {
      $(slot).textContent = "";
      await load();
    } catch (error) {
      $(slot).textContent = error.message;
    }
  }
}

$("#export-model").onchange = updateExportLink;

$("#alias-form").onsubmit = async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#alias-error").textContent = "";
  try {
    const { addTeamAlias: a } = await gql(`mutation($a: String!, $t: String!, $l: String) {
      addTeamAlias(alias: $a, team: $t, league: $l) { alias team country } }`,
    { a: form.get("alias"), t: form.get("team"), l: form.get("league") || null });
    $("#alias-error").textContent = "";
    $("#alias-done").textContent = `“${a.alias}” now names ${a.team} (${a.country}).`;
    event.target.reset();
    await loadAliases();
  } catch (error) {
    $("#alias-done").textContent = "";
    $("#alias-error").textContent = error.message;
  }
};

$("#import-file").onchange = async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  $("#files-error").textContent = "";
  $("#import-done").textContent = "";
  try {
    const { importModel: out } = await gql(`mutation($f: String!) { importModel(file: $f) {
      version modelType status createdTeams createdLeagues } }`, { f: await file.text() });
    const created = out.createdTeams.length ? `; created ${out.createdTeams.length} teams` : "";
    $("#import-done").textContent = `Imported ${out.version} (${out.modelType}, ${out.status})`
      + `${created}.`;
    await loadVersions();
  } catch (error) {
    $("#files-error").textContent = error.message;
  } finally {
    event.target.value = "";
  }
};

document.querySelector('nav button[data-tab="data"]').addEventListener("click", loadData);
