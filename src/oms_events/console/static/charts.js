// Charts as inline SVG, drawn here: no chart library to vendor, and the SVG scales
// with its card (viewBox), so the same drawing serves a phone and a desk.

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#1f6feb", "#2e7d32", "#b26a00", "#8e24aa", "#00838f", "#c62828", "#5c6675"];

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Horizontal bars, one per {label, value}: labels left, values at the bar's end.
 * Horizontal, because long labels (天猫, "Returned to sender") stay readable at 360 px.
 */
export function barChart(rows, { title = "", format = (v) => String(v) } = {}) {
  const width = 400;
  const rowHeight = 28;
  // Room for the longest label: about 7 px a Latin character, 13 px a Chinese one.
  const textWidth = (text) => [...text].reduce((w, c) => w + (c.charCodeAt(0) > 0x2e80 ? 13 : 7), 0);
  const labelWidth = Math.min(200, Math.max(48, ...rows.map((r) => textWidth(String(r.label)) + 12)));
  const valueWidth = 56;
  const height = Math.max(1, rows.length) * rowHeight + 8;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const svg = el("svg", {
    class: "chart",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": title,
  });
  svg.append(el("title", {}, title));
  const span = width - labelWidth - valueWidth;
  rows.forEach((row, i) => {
    const y = 4 + i * rowHeight;
    const w = Math.max(row.value > 0 ? 2 : 0, (row.value / max) * span);
    const g = el("g", { class: "bar", "data-label": row.label, "data-value": row.value });
    g.append(
      el("text", { x: labelWidth - 8, y: y + rowHeight / 2 + 4, "text-anchor": "end" }, row.label),
      el("rect", {
        x: labelWidth, y: y + 4, width: w, height: rowHeight - 8, rx: 3,
        fill: row.colour || COLOURS[i % COLOURS.length],
      }),
      el("text", { x: labelWidth + w + 6, y: y + rowHeight / 2 + 4 }, format(row.value)),
    );
    svg.append(g);
  });
  svg.append(el("line", { class: "axis", x1: labelWidth, x2: labelWidth, y1: 0, y2: height }));
  return svg;
}
