// A new user opens the interactive API docs (/api/docs) in a real browser, logs in with a
// demo account and calls the API from the page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { foreignRequests, launchBrowser, newPage, screenshot, startServer } from './lib/harness.mjs';

describe('API explorer at /api/docs', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let page;
  let log;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    ({ page, log } = await newPage(browser, server.baseURL));
  });

  after(async () => {
    // Each step on its own: a failure in one must not leave the server running.
    try { await browser?.close(); } finally { await server?.stop(); }
  });

  const operation = (method, path) => page.locator(`details.op[data-method="${method}"][data-path="${path}"]`);

  // Opens an operation (its body is built on first opening) and returns its locator.
  async function open(method, path) {
    const op = operation(method, path);
    await op.locator('summary').click();
    await op.getByTestId('send').waitFor();
    return op;
  }

  // Clicks Send and waits for the response block to show an HTTP status line.
  async function send(op) {
    await op.getByTestId('send').click();
    const status = op.getByTestId('response').locator('.resp-line .http-status');
    await status.waitFor();
    return {
      status: (await status.textContent()).trim(),
      body: (await op.getByTestId('response').locator('pre.code').textContent()) ?? '',
    };
  }

  test('renders the document: title, tags, operations, schemas', async () => {
    const res = await page.goto('/api/docs');
    assert.equal(res.status(), 200);
    await page.locator('#load-status').filter({ hasText: /\d+ operations\./ }).waitFor();

    await page.getByRole('heading', { level: 1, name: 'Fimy API', exact: true }).waitFor();
    assert.match(await page.title(), /^Fimy API/);
    assert.match(await page.locator('#api-version').textContent(), /OpenAPI 3\.1/);

    // Operations are grouped under one heading per tag.
    for (const tag of ['accounts', 'catalogue', 'cards', 'operations']) {
      assert.ok(await page.getByRole('heading', { level: 3, name: tag, exact: true }).isVisible(), `tag ${tag}`);
    }
    const catalogue = page.locator('section.tag-section#tag-catalogue');
    assert.ok(await catalogue.locator('code.op-path', { hasText: /^\/api\/v1\/experiences$/ }).first().isVisible());
    const accounts = page.locator('section.tag-section#tag-accounts');
    assert.ok(await accounts.locator('code.op-path', { hasText: /^\/api\/v1\/auth\/login$/ }).first().isVisible());
    assert.ok(await operation('get', '/api/v1/me').isVisible());
    assert.ok(await operation('post', '/api/v1/auth/login').isVisible());

    // The table of contents links to every tag section, and the schemas are listed.
    assert.ok(await page.locator('#toc a', { hasText: /^catalogue \(\d+\)$/ }).isVisible());
    assert.ok(await page.locator('#schema-Problem').isVisible());

    await screenshot(page, 'docs-top');
  });

  test('logs in with the demo donor and calls GET /api/v1/me', async () => {
    const donor = server.accounts.donor;
    assert.ok(donor, `the server printed the donor's credentials:\n${server.output()}`);
    assert.equal(donor.email, 'donor@demo.fimy.test');

    await page.locator('#login-email').fill(donor.email);
    await page.locator('#login-password').fill(donor.password);
    await page.locator('#login-form').getByRole('button', { name: 'Log in' }).click();
    await page.locator('#auth-status').filter({ hasText: /^Logged in as .*donor@demo\.fimy\.test/ }).waitFor();
    assert.ok(await page.locator('#auth-error').isHidden());
    assert.equal(await page.locator('#login-password').inputValue(), '', 'password cleared');

    const me = await open('get', '/api/v1/me');
    const { status, body } = await send(me);
    assert.match(status, /^200\b/);
    const user = JSON.parse(body);
    assert.equal(user.email, 'donor@demo.fimy.test');

    await me.scrollIntoViewIfNeeded();
    await screenshot(page, 'docs-me');
  });

  test('searches GET /api/v1/experiences with q=spa', async () => {
    const search = await open('get', '/api/v1/experiences');
    await search.getByLabel('q', { exact: true }).fill('spa');
    const { status, body } = await send(search);
    assert.match(status, /^200\b/);
    const page1 = JSON.parse(body);
    assert.ok(Array.isArray(page1.items) && page1.items.length > 0, 'some experiences match "spa"');
    assert.ok(
      page1.items.some((it) => it.category === 'spa' || /spa/i.test(`${it.title} ${it.description}`)),
      'results are about spas',
    );
    const line = await search.getByTestId('response').locator('.resp-line code').textContent();
    assert.equal(line, 'GET /api/v1/experiences?q=spa');

    await search.scrollIntoViewIfNeeded();
    await screenshot(page, 'docs-experiences');
  });

  test('shows a problem for a bad parameter', async () => {
    const search = operation('get', '/api/v1/experiences');
    await search.getByLabel('q', { exact: true }).fill('');
    await search.getByLabel('limit', { exact: true }).fill('1000');
    const { status } = await send(search);
    assert.match(status, /^400\b/);
    assert.ok(await search.getByTestId('response').locator('.problem').isVisible());
    await search.getByLabel('limit', { exact: true }).fill('');
    // That 400 was asked for: it is neither a page error nor Chromium's console note about it.
    const expected = (line) => line.includes('400') && line.includes('/api/v1/experiences?limit=1000');
    log.httpErrors = log.httpErrors.filter((e) => !expected(e));
    log.consoleErrors = log.consoleErrors.filter((e) => !expected(e));
  });

  test('every operation opens, and every type link leads to a listed schema', async () => {
    await page.getByRole('button', { name: 'Expand all' }).click();
    const ops = page.locator('details.op');
    const count = await ops.count();
    assert.ok(count >= 20, `${count} operations`);
    assert.equal(await page.locator('details.op[open]').count(), count);
    assert.equal(await page.locator('details.op [data-testid="send"]').count(), count, 'each has a Send button');
    assert.equal(await page.locator('.op-body .problem', { hasText: 'Could not render' }).count(), 0);
    const broken = await page.evaluate(() => [...document.querySelectorAll('a[href^="#"]')]
      .map((a) => a.getAttribute('href'))
      .filter((h) => h.length > 1 && !document.getElementById(decodeURIComponent(h.slice(1)))));
    assert.deepEqual([...new Set(broken)], [], 'in-page links without a target');
    await page.setViewportSize({ width: 375, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `on a narrow screen the page is ${overflow}px wider than the screen`);
    await operation('get', '/api/v1/experiences').scrollIntoViewIfNeeded();
    await screenshot(page, 'docs-mobile');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole('button', { name: 'Collapse all' }).click();
  });

  test('the page stayed healthy and local', async () => {
    assert.deepEqual(log.pageErrors, [], 'uncaught exceptions');
    assert.deepEqual(log.consoleErrors, [], 'console errors');
    assert.deepEqual(log.failed, [], 'failed requests');
    assert.deepEqual(log.httpErrors, [], 'HTTP error responses');
    assert.ok(log.requests.length >= 4, `requests seen: ${log.requests.join(', ')}`);
    assert.deepEqual(foreignRequests(log.requests), [], 'requests to hosts other than 127.0.0.1');
  });
});
