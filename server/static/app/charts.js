// Small SVG charts: a reliability diagram and an attack/defence scatter.

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function clear(svg, message) {
  svg.replaceChildren();
  if (message) svg.append(el("text", { x: 20, y: 40, fill: "#667085" }, message));
}

const COLOURS = { home: "#1f6feb", draw: "#9a6700", away: "#cf222e" };

export function reliability(svg, curves) {
  if (!curves) return clear(svg, "No active model yet.");
  clear(svg);
  const pad = 36, size = 320 - 2 * pad;
  const x = (p) => pad + p * size, y = (p) => pad + (1 - p) * size;
  svg.append(el("rect", { x: pad, y: pad, width: size, height: size, fill: "none",
    stroke: "#e3e6eb" }));
  svg.append(el("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), stroke: "#98a2b3",
    "stroke-dasharray": "4 4" }));
  svg.append(el("text", { x: pad, y: 316, "font-size": 11, fill: "#667085" },
    "predicted probability"));
  svg.append(el("text", { x: 6, y: 24, "font-size": 11, fill: "#667085" }, "observed"));
  let legendY = pad + 6;
  for (const [outcome, points] of Object.entries(curves)) {
    if (!Array.isArray(points) || !points.length) continue;
    const path = points.map(([p, o], i) => `${i ? "L" : "M"}${x(p).toFixed(1)},${y(o).toFixed(1)}`);
    svg.append(el("path", { d: path.join(" "), fill: "none", stroke: COLOURS[outcome],
      "stroke-width": 2, "data-outcome": outcome }));
    for (const [p, o] of points) {
      svg.append(el("circle", { cx: x(p), cy: y(o), r: 3, fill: COLOURS[outcome] }));
    }
    svg.append(el("text", { x: pad + 8, y: legendY + 10, "font-size": 11,
      fill: COLOURS[outcome] }, outcome));
    legendY += 14;
  }
}

export function strengths(svg, teams) {
  if (!teams?.length) return clear(svg, "No active model yet.");
  clear(svg);
  const pad = 40, w = 420 - 2 * pad, h = 320 - 2 * pad;
  const xs = teams.map((t) => Math.log(t.attack)), ys = teams.map((t) => Math.log(t.defense));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (v) => pad + ((v - x0) / (x1 - x0 || 1)) * w;
  const sy = (v) => pad + (1 - (v - y0) / (y1 - y0 || 1)) * h;
  svg.append(el("text", { x: pad, y: 314, "font-size": 11, fill: "#667085" },
    "attack (log) →"));
  svg.append(el("text", { x: 4, y: 24, "font-size": 11, fill: "#667085" },
    "defence (log, higher is better) ↑"));
  teams.forEach((t, i) => {
    const g = el("g", { class: "team" });
    g.append(el("circle", { cx: sx(xs[i]), cy: sy(ys[i]), r: 3.5, fill: "#1f6feb" }));
    g.append(el("title", {}, `${t.name}: attack ${t.attack.toFixed(2)}, defense ${t.defense.toFixed(2)}`));
    if (teams.length <= 40) {
      g.append(el("text", { x: sx(xs[i]) + 5, y: sy(ys[i]) - 4, "font-size": 9,
        fill: "#344054" }, t.name));
    }
    svg.append(g);
  });
}
