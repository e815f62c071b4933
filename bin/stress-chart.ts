// The SVG chart of `crossbook stress --sweep` (Q7): liquidating notional (USD) and insurance fund use (USDC) against
// the shock size, one point per shock, for a risk manager who would rather look than read. Plain SVG 1.1 text, no
// script or external reference; the same points always give the same bytes.

export interface SweepPoint {
  /** The swept asset's shock, percent (−30 = −30%). */
  readonly shockPercent: number;
  /** Σ exposure of the liquidating accounts after the run, USD. */
  readonly liquidatingNotionalUsd: number;
  /** What the insurance fund paid out in the run (before − after, never below 0), USDC. */
  readonly insuranceFundUseUsdc: number;
}

const WIDTH = 720;
const HEIGHT = 420;
const LEFT = 90;
const RIGHT = 30;
const TOP = 64;
const BOTTOM = 60;
const Y_TICKS = 5;

/** A round upper bound of the axis (1, 2 or 5 × 10^k, at least `max`; 1 for an all-zero series). */
export function niceCeiling(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * power >= max) return m * power;
  return 10 * power;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function label(value: number): string {
  if (value >= 1e9) return `${+(value / 1e9).toFixed(2)}B`;
  if (value >= 1e6) return `${+(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toFixed(2)}k`;
  return `${+value.toFixed(2)}`;
}

function axes(xLabel: string, yMax: number, x: (v: number) => number, y: (v: number) => number, points: readonly SweepPoint[]): string[] {
  const out: string[] = [];
  out.push(`<line x1="${LEFT}" y1="${HEIGHT - BOTTOM}" x2="${WIDTH - RIGHT}" y2="${HEIGHT - BOTTOM}" stroke="#333"/>`);
  out.push(`<line x1="${LEFT}" y1="${TOP}" x2="${LEFT}" y2="${HEIGHT - BOTTOM}" stroke="#333"/>`);
  for (let i = 0; i <= Y_TICKS; i++) {
    const v = (yMax * i) / Y_TICKS;
    const py = y(v).toFixed(1);
    out.push(`<line x1="${LEFT - 4}" y1="${py}" x2="${WIDTH - RIGHT}" y2="${py}" stroke="#ddd"/>`);
    out.push(`<text x="${LEFT - 8}" y="${py}" text-anchor="end" dominant-baseline="middle" font-size="11">${label(v)}</text>`);
  }
  for (const p of points) {
    const px = x(p.shockPercent).toFixed(1);
    out.push(`<text x="${px}" y="${HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11">${+p.shockPercent.toFixed(4)}%</text>`);
  }
  out.push(`<text x="${(LEFT + WIDTH - RIGHT) / 2}" y="${HEIGHT - 14}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>`);
  out.push(`<text x="16" y="${(TOP + HEIGHT - BOTTOM) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${(TOP + HEIGHT - BOTTOM) / 2})">USD</text>`);
  return out;
}

function series(points: readonly SweepPoint[], x: (v: number) => number, y: (v: number) => number, value: (p: SweepPoint) => number, color: string, dash: string): string[] {
  const coords = points.map((p) => `${x(p.shockPercent).toFixed(1)},${y(value(p)).toFixed(1)}`);
  const out = [`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${coords.join(" ")}"/>`];
  for (const c of coords) {
    const [cx, cy] = c.split(",");
    out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
  }
  return out;
}

/** The chart of `points` (at least one, in sweep order: the x axis runs from the first shock to the last). */
export function sweepChartSvg(points: readonly SweepPoint[], title: string, xLabel: string): string {
  if (points.length === 0) throw new RangeError("sweep chart: no points");
  const xFirst = points[0]!.shockPercent;
  const xLast = points[points.length - 1]!.shockPercent;
  const span = xLast === xFirst ? 1 : xLast - xFirst;
  const yMax = niceCeiling(Math.max(...points.map((p) => Math.max(p.liquidatingNotionalUsd, p.insuranceFundUseUsdc))));
  const x = (v: number): number => LEFT + ((v - xFirst) / span) * (WIDTH - LEFT - RIGHT);
  const y = (v: number): number => HEIGHT - BOTTOM - (v / yMax) * (HEIGHT - TOP - BOTTOM);
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
    ...axes(xLabel, yMax, x, y, points),
    ...series(points, x, y, (p) => p.liquidatingNotionalUsd, "#c0392b", ""),
    ...series(points, x, y, (p) => p.insuranceFundUseUsdc, "#2c6fbb", ` stroke-dasharray="6 4"`),
    `<text x="${LEFT}" y="${TOP - 18}" font-size="12" fill="#c0392b">━ liquidating notional (USD)</text>`,
    `<text x="${LEFT + 260}" y="${TOP - 18}" font-size="12" fill="#2c6fbb">╌ insurance fund use (USDC)</text>`,
    "</svg>",
  ];
  return `${lines.join("\n")}\n`;
}
