// The donor's wallet draws its first view from the page itself: the gifts given and the
// experiences of the gift form come in its HTML (`#fimy-boot`), so the page asks the API
// for neither; each given gift's history and live topic are caught up afterwards, and a
// gift given before the page was loaded still moves on its timeline when its recipient
// opens it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { codeFor, emails, foreignRequests, launchBrowser, login, newPage, screenshot, startServer } from './lib/harness.mjs';

describe('the wallet first view', { timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    try { await browser?.close(); } finally { await server?.stop(); }
  });

  test('the wallet asks the API for nothing its page carries, and still follows every gift', async () => {
    const call = async (method, url, token, body) => {
      const res = await fetch(server.baseURL + url, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body && JSON.stringify(body),
      });
      const text = await res.text();
      assert.ok(res.ok, `${method} ${url}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    };
    const donor = (await call('POST', '/api/v1/auth/login', null, server.accounts.donor)).token;
    const sent = await emails(server.dataDir);
    const bought = await call('POST', '/api/v1/cards', donor, {
      kind: 'value', amount_minor: 3000, currency: 'CAD',
      recipient_name: 'Sacha', recipient_email: 'sacha@example.com',
      payment: { method: 'test_card', number: '4242 4242 4242 4242' },
    });
    const code = await codeFor(server.dataDir, 'sacha@example.com', sent);

    const { page, log } = await newPage(browser, server.baseURL);
    await page.goto('/wallet');
    await login(page, server.accounts.donor);
    await page.locator('#buy-name').waitFor();
    // Loaded again signed in: the first view is the page's own.
    const before = log.requests.length;
    await page.reload();
    await page.locator('#buy-experience option').first().waitFor({ state: 'attached' });
    const gift = page.locator(`li.gift[data-card="${bought.card.id}"]`);
    await gift.locator('[data-step="delivered"][data-done="true"]').waitFor();
    // Its history is caught up after the first view, then its live topic followed.
    await page.waitForFunction((id) => performance.getEntriesByType('resource')
      .some((r) => r.name.endsWith(`/api/v1/cards/${id}/events`)), bought.card.id);
    const asked = log.requests.slice(before).map((u) => new URL(u).pathname);
    for (const path of ['/api/v1/wallet', '/api/v1/experiences', '/api/v1/me']) {
      assert.ok(!asked.includes(path), `${path} asked: ${asked.join(' ')}`);
    }
    const offered = await page.locator('#buy-experience option').count();
    const catalogue = await call('GET', '/api/v1/experiences?limit=50&sort=price_asc');
    assert.equal(offered, catalogue.items.length);
    // The recipient opens it: the donor's timeline moves without reload.
    await page.locator('#live-status[data-on="true"]').waitFor();
    await call('POST', '/api/v1/cards/open', null, { code });
    await gift.locator('[data-step="opened"][data-done="true"]').waitFor();
    await screenshot(page, 'wallet-01-first-view-followed', { fullPage: true });
    assert.deepEqual(foreignRequests(log.requests), []);
    assert.deepEqual(log.pageErrors, []);
  });
});
