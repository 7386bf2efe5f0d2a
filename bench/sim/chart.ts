import type { SimResult } from './simulator';

/**
 * A hand-rolled SVG: top, p95 wait per tenant for each policy (log scale); bottom, time-weighted
 * utilisation per dimension and the two Jain's fairness indices for each policy.
 */

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2'];
const W = 960;
const H = 640;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
}

function rect(x: number, y: number, w: number, h: number, fill: string, title: string): string {
  return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${Math.max(0, h).toFixed(1)}" fill="${fill}"><title>${esc(title)}</title></rect>`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
}

export function renderChart(results: readonly SimResult[], subtitle: string): string {
  const tenants = Object.keys(results[0].waitByTenant);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(text(20, 28, 'Scheduling policies on a synthetic trace', 'font-size="18" font-weight="bold"'));
  out.push(text(20, 48, subtitle, 'fill="#555"'));

  // Legend.
  results.forEach((r, k) => {
    const x = 20 + k * 100;
    out.push(rect(x, 60, 12, 12, COLORS[k % COLORS.length], r.policy));
    out.push(text(x + 16, 70, r.policy));
  });

  // Panel 1: p95 wait per tenant, log scale from 1 s to the first tick above the max.
  const top = 110;
  const height = 240;
  const left = 70;
  const width = W - left - 30;
  const maxWait = Math.max(10, ...results.flatMap((r) => tenants.map((t) => r.waitByTenant[t].p95)));
  const ticks = [1, 10, 60, 600, 3600, 36000, 360000, 3600000];
  const last = ticks.findIndex((t) => t >= maxWait);
  const span = Math.log10(ticks[last < 0 ? ticks.length - 1 : last]);
  const y = (seconds: number): number => top + height - (Math.log10(Math.max(1, seconds)) / span) * height;
  out.push(text(left, top - 12, 'p95 wait per tenant (log scale)', 'font-weight="bold"'));
  for (const tick of ticks.slice(0, (last < 0 ? ticks.length - 1 : last) + 1)) {
    const yy = y(tick);
    out.push(`<line x1="${left}" y1="${yy.toFixed(1)}" x2="${left + width}" y2="${yy.toFixed(1)}" stroke="#ddd"/>`);
    out.push(text(left - 8, yy + 4, duration(tick), 'text-anchor="end" fill="#555"'));
  }
  const groupW = width / tenants.length;
  const barW = (groupW * 0.8) / results.length;
  tenants.forEach((t, g) => {
    const gx = left + g * groupW + groupW * 0.1;
    results.forEach((r, k) => {
      const v = r.waitByTenant[t].p95;
      const yy = y(v);
      out.push(
        rect(
          gx + k * barW,
          yy,
          barW - 2,
          top + height - yy,
          COLORS[k % COLORS.length],
          `${r.policy} / ${t}: p95 wait ${duration(v)}`,
        ),
      );
    });
    out.push(text(gx + (barW * results.length) / 2, top + height + 16, t, 'text-anchor="middle"'));
  });
  out.push(`<line x1="${left}" y1="${top + height}" x2="${left + width}" y2="${top + height}" stroke="#333"/>`);

  // Panel 2: utilisation per dimension and Jain's index per policy.
  const top2 = 410;
  const height2 = 130;
  const dims = Object.keys(results[0].utilisation);
  out.push(
    text(
      left,
      top2 - 22,
      "Utilisation (time-weighted over the arrival window) and Jain's fairness indices over tenants",
      'font-weight="bold"',
    ),
  );
  out.push(
    text(
      20,
      H - 12,
      'J share: Jain over the dominant shares of tenants with work pending, time-averaged (what DRF equalises). J wait: Jain over 1 / mean bounded slowdown per tenant.',
      'font-size="10" fill="#555"',
    ),
  );
  for (const pct of [0, 25, 50, 75, 100]) {
    const yy = top2 + height2 - (pct / 100) * height2;
    out.push(`<line x1="${left}" y1="${yy}" x2="${left + width}" y2="${yy}" stroke="#ddd"/>`);
    out.push(text(left - 8, yy + 4, `${pct}%`, 'text-anchor="end" fill="#555"'));
  }
  const pw = width / results.length;
  const dw = (pw * 0.5) / dims.length;
  results.forEach((r, k) => {
    const px = left + k * pw + pw * 0.25;
    dims.forEach((d, j) => {
      const u = r.utilisation[d];
      const hh = u * height2;
      const shade = j === 0 ? COLORS[k % COLORS.length] : `${COLORS[k % COLORS.length]}99`;
      out.push(rect(px + j * dw, top2 + height2 - hh, dw - 3, hh, shade, `${r.policy}: ${d} ${(u * 100).toFixed(1)}%`));
      out.push(
        text(
          px + j * dw + (dw - 3) / 2,
          top2 + height2 - hh - 4,
          `${Math.round(u * 100)}%`,
          'text-anchor="middle" font-size="10"',
        ),
      );
      out.push(
        text(px + j * dw + (dw - 3) / 2, top2 + height2 + 14, d, 'text-anchor="middle" font-size="10" fill="#555"'),
      );
    });
    const cx = px + (dw * dims.length) / 2;
    out.push(text(cx, top2 + height2 + 32, r.policy, 'text-anchor="middle" font-weight="bold"'));
    out.push(
      text(
        cx,
        top2 + height2 + 48,
        `J share ${r.jainShare.toFixed(2)} · J wait ${r.jainSlowdown.toFixed(2)}`,
        'text-anchor="middle" font-size="11"',
      ),
    );
  });
  out.push(`<line x1="${left}" y1="${top2 + height2}" x2="${left + width}" y2="${top2 + height2}" stroke="#333"/>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
