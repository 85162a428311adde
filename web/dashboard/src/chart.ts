import type { KindName, Row } from './kinds.ts';

const SVG = 'http://www.w3.org/2000/svg';
export const MINUTES = 15;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/**
 * Payments created per minute over the last minutes, one bar per minute stacked by kind. Counts,
 * not amounts: the kinds are in different currencies, which no single axis can add up.
 */
export function volumeChart(rows: Iterable<Row>, kinds: KindName[], now = Date.now()): SVGSVGElement {
  const end = Math.floor(now / 60_000) + 1;
  const start = end - MINUTES;
  const buckets = Array.from({ length: MINUTES }, () => new Map<KindName, number>());
  for (const row of rows) {
    const minute = Math.floor(Date.parse(row.createdAt) / 60_000);
    if (minute < start || minute >= end) continue;
    const bucket = buckets[minute - start]!;
    bucket.set(row.kind, (bucket.get(row.kind) ?? 0) + 1);
  }
  const totals = buckets.map((bucket) => [...bucket.values()].reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const width = 300;
  const height = 90;
  const plot = height - 14;
  const bar = width / MINUTES;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart', 'data-total': totals.reduce((a, b) => a + b, 0) });
  chart.append(svg('title', {}));
  chart.firstChild!.textContent = `Payments per minute over the last ${MINUTES} minutes; at most ${max} in a minute.`;
  buckets.forEach((bucket, index) => {
    let y = plot;
    for (const kind of kinds) {
      const count = bucket.get(kind) ?? 0;
      if (count === 0) continue;
      const h = (count / max) * (plot - 4);
      y -= h;
      const rect = svg('rect', { x: index * bar + 1, y, width: bar - 2, height: h, class: `fill-${kind}` });
      rect.append(svg('title', {}));
      rect.firstChild!.textContent = `${count}`;
      chart.append(rect);
    }
  });
  chart.append(svg('line', { x1: 0, x2: width, y1: plot + 0.5, y2: plot + 0.5, class: 'axis' }));
  const caption = (x: number, anchor: string, text: string) => {
    const element = svg('text', { x, y: height - 2, 'text-anchor': anchor, class: 'tick' });
    element.textContent = text;
    chart.append(element);
  };
  caption(0, 'start', `−${MINUTES} min`);
  caption(width, 'end', 'now');
  const peak = svg('text', { x: 2, y: 9, class: 'tick' });
  peak.textContent = `${max}/min`;
  chart.append(peak);
  return chart;
}
