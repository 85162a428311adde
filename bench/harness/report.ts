/**
 * The one table of a run: printed, and written as JSON (for comparing runs), Markdown (for
 * docs/benchmarks.md) and a small HTML report with the ratios drawn against their targets.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { formatRate, median, type Samples } from './measure.ts';

export interface Row {
  scenario: string;
  check: string;
  candidate: string;
  baseline: string;
  /** Candidate over baseline (median of the per-round ratios); null when there is nothing to divide. */
  ratio: number | null;
  /** What must hold, e.g. `≥ 0.80`, `= 0`; empty for figures reported without a target. */
  target: string;
  pass: boolean | null;
  note?: string;
  /** The numbers behind the strings. */
  data?: Record<string, unknown>;
}

const figure = (samples: Samples) => {
  const p99 = median(samples.p99Ms);
  return `${formatRate(median(samples.perSecond), samples.unit)}${Number.isFinite(p99) ? ` (p99 ${p99.toFixed(p99 >= 100 ? 0 : 1)} ms)` : ''}`;
};

const summary = (samples: Samples) => ({
  id: samples.id,
  label: samples.label,
  unit: samples.unit,
  connections: samples.connections,
  median: median(samples.perSecond),
  perRound: samples.perSecond,
  p99Ms: samples.p99Ms,
  requests: samples.requests,
  failed: samples.failed,
  failedItems: samples.failedItems,
  errors: samples.errors,
  timeouts: samples.timeouts,
  settled: samples.settled,
  failureSamples: samples.failureSamples,
});

/** Candidate against baseline, with the median of the per-round ratios; `min` null reports without a target. */
export function ratioRow(scenario: string, check: string, candidate: Samples, baseline: Samples | null, min: number | null, note?: string): Row {
  if (!baseline) {
    return { scenario, check, candidate: figure(candidate), baseline: 'skipped', ratio: null, target: min === null ? '' : `≥ ${min.toFixed(2)}`, pass: null, ...(note ? { note } : {}), data: { candidate: summary(candidate) } };
  }
  const rounds = Math.min(candidate.perSecond.length, baseline.perSecond.length);
  const ratios = Array.from({ length: rounds }, (_, i) => candidate.perSecond[i]! / baseline.perSecond[i]!);
  const ratio = rounds > 0 ? median(ratios) : null;
  return {
    scenario,
    check,
    candidate: figure(candidate),
    baseline: figure(baseline),
    ratio,
    target: min === null ? '' : `≥ ${min.toFixed(2)}`,
    pass: min === null || ratio === null ? null : ratio >= min,
    ...(note ? { note } : {}),
    data: { candidate: summary(candidate), baseline: summary(baseline), ratiosPerRound: ratios },
  };
}

const verdict = (row: Row) => (row.pass === null ? (row.target ? 'n/a' : '—') : row.pass ? 'PASS' : 'FAIL');
const ratioText = (row: Row) => (row.ratio === null ? '—' : row.ratio >= 10 ? row.ratio.toFixed(1) : row.ratio.toFixed(2));

export function previousRatios(file: string): Map<string, number | null> {
  if (!existsSync(file)) return new Map();
  try {
    const previous = JSON.parse(readFileSync(file, 'utf8')) as { rows?: Row[] };
    return new Map((previous.rows ?? []).map((row) => [`${row.scenario}|${row.check}`, row.ratio]));
  } catch {
    return new Map();
  }
}

export function printTable(rows: Row[], previous: Map<string, number | null>): string {
  const header = ['Scenario', 'Check', 'Candidate', 'Baseline', 'Ratio', 'Target', 'Result', 'Prev ratio'];
  const lines = rows.map((row) => {
    const before = previous.get(`${row.scenario}|${row.check}`);
    return [row.scenario, row.check, row.candidate, row.baseline, ratioText(row), row.target || '—', verdict(row), before == null ? '' : before.toFixed(2)];
  });
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [format(header), widths.map((width) => '-'.repeat(width)).join('  '), ...lines.map(format)].join('\n');
}

const escapeCell = (text: string) => text.replaceAll('|', '\\|');

export function markdownTable(rows: Row[]): string {
  const lines = ['| Scenario | Check | Candidate | Baseline | Ratio | Target | Result |', '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const row of rows) {
    lines.push(`| ${[row.scenario, row.check, row.candidate, row.baseline, ratioText(row), row.target || '—', verdict(row)].map(escapeCell).join(' | ')} |`);
  }
  return lines.join('\n');
}

const html = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** A self-contained page: the table, and each ratio as a bar with its target as a line. */
export function htmlReport(rows: Row[], meta: Record<string, unknown>, notes: string[]): string {
  const charted = rows.filter((row) => row.ratio !== null);
  const scale = Math.max(1.2, ...charted.map((row) => Math.min(row.ratio!, 12)), ...charted.map((row) => Number(/[\d.]+/.exec(row.target)?.[0] ?? 0)));
  const width = 520;
  const bar = 18;
  const svgRows = charted.map((row, i) => {
    const y = i * (bar + 10);
    const w = (Math.min(row.ratio!, scale) / scale) * width;
    const target = Number(/[\d.]+/.exec(row.target)?.[0] ?? Number.NaN);
    const colour = row.pass === null ? '#8a9bb0' : row.pass ? '#3c9d5d' : '#d0453e';
    const mark = Number.isFinite(target) ? `<line x1="${(target / scale) * width + 300}" x2="${(target / scale) * width + 300}" y1="${y - 2}" y2="${y + bar + 2}" stroke="#222" stroke-width="2"/>` : '';
    return `<text x="290" y="${y + 13}" text-anchor="end" font-size="12">${html(`${row.scenario}: ${row.check}`.slice(0, 48))}</text>
<rect x="300" y="${y}" width="${w.toFixed(1)}" height="${bar}" fill="${colour}"/>${mark}
<text x="${305 + w}" y="${y + 13}" font-size="12">${ratioText(row)}</text>`;
  });
  const table = rows
    .map((row) => `<tr>${[row.scenario, row.check, row.candidate, row.baseline, ratioText(row), row.target || '—', verdict(row)].map((cell) => `<td>${html(cell)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Benchmarks</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}th{background:#f2f2f2}pre{background:#f7f7f7;padding:1rem}</style>
</head><body>
<h1>Benchmarks</h1>
<p>Bars: candidate / baseline (median of per-round ratios); black line: the target. Green passes, red fails, grey has no target.</p>
<svg width="${width + 360}" height="${charted.length * (bar + 10) + 10}" xmlns="http://www.w3.org/2000/svg">${svgRows.join('\n')}</svg>
<table><tr><th>Scenario</th><th>Check</th><th>Candidate</th><th>Baseline</th><th>Ratio</th><th>Target</th><th>Result</th></tr>
${table}</table>
<h2>Notes</h2><ul>${notes.map((note) => `<li>${html(note)}</li>`).join('')}</ul>
<h2>Run</h2><pre>${html(JSON.stringify(meta, null, 2))}</pre>
</body></html>
`;
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}
