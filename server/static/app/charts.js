// Small SVG charts with axes and tick values: a reliability diagram and an
// attack/defence scatter whose team labels never overlap (names on hover or focus).

const NS = "http://www.w3.org/2000/svg";
const MUTED = "#667085";

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function clear(svg, message) {
  svg.replaceChildren();
  if (message) svg.append(el("text", { x: 20, y: 40, fill: MUTED }, message));
}

// "nice" tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9; v += step) {
    out.push(Number(v.toFixed(10)));
  }
  return out;
}

const label = (v) => String(Number(v.toPrecision(3)));

// axes along the bottom and left of the plot box, with ticks, values and titles
function axes(svg, box, x, y, xTicks, yTicks, xTitle, yTitle) {
  const { left, top, right, bottom } = box;
  const g = el("g", { class: "axes", "font-size": 11, fill: MUTED });
  g.append(el("line", { x1: left, y1: bottom, x2: right, y2: bottom, stroke: "#98a2b3" }));
  g.append(el("line", { x1: left, y1: top, x2: left, y2: bottom, stroke: "#98a2b3" }));
  for (const v of xTicks) {
    g.append(el("line", { x1: x(v), y1: bottom, x2: x(v), y2: bottom + 4, stroke: "#98a2b3" }));
    g.append(el("line", { x1: x(v), y1: top, x2: x(v), y2: bottom, stroke: "#eef0f3" }));
    g.append(el("text", { x: x(v), y: bottom + 14, "text-anchor": "middle", class: "tick-x" },
      label(v)));
  }
  for (const v of yTicks) {
    g.append(el("line", { x1: left - 4, y1: y(v), x2: left, y2: y(v), stroke: "#98a2b3" }));
    g.append(el("line", { x1: left, y1: y(v), x2: right, y2: y(v), stroke: "#eef0f3" }));
    g.append(el("text", { x: left - 6, y: y(v) + 3, "text-anchor": "end", class: "tick-y" },
      label(v)));
  }
  g.append(el("text", { x: (left + right) / 2, y: bottom + 30, "text-anchor": "middle",
    "font-size": 11 }, xTitle));
  g.append(el("text", { x: 12, y: (top + bottom) / 2, "text-anchor": "middle", "font-size": 11,
    transform: `rotate(-90 12 ${(top + bottom) / 2})` }, yTitle));
  svg.prepend(g);
}

const COLOURS = { home: "#1f6feb", draw: "#9a6700", away: "#cf222e" };

export function reliability(svg, curves) {
  if (!curves) return clear(svg, "No active model yet.");
  clear(svg);
  const box = { left: 48, top: 12, right: 308, bottom: 272 };
  const x = (p) => box.left + p * (box.right - box.left);
  const y = (p) => box.bottom - p * (box.bottom - box.top);
  const grid = ticks(0, 1, 5);
  axes(svg, box, x, y, grid, grid, "predicted probability", "observed frequency");
  svg.append(el("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), stroke: "#98a2b3",
    "stroke-dasharray": "4 4" }));
  let legendY = box.top + 6;
  for (const [outcome, points] of Object.entries(curves)) {
    if (!Array.isArray(points) || !points.length) continue;
    const path = points.map(([p, o], i) => `${i ? "L" : "M"}${x(p).toFixed(1)},${y(o).toFixed(1)}`);
    svg.append(el("path", { d: path.join(" "), fill: "none", stroke: COLOURS[outcome],
      "stroke-width": 2, "data-outcome": outcome }));
    for (const [p, o] of points) {
      const dot = el("circle", { cx: x(p), cy: y(o), r: 3, fill: COLOURS[outcome] });
      dot.append(el("title", {}, `${outcome}: predicted ${(100 * p).toFixed(1)}%, observed ${(100 * o).toFixed(1)}%`));
      svg.append(dot);
    }
    svg.append(el("text", { x: box.left + 8, y: legendY + 10, "font-size": 11,
      fill: COLOURS[outcome] }, outcome));
    legendY += 14;
  }
}

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

// Labels are placed greedily (right, left, above, below the dot) and only where they overlap
// no other label and no dot; a team without room is named on hover or keyboard focus.
export function strengths(svg, teams) {
  if (!teams?.length) return clear(svg, "No active model yet.");
  clear(svg);
  const box = { left: 52, top: 12, right: 408, bottom: 272 };
  const xs = teams.map((t) => Math.log(t.attack)), ys = teams.map((t) => Math.log(t.defense));
  const pad = (lo, hi) => { const m = (hi - lo || 1) * 0.06; return [lo - m, hi + m]; };
  const [x0, x1] = pad(Math.min(...xs), Math.max(...xs));
  const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
  const sx = (v) => box.left + ((v - x0) / (x1 - x0)) * (box.right - box.left);
  const sy = (v) => box.bottom - ((v - y0) / (y1 - y0)) * (box.bottom - box.top);
  axes(svg, box, sx, sy, ticks(x0, x1, 5), ticks(y0, y1, 5), "attack (log) →",
    "defence (log, higher is better) →");
  const tip = el("text", { class: "tip", "font-size": 11, fill: "#0d1b2a", visibility: "hidden" });
  const taken = teams.map((_, i) => ({ x: sx(xs[i]) - 3.5, y: sy(ys[i]) - 3.5, w: 7, h: 7 }));
  const labelled = teams.length <= 40;
  const order = teams.map((_, i) => i).sort((a, b) => (xs[b] + ys[b]) - (xs[a] + ys[a]));
  const placed = new Map();
  if (labelled) {
    for (const i of order) {
      const w = teams[i].name.length * 5.2, h = 10, cx = sx(xs[i]), cy = sy(ys[i]);
      const spots = [[cx + 5, cy - 5], [cx - 5 - w, cy - 5], [cx - w / 2, cy - 15],
        [cx - w / 2, cy + 5]];
      for (const [x, y] of spots) {
        const rect = { x, y, w, h };
        const inside = x >= box.left && x + w <= box.right + 10 && y >= 0 && y + h <= box.bottom;
        if (inside && !taken.some((r) => overlaps(r, rect))) {
          taken.push(rect);
          placed.set(i, rect);
          break;
        }
      }
    }
  }
  teams.forEach((t, i) => {
    const name = `${t.name}: attack ${t.attack.toFixed(2)}, defence ${t.defense.toFixed(2)}`;
    const g = el("g", { class: "team", tabindex: 0, role: "img", "aria-label": name });
    g.append(el("circle", { cx: sx(xs[i]), cy: sy(ys[i]), r: 3.5, fill: "#1f6feb" }));
    g.append(el("title", {}, name));
    const rect = placed.get(i);
    if (rect) {
      g.append(el("text", { x: rect.x, y: rect.y + 8, "font-size": 9, fill: "#344054",
        class: "label" }, t.name));
    }
    const show = () => {
      tip.textContent = t.name;
      const x = Math.min(sx(xs[i]) + 6, box.right - t.name.length * 6);
      tip.setAttribute("x", x);
      tip.setAttribute("y", Math.max(sy(ys[i]) - 8, 12));
      tip.setAttribute("visibility", "visible");
    };
    const hide = () => tip.setAttribute("visibility", "hidden");
    g.addEventListener("mouseenter", show);
    g.addEventListener("focus", show);
    g.addEventListener("mouseleave", hide);
    g.addEventListener("blur", hide);
    svg.append(g);
  });
  svg.append(tip);
}
