// The landing page's catalogue search, in a real browser, against the demo catalogue.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { foreignRequests, launchBrowser, newPage, screenshot, startServer } from './lib/harness.mjs';

describe('catalogue search on the landing page', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let context;
  let page;
  let log;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    ({ context, page, log } = await newPage(browser, server.baseURL));
  });

  after(async () => {
    try { await browser?.close(); } finally { await server?.stop(); }
  });

  const cards = () => page.locator('#results > li.card');
  const status = () => page.locator('#search-status');

  test('opens with the whole catalogue listed', async () => {
    const res = await page.goto('/');
    assert.equal(res.status(), 200);
    assert.match(await page.title(), /^Fimy/);
    await status().filter({ hasText: /\d+ shown/ }).waitFor();
    assert.ok(await cards().count() > 1, 'the demo catalogue is listed');
  });

  test('finds "crème brûlée"', async () => {
    const search = page.getByRole('searchbox', { name: /Mots-clés/ });
    await search.fill('crème brûlée');
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/experiences');
    await search.press('Enter');
    const res = await answered;
    assert.equal(res.status(), 200);
    assert.equal(new URL(res.url()).searchParams.get('q'), 'crème brûlée');

    const card = cards().filter({ has: page.getByRole('heading', { level: 3, name: 'Atelier pâtisserie: crème brûlée' }) });
    await card.waitFor();
    assert.equal(await cards().first().locator('h3').textContent(), 'Atelier pâtisserie: crème brûlée', 'ranked first');
    assert.match(await card.locator('.card-price').textContent(), /\d/);
    assert.match(await status().textContent(), /\d+ shown/);
    // The search is kept in the address bar, so it can be shared.
    assert.equal(new URL(page.url()).searchParams.get('q'), 'crème brûlée');

    await screenshot(page, 'landing-search', { fullPage: true });
  });

  test('the search button and an unknown word', async () => {
    await page.getByRole('searchbox', { name: /Mots-clés/ }).fill('zzzxqwv');
    await page.getByRole('button', { name: /Rechercher/ }).click();
    await status().filter({ hasText: 'No experience matches.' }).waitFor();
    assert.equal(await cards().count(), 0);
    assert.ok(await page.locator('#load-more').isHidden());
  });

  test('"Voir plus" loads the next page', async () => {
    // The demo catalogue fits on one page of the default size, so ask the API for pages of 5
    // (the page itself sends no `limit`); the page must follow `next_cursor` on its own.
    const api = (url) => url.pathname === '/api/v1/experiences';
    await context.route(api, (route) => {
      const url = new URL(route.request().url());
      url.searchParams.set('limit', '5');
      return route.continue({ url: url.toString() });
    });
    try {
      await page.getByRole('button', { name: /Effacer/ }).click(); // reset: searches everything
      await status().filter({ hasText: /5 shown — .*more available/ }).waitFor();
      assert.equal(await cards().count(), 5);
      const more = page.getByRole('button', { name: /Voir plus/ });
      assert.ok(await more.isVisible());

      const seen = new Set();
      for (let i = 0; i < 10 && await more.isVisible(); i += 1) {
        const before = await cards().count();
        await more.click();
        await page.waitForFunction((n) => document.querySelectorAll('#results > li.card').length > n
          && !document.getElementById('search-form').hasAttribute('aria-busy'), before);
      }
      assert.ok(await more.isHidden(), 'the last page hides "Voir plus"');
      const titles = await cards().locator('h3').allTextContents();
      for (const t of titles) seen.add(t);
      assert.ok(titles.length > 5, `more than one page was shown (${titles.length})`);
      assert.equal(seen.size, titles.length, 'no card is shown twice');
      assert.match(await status().textContent(), new RegExp(`^${titles.length} expériences affichées / ${titles.length} shown$`));
      await screenshot(page, 'landing-all', { fullPage: true });
    } finally {
      await context.unroute(api);
    }
  });

  test('a bad price is refused in the page', async () => {
    await page.getByLabel(/Prix max/).fill('-5');
    await page.getByRole('button', { name: /Rechercher/ }).click();
    await page.locator('#search-error').filter({ hasText: 'Prix invalide' }).waitFor();
    await screenshot(page, 'landing-error');
    await page.getByLabel(/Prix max/).fill('');
  });

  test('narrow screen: no horizontal scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.getByRole('searchbox', { name: /Mots-clés/ }).fill('crème brûlée');
    await page.getByRole('searchbox', { name: /Mots-clés/ }).press('Enter');
    await cards().first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    await screenshot(page, 'landing-mobile', { fullPage: true });
  });

  test('the page stayed healthy and local', async () => {
    assert.deepEqual(log.pageErrors, [], 'uncaught exceptions');
    assert.deepEqual(log.consoleErrors, [], 'console errors');
    // An aborted request (a newer search replacing a running one) is not a failure.
    assert.deepEqual(log.failed.filter((f) => !/ERR_ABORTED/.test(f)), [], 'failed requests');
    assert.deepEqual(log.httpErrors, [], 'HTTP error responses');
    assert.deepEqual(foreignRequests(log.requests), [], 'requests to hosts other than 127.0.0.1');
  });
});
