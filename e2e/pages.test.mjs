// The pages a link in an email opens — the catalogue, an experience, the gift — in a browser
// with JavaScript turned off: search, page through results, open an experience, open a gift
// from its code (the link only shows who it is from; the button opens it). axe-core needs
// a script in the page, so the same pages are audited in a second context with JavaScript
// on (the app's script blocked on the gift page, so the server's own HTML is what is
// audited). Screenshots go to e2e/screenshots/.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { codeFor, foreignRequests, launchBrowser, screenshot, startServer } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
let axeSource = null;

/** Serious or critical accessibility violations on the page, by axe-core. */
async function axe(page) {
  axeSource ??= await readFile(AXE, 'utf8');
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
  }));
  return result.violations
    .filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** A page in a context of its own, recording what it requests and what fails. */
async function contextPage(browser, baseURL, options) {
  const context = await browser.newContext({
    baseURL, locale: 'fr-FR', serviceWorkers: 'block', viewport: { width: 1280, height: 900 }, ...options,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const log = { requests: [], failed: [], httpErrors: [] };
  page.on('request', (req) => log.requests.push(req.url()));
  page.on('requestfailed', (req) => log.failed.push(`${req.method()} ${req.url()}: ${req.failure()?.errorText}`));
  page.on('response', (res) => {
    if (res.status() >= 400) log.httpErrors.push(`${res.status()} ${res.request().method()} ${res.url()}`);
  });
  return { context, page, log };
}

describe('pages without JavaScript', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let nojs;
  let withJs;
  let donorToken;
  let donorFirstName;
  let cardId;
  let code;
  let experiencePath;
  const message = 'Bon anniversaire <b>Inès</b> & à bientôt';

  const api = async (method, url, body) => {
    const res = await fetch(`${server.baseURL}/api/v1${url}`, {
      method,
      headers: { 'content-type': 'application/json', ...(donorToken ? { authorization: `Bearer ${donorToken}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() };
  };
  const cardStatus = async () => (await api('GET', `/cards/${cardId}`)).body.status;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    nojs = await contextPage(browser, server.baseURL, { javaScriptEnabled: false });
    withJs = await contextPage(browser, server.baseURL, {});

    // The demo donor gives a value card to Inès, through the API.
    const login = await api('POST', '/auth/login', server.accounts.donor);
    assert.equal(login.status, 200);
    donorToken = login.body.token;
    donorFirstName = (await api('GET', '/me')).body.display_name.split(/\s+/)[0];
    const bought = await api('POST', '/cards', {
      kind: 'value', amount_minor: 6000, currency: 'EUR', recipient_name: 'Inès',
      recipient_email: 'ines@example.com', message, theme: 'birthday',
      payment: { method: 'test_card', number: '4242 4242 4242 4242' },
    });
    assert.equal(bought.status, 201, JSON.stringify(bought.body));
    cardId = bought.body.card.id;
    code = await codeFor(server.dataDir, 'ines@example.com');
  });

  after(async () => {
    try { await browser?.close(); } finally { await server?.stop(); }
  });

  test('the landing page\'s search form lands on the server-rendered catalogue', async () => {
    const { page } = nojs;
    assert.equal((await page.goto('/')).status(), 200);
    await page.getByRole('searchbox', { name: /Mots-clés/ }).fill('crème brûlée');
    await Promise.all([page.waitForURL(/\/experiences\?/), page.getByRole('button', { name: /Rechercher/ }).click()]);
    assert.equal(new URL(page.url()).searchParams.get('q'), 'crème brûlée');
    const first = page.locator('ul.results > li.card').first();
    assert.equal(await first.getByRole('heading', { level: 3 }).textContent(), 'Atelier pâtisserie: crème brûlée');
  });

  test('searches the catalogue with filters and pages through it', async () => {
    const { page } = nojs;
    await page.goto('/experiences');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Catalogue des expériences');
    await page.getByLabel('Mots-clés').fill('brunch');
    await page.getByLabel('Près de').selectOption('Montréal');
    await page.getByLabel('Dans un rayon de').selectOption('25');
    await Promise.all([page.waitForURL(/q=brunch/), page.getByRole('button', { name: 'Rechercher' }).click()]);
    const cards = page.locator('ul.results > li.card');
    assert.ok(await cards.count() >= 1, 'a brunch near Montréal');
    assert.match(await cards.first().textContent(), /Brunch/i);
    assert.match(await cards.first().textContent(), /km/);
    assert.equal(await page.getByLabel('Mots-clés').inputValue(), 'brunch', 'the form keeps the search');
    await screenshot(page, 'pages-01-catalogue-search', { fullPage: true });

    await page.goto('/experiences?limit=4');
    const firstPage = await cards.locator('h3').allTextContents();
    assert.equal(firstPage.length, 4);
    await Promise.all([page.waitForURL(/cursor=/), page.getByRole('link', { name: /Page suivante/ }).click()]);
    const secondPage = await cards.locator('h3').allTextContents();
    assert.ok(secondPage.length >= 1);
    for (const t of secondPage) assert.ok(!firstPage.includes(t), `${t} is on one page only`);

    // A mistake is explained on the page, with the form still there.
    const res = await page.goto('/experiences?max_price=beaucoup');
    assert.equal(res.status(), 400);
    await page.getByRole('alert').filter({ hasText: 'Entrez un prix en nombre' }).waitFor();
  });

  test('opens an experience page from the results', async () => {
    const { page } = nojs;
    await page.goto('/experiences?q=brunch');
    const link = page.locator('ul.results h3 a').first();
    const title = await link.textContent();
    await Promise.all([page.waitForURL(/\/experiences\/[0-9a-f-]{36}$/), link.click()]);
    experiencePath = new URL(page.url()).pathname;
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), title);
    assert.match(await page.locator('dl.card-facts').textContent(), /Prix.*Durée.*Lieu/s);
    await page.getByRole('heading', { name: 'Conditions' }).waitFor();
    const give = page.getByRole('link', { name: 'Offrir cette expérience' });
    assert.equal(await give.getAttribute('href'), `/wallet?experience=${experiencePath.split('/').pop()}`);
    await screenshot(page, 'pages-02-experience', { fullPage: true });

    // The switch gives the same page in English.
    await Promise.all([page.waitForURL(/lang=en/), page.locator('#lang-switch').click()]);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await page.getByRole('link', { name: 'Give this experience' }).waitFor();
    // …and is remembered.
    await page.goto('/experiences');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Experience catalogue');
    await page.goto('/experiences?lang=fr');
  });

  test('opens a gift from its code: the link shows who it is from, the button opens it', async () => {
    const { page } = nojs;
    const res = await page.goto(`/gift?code=${encodeURIComponent(code)}`);
    assert.equal(res.status(), 200);
    await page.getByRole('heading', { level: 2, name: `${donorFirstName} vous offre un cadeau` }).waitFor();
    assert.ok(!(await page.content()).includes('Bon anniversaire'), 'the message waits for the button');
    assert.equal(await cardStatus(), 'delivered', 'following the link does not open the card');
    await screenshot(page, 'pages-03-gift-before-opening');

    await Promise.all([page.waitForURL(/\/gift\/open$/), page.getByRole('button', { name: 'Ouvrir mon cadeau' }).click()]);
    const reveal = page.locator('section.reveal');
    await reveal.getByRole('heading', { name: 'Pour Inès' }).waitFor();
    // The message as typed: its markup shows as text, it is not markup.
    assert.equal(await reveal.locator('blockquote').textContent(), message);
    assert.equal(await reveal.locator('blockquote b').count(), 0);
    assert.match(await reveal.textContent(), /60,00\s€/);
    assert.match(await reveal.textContent(), /Valable jusqu’au/);
    assert.equal(await reveal.getAttribute('data-theme'), 'birthday');
    await page.getByRole('link', { name: /Garder ce cadeau dans mon compte et réserver/ }).waitFor();
    assert.equal(await cardStatus(), 'opened');
    await screenshot(page, 'pages-04-gift-revealed', { fullPage: true });
    await page.setViewportSize({ width: 375, height: 800 });
    await screenshot(page, 'pages-05-gift-revealed-phone', { fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    // A wrong code: a clear page with the right status, and the form to try again.
    const wrong = await page.goto('/gift?code=AAAA-BBBB-CCCC-DDDD-E');
    assert.equal(wrong.status(), 422);
    await page.getByRole('alert').filter({ hasText: 'Ce code n’est pas valide' }).waitFor();
    assert.equal(await page.getByLabel('Code du cadeau').inputValue(), 'AAAA-BBBB-CCCC-DDDD-E');
    await screenshot(page, 'pages-06-gift-wrong-code');

    assert.deepEqual(foreignRequests(nojs.log.requests), [], 'nothing from another host');
    // The browser fetches the tab's icon after a page has loaded and drops that fetch when
    // the test moves on at once (net::ERR_ABORTED): the browser's own doing, not a failure.
    const dropped = (f) => /\/icon\.svg: net::ERR_ABORTED$/.test(f);
    assert.deepEqual(nojs.log.failed.filter((f) => !dropped(f)), []);
    assert.deepEqual(nojs.log.httpErrors.filter((e) => !/^(400|422) /.test(e)), []);
  });

  test('the same pages pass axe-core (0 serious or critical)', async () => {
    const { page, context } = withJs;
    for (const url of ['/experiences?q=brunch', '/experiences?max_price=x', experiencePath]) {
      await page.goto(url);
      assert.deepEqual(await axe(page), [], url);
    }
    // The gift page as the server sends it: the app's script, which would take it over,
    // is kept out.
    await context.route('**/fimy.js', (route) => route.abort());
    await page.goto(`/gift?code=${encodeURIComponent(code)}`);
    assert.deepEqual(await axe(page), [], 'gift, before opening');
    await page.getByRole('button', { name: 'Ouvrir mon cadeau' }).click();
    await page.locator('section.reveal').waitFor();
    assert.deepEqual(await axe(page), [], 'gift, revealed');
    await page.goto('/gift?code=AAAA-BBBB-CCCC-DDDD-E');
    assert.deepEqual(await axe(page), [], 'gift, wrong code');
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto('/experiences?q=brunch&lang=en');
    assert.deepEqual(await axe(page), [], 'catalogue, phone, English');
    await screenshot(page, 'pages-07-catalogue-phone-en', { fullPage: true });

    // The app's pages follow the language chosen on a server-rendered one (the cookie).
    await context.unroute('**/fimy.js');
    await page.goto('/wallet');
    await page.locator('html[lang="en"]').waitFor({ state: 'attached' });
    await page.getByRole('link', { name: 'Gifts I gave' }).waitFor();
  });
});
