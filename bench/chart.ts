/**
 * A grouped horizontal bar chart as SVG, by hand (no dependency): one group
 * per workload, one bar per contender, bar length relative to the fastest
 * contender of that workload, value printed at the end of the bar.
 * Ours are blue, C orange, node:fs grey.
 */
export interface ChartGroup {
  title: string;
  bars: Array<{ label: string; value: number; ours: boolean; c: boolean }>;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** 1.23M, 45.6k, 789: rates as people read them. */
export const fmt = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));

export function svgChart(groups: ChartGroup[]): string {
  const labelWidth = 260;
  const barMax = 420;
  const barHeight = 14;
  const gap = 3;
  const width = labelWidth + barMax + 90;
  let y = 40;
  const parts: string[] = [];
  for (const g of groups) {
    parts.push(`<text x="10" y="${y}" font-weight="bold" font-size="13">${esc(g.title)}</text>`);
    y += 8;
    const max = Math.max(...g.bars.map((b) => b.value));
    for (const b of g.bars) {
      const w = Math.max(1, (b.value / max) * barMax);
      const color = b.ours ? '#2563eb' : b.c ? '#ea580c' : '#9ca3af';
      parts.push(`<text x="${labelWidth - 6}" y="${y + barHeight - 3}" text-anchor="end" font-size="11">${esc(b.label)}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${color}"/>`);
      parts.push(`<text x="${labelWidth + w + 4}" y="${y + barHeight - 3}" font-size="11">${fmt(b.value)}/s</text>`);
      y += barHeight + gap;
    }
    y += 22;
  }
  const legend = `<text x="10" y="20" font-size="12"><tspan fill="#2563eb">■ uring</tspan>  <tspan fill="#ea580c">■ C on liburing</tspan>  <tspan fill="#6b7280">■ node:fs</tspan>  (median ops/s; bars relative to the fastest in each group)</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${legend}\n${parts.join('\n')}\n</svg>\n`;
}
