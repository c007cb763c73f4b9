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

// The session is put in the measured browser as the login leaves it: its cookies (session
// and CSRF), so that every request of the page — its API calls and its live connection —
// carries it, as in a browser that logged in; none for the home page. (Through a DevTools
// connection that is closed again before Lighthouse measures.)
async function signIn(role) {
  const cdp = await chromium.connectOverCDP(`http://127.0.0.1:${port}`);
  try {
    const jar = cdp.contexts()[0];
    await jar.clearCookies();
    if (!role) return;
    const res = await fetch(`${server.baseURL}/api/v1/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(server.accounts[role]),
    });
    if (!res.ok) throw new Error(`login ${role}: ${res.status}`);
    await jar.addCookies(res.headers.getSetCookie().map((c) => {
      const [pair, ...attrs] = c.split(';').map((p) => p.trim());
      const [name, ...value] = pair.split('=');
      const same = attrs.find((a) => /^samesite=/i.test(a))?.split('=')[1];
      return {
        name, value: value.join('='), url: server.baseURL,
        httpOnly: attrs.some((a) => /^httponly$/i.test(a)),
        sameSite: same ? same[0].toUpperCase() + same.slice(1).toLowerCase() : 'Lax',
      };
    }));
  } finally {
    await cdp.close();
  }
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
    await signIn(role);
    const result = await lighthouse(server.baseURL + url, {
      port, output: 'json', logLevel: 'error',
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
