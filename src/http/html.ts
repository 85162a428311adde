import { readFileSync } from 'node:fs';

/** The payer-facing pages (gateway results, payment links) and the dashboard share one small look. */
export const LOOK_CSS = readFileSync(new URL('./look.css', import.meta.url), 'utf8');

/**
 * Headers of the payer-facing pages (payment link, gateway results, ready-to-pay links): nothing
 * loads but their own inline style, no other site may frame them (a hidden frame could trick a
 * payer into pressing Pay), and they are neither sniffed, nor cached, nor their address (which can
 * carry a payment link's token) sent on as a referrer.
 */
export const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export function htmlPage(title: string, body: string, options: { refreshSeconds?: number } = {}): string {
  const refresh = options.refreshSeconds ? `\n<meta http-equiv="refresh" content="${options.refreshSeconds}">` : '';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">${refresh}
<title>${escapeHtml(title)}</title>
<style>${LOOK_CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}
