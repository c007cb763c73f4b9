// Measures the web app with Lighthouse (mobile profile) against the real binary on
// loopback, with Debian's Chromium — not run in CI. Needs `npm install --no-save lighthouse`
// in e2e/ (or LIGHTHOUSE_DIR pointing at a folder where it is installed).
// Prints one line per page and writes the scores as JSON to e2e/screenshots/lighthouse.json.
//   FIMY_BIN=../target/release/fimy node lighthouse.mjs
import { writeFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { SCREENSHOT_DIR, freePort, startServer } from './lib/harness.mjs';

const require = createRequire(path.join(process.env.LIGHTHOUSE_DIR || process.cwd(), 'noop.js'));
const { default: lighthouse } = await import(require.resolve('lighthouse'));

const server = await startServer();
const port = await freePort();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
    `--remote-debugging-port=${port}`],
});

async function sessionOf(role) {
  const res = await fetch(`${server.baseURL}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(server.accounts[role]),
  });
  return (await res.json()).token;
}

const pages = [
  ['home', '/', null],
  ['gift creation (donor)', '/wallet', 'donor'],
  ['booking (recipient)', '/gift', 'recipient'],
  ['tablet calendar', '/tablet', 'partner tablet'],
];
const scores = [];
try {
  for (const [name, url, role] of pages) {
    const headers = role ? { Cookie: `fimy_session=${await sessionOf(role)}` } : undefined;
    const result = await lighthouse(server.baseURL + url, {
      port, output: 'json', logLevel: 'error', extraHeaders: headers,
      onlyCategories: ['performance', 'accessibility', 'best-practices', 'seo'],
      formFactor: 'mobile',
    });
    const c = result.lhr.categories;
    const row = {
      page: name, url,
      performance: Math.round(c.performance.score * 100),
      accessibility: Math.round(c.accessibility.score * 100),
      best_practices: Math.round(c['best-practices'].score * 100),
      seo: Math.round(c.seo.score * 100),
    };
    scores.push(row);
    console.log(JSON.stringify(row));
  }
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await writeFile(path.join(SCREENSHOT_DIR, 'lighthouse.json'), JSON.stringify(scores, null, 2));
} finally {
  await browser.close();
  await server.stop();
}
