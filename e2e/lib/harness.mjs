// Shared harness for the browser tests: starts the real `fimy` binary on a free local port
// with a fresh data directory (so the demo data and demo accounts are created anew), reads
// the demo accounts it prints, launches Debian's Chromium headless through playwright-core,
// and records everything a page does (requests, failures, console errors) so that tests can
// assert nothing went wrong and nothing left 127.0.0.1.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const E2E_DIR = path.resolve(HERE, '..');
export const SCREENSHOT_DIR = path.join(E2E_DIR, 'screenshots');

// FIMY_BIN, when relative, is taken from where `npm` was run (INIT_CWD), so that
// `FIMY_BIN=target/debug/fimy npm test --prefix e2e` works from the repository root.
const BIN = process.env.FIMY_BIN
  ? path.resolve(process.env.INIT_CWD || process.cwd(), process.env.FIMY_BIN)
  : path.resolve(E2E_DIR, '../target/debug/fimy');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const READY_TIMEOUT_MS = 60_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port that was free a moment ago (listen on 0, read the port, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// "    donor           donor@demo.fimy.test         <password>" (role may contain a space).
const ACCOUNT_LINE = /^\s+(\S(?:.*?\S)?)\s{2,}(\S+@\S+)\s+(\S+)\s*$/;

/**
 * Starts the server; resolves once GET /health/ready answers 200 and the demo donor's
 * credentials have been printed. `options.env` adds settings (e.g. `SMTP_URL` of a local
 * relay). Always call `stop()` (it is idempotent).
 */
export async function startServer(options = {}) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fimy-e2e-'));
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  let output = '';
  const accounts = {};
  let exited = null;

  // Never a developer's database, bus, mail server or config: the embedded defaults only.
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('FIMY_')) delete env[k];
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL']) delete env[k];
  const child = spawn(BIN, [], {
    cwd: dataDir,
    env: {
      ...env,
      FIMY_LISTEN: `127.0.0.1:${port}`,
      FIMY_DATA_DIR: dataDir,
      FIMY_PUBLIC_URL: `${baseURL}/`,
      FIMY_DEMO_DATA: 'true',
      FIMY_WORKERS: '2',
      RUST_LOG: process.env.RUST_LOG || 'warn',
      ...(options.env || {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onExit = () => { try { child.kill('SIGKILL'); } catch { /* gone */ } };
  process.on('exit', onExit); // even if the test process dies on an assertion

  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    output += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      const m = ACCOUNT_LINE.exec(line);
      if (m) accounts[m[1]] = { email: m[2], password: m[3] };
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { output += chunk; });
  const exitedPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); });
    child.on('error', (err) => { exited = { error: err }; resolve(exited); });
  });

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 10_000);
      await exitedPromise;
      clearTimeout(timer);
    }
    process.off('exit', onExit);
    await rm(dataDir, { recursive: true, force: true });
  }

  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (exited) {
        throw new Error(`fimy (${BIN}) exited before it was ready: ${JSON.stringify(exited)}\n${output}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`fimy was not ready on ${baseURL} after ${READY_TIMEOUT_MS / 1000} s\n${output}`);
      }
      let ready = false;
      try {
        const res = await fetch(`${baseURL}/health/ready`, { signal: AbortSignal.timeout(2_000) });
        ready = res.status === 200;
      } catch { /* not listening yet */ }
      if (ready && accounts.donor) break;
      await sleep(200);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseURL, port, dataDir, accounts, output: () => output, stop };
}

/**
 * Headless Chromium (Debian's), with no way to reach any host but this one. `options.args`
 * adds switches (e.g. Chromium's fake microphone for a recording).
 */
export async function launchBrowser(options = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', ...(options.args || []),
    ],
  });
}

/**
 * A new page in its own context (`options` add to the context's, e.g. `javaScriptEnabled`),
 * recording every request, failed request, HTTP error response, console error and uncaught
 * exception.
 */
export async function newPage(browser, baseURL, options = {}) {
  const context = await browser.newContext({
    baseURL,
    viewport: { width: 1280, height: 900 },
    locale: 'fr-FR',
    serviceWorkers: 'block',
    ...options,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const log = { requests: [], failed: [], httpErrors: [], consoleErrors: [], pageErrors: [] };
  page.on('request', (req) => log.requests.push(req.url()));
  page.on('requestfailed', (req) => {
    log.failed.push(`${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) log.httpErrors.push(`${res.status()} ${res.request().method()} ${res.url()}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') log.consoleErrors.push(`${msg.text()} (${msg.location()?.url || '?'})`);
  });
  page.on('pageerror', (err) => log.pageErrors.push(String(err?.stack || err)));
  return { context, page, log };
}

/** Hosts (or schemes) of recorded requests that are not 127.0.0.1. */
export function foreignRequests(urls) {
  return urls.filter((u) => {
    const url = new URL(u);
    if (['data:', 'blob:', 'about:'].includes(url.protocol)) return false;
    return url.hostname !== '127.0.0.1';
  });
}

export async function screenshot(page, name, options = {}) {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, ...options });
  return file;
}

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
let axeSource = null;

/** Serious or critical accessibility violations on the page, by axe-core. */
export async function axe(page) {
  // Evaluated through the DevTools protocol: the page's CSP (rightly) refuses injected
  // scripts, and the audit must not need a weaker policy.
  axeSource ??= await readFile(AXE, 'utf8');
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
  }));
  return result.violations
    .filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Logs `who` ({email, password}) in through the app's sign-in form. */
export async function login(page, who) {
  await page.locator('#login-email').fill(who.email);
  await page.locator('#login-password').fill(who.password);
  await page.getByRole('button', { name: /Se connecter|Log in/ }).click();
  await page.locator('#account').getByText(/Connecté|Signed in/).waitFor();
}

/** The emails in the data dir's outbox so far (file names). */
export async function emails(dataDir) {
  return (await readdir(path.join(dataDir, 'outbox')).catch(() => [])).filter((f) => f.endsWith('.eml'));
}

/** The gift code in an email sent to `to` that is not among `seen` (file names), waiting for it. */
export async function codeFor(dataDir, to, seen = [], deadline = Date.now() + 20_000) {
  const dir = path.join(dataDir, 'outbox');
  for (;;) {
    for (const f of (await emails(dataDir)).filter((x) => !seen.includes(x))) {
      const text = await readFile(path.join(dir, f), 'utf8');
      if (!text.includes(`<${to}>`)) continue;
      const m = /[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}-[0-9A-Z*~$=]/.exec(text);
      if (m) return m[0];
    }
    if (Date.now() > deadline) throw new Error(`no email with a code for ${to}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
