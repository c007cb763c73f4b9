// The partner's side in a browser: the owner runs the venue from /portal (a booking and its
// message arriving on the dashboard by themselves, the profile, a new experience published,
// its availability with the slots it opens, a tablet device added and removed), and the venue's tablet takes amounts from a value card on its keypad —
// the balance goes down, and an amount above it is refused in plain words, in French and
// in English. axe-core checks each page; screenshots go to e2e/screenshots/.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { codeFor, foreignRequests, launchBrowser, login, newPage, screenshot, startServer } from './lib/harness.mjs';

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

describe('the partner portal and the tablet keypad', { timeout: 240_000 }, () => {
  let server;
  let browser;
  let api;
  let partner;
  let code;
  const tokens = {};

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    api = async (method, url, token, body) => {
      const res = await fetch(server.baseURL + url, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body && JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    for (const [who, account] of [['donor', 'donor'], ['owner', 'partner owner'], ['tablet', 'partner tablet']]) {
      const res = await api('POST', '/api/v1/auth/login', null, server.accounts[account]);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      tokens[who] = res.body.token;
    }
    partner = (await api('GET', '/api/v1/me', tokens.owner)).body.staff.partner_id;
    // The donor gives a 100 $ CA value card (the venue is in Montréal); its code arrives
    // by email, as it would for the guest.
    const bought = await api('POST', '/api/v1/cards', tokens.donor, {
      kind: 'value', amount_minor: 10_000, currency: 'CAD',
      recipient_name: 'Gaby', recipient_email: 'gaby@example.com',
      payment: { method: 'test_card', number: '4242 4242 4242 4242' },
    });
    assert.equal(bought.status, 201, JSON.stringify(bought.body));
    code = await codeFor(server.dataDir, 'gaby@example.com');
    // A guest with a claimed card, who books during the first test.
    const guest = await api('POST', '/api/v1/auth/register', null,
      { email: 'sam@example.com', password: 'a long enough password', display_name: 'Sam' });
    assert.equal(guest.status, 201, JSON.stringify(guest.body));
    tokens.guest = guest.body.token;
    const theirs = await api('POST', '/api/v1/cards', tokens.donor, {
      kind: 'value', amount_minor: 20_000, currency: 'CAD', recipient_name: 'Sam', recipient_email: 'sam@example.com',
      payment: { method: 'test_card', number: '4242 4242 4242 4242' },
    });
    assert.equal(theirs.status, 201, JSON.stringify(theirs.body));
    const claimed = await api('POST', '/api/v1/cards/claim', tokens.guest, { code: await codeFor(server.dataDir, 'sam@example.com') });
    assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
    tokens.guestCard = claimed.body.id;
  });

  after(async () => {
    try { await browser?.close(); } finally { await server?.stop(); }
  });

  const balance = async () => (await api('POST', `/api/v1/partners/${partner}/card-balance`, tokens.tablet, { code })).body;

  test('the owner edits the profile, publishes an experience, opens its slots and manages a tablet', async () => {
    const { page, log } = await newPage(browser, server.baseURL);
    await page.goto('/portal');
    await login(page, server.accounts['partner owner']);
    await page.locator('#dash-stats dd').first().waitFor();
    await page.locator('#experience-list li[data-experience]').first().waitFor();
    await page.locator('#dash-upcoming li', { hasText: 'Aucune réservation à venir' }).waitFor();

    // A guest books the brunch: the dashboard shows it by itself, with their message.
    const brunch = (await api('GET', `/api/v1/experiences?partner_id=${partner}&q=brunch`)).body.items[0];
    const slot = (await api('GET', `/api/v1/experiences/${brunch.id}/slots`)).body[0];
    const held = await api('POST', '/api/v1/bookings', tokens.guest,
      { card_id: tokens.guestCard, experience_id: brunch.id, starts_at: slot.starts_at, party_size: 2 });
    assert.equal(held.status, 201, JSON.stringify(held.body));
    const booking = held.body.id;
    assert.equal((await api('POST', `/api/v1/bookings/${booking}/confirm`, tokens.guest, {})).status, 200);
    const asked = await api('POST', `/api/v1/bookings/${booking}/messages`, tokens.guest, { body: 'Une chaise haute, possible ?' });
    assert.equal(asked.status, 201, JSON.stringify(asked.body));
    const line = page.locator(`#dash-upcoming li[data-booking="${booking}"]`);
    await line.filter({ hasText: 'Sam' }).waitFor();
    await page.locator('#dash-stats dd').nth(1).filter({ hasText: /^[1-9]/ }).waitFor();
    await line.getByRole('button', { name: /^Messages/ }).click();
    await line.locator('.messages li', { hasText: 'Une chaise haute, possible ?' }).waitFor();
    await line.getByLabel('Votre message au client').fill('Bien sûr, elle vous attendra.');
    await line.getByRole('button', { name: 'Envoyer' }).click();
    await line.locator('.messages li', { hasText: 'Bien sûr, elle vous attendra.' }).waitFor();
    const thread = (await api('GET', `/api/v1/bookings/${booking}/messages`, tokens.guest)).body.items;
    assert.deepEqual(thread.map((m) => [m.author_role, m.body]),
      [['recipient', 'Une chaise haute, possible ?'], ['partner', 'Bien sûr, elle vous attendra.']]);
    await screenshot(page, 'portal-01-dashboard', { fullPage: true });
    assert.deepEqual(await axe(page), []);

    // The profile.
    const about = 'Bistro de quartier — brunchs et ateliers, depuis 2009.';
    await page.locator('#profile-description').fill(about);
    await page.locator('#profile-cancellation').fill('48');
    await page.getByRole('button', { name: 'Enregistrer le profil' }).click();
    await page.locator('#profile-status').filter({ hasText: 'Profil enregistré' }).waitFor();
    const profile = (await api('GET', `/api/v1/partners/${partner}/profile`, tokens.owner)).body;
    assert.equal(profile.description, about);
    assert.equal(profile.cancellation_hours, 48);
    // A wrong value is pointed at, in words.
    await page.locator('#profile-timezone').fill('Mars/Olympus');
    await page.getByRole('button', { name: 'Enregistrer le profil' }).click();
    await page.locator('#profile-status').filter({ hasText: /Vérifiez le champ « Fuseau horaire/ }).waitFor();
    assert.equal(await page.locator('#profile-timezone').getAttribute('aria-invalid'), 'true');
    await page.locator('#profile-timezone').fill('America/Toronto');
    await page.getByRole('button', { name: 'Enregistrer le profil' }).click();
    await page.locator('#profile-status').filter({ hasText: 'Profil enregistré' }).waitFor();

    // A new experience, a draft until published.
    const title = 'Atelier pâtisserie du dimanche';
    await page.locator('#exp-title').fill(title);
    await page.locator('#exp-description').fill('Deux heures avec notre chef pâtissier.');
    await page.locator('#exp-price').fill('45,50');
    await page.locator('#exp-duration').fill('90');
    await page.locator('#exp-capacity').fill('2');
    await page.locator('#experience-form input[name="occasions"][value="birthday"]').check();
    await page.getByRole('button', { name: 'Créer l’expérience' }).click();
    const item = page.locator('#experience-list li', { hasText: title });
    await item.and(page.locator('[data-published="false"]')).waitFor();
    const id = await item.getAttribute('data-experience');
    assert.equal((await api('GET', `/api/v1/experiences/${id}`)).status, 404, 'a draft is not in the catalogue');
    await item.getByRole('button', { name: `Publier : ${title}` }).click();
    await item.and(page.locator('[data-published="true"]')).waitFor();
    // Edited: the price changes, and only what was changed is sent.
    await item.getByRole('button', { name: `Modifier : ${title}` }).click();
    assert.equal(await page.locator('#exp-price').inputValue(), '45,50');
    await page.locator('#exp-price').fill('47');
    await page.getByRole('button', { name: 'Enregistrer les modifications' }).click();
    await page.locator('#experience-status').filter({ hasText: 'Expérience enregistrée' }).waitFor();
    await item.filter({ hasText: /47,00/ }).waitFor();
    const shown = (await api('GET', `/api/v1/experiences/${id}`)).body;
    assert.equal(shown.price_minor, 4700);
    assert.equal(shown.currency, 'CAD');
    assert.deepEqual(shown.occasions, ['birthday']);

    // Its availability: one weekday 09:00–12:00 in 90-minute slots (the weekday two days
    // from now, in the venue's zone), closed the week after; the preview shows the two
    // slots before anything is saved, then the calendar lists the same ones.
    const TZ = 'America/Toronto';
    const inTwoDays = new Date(Date.now() + 2 * 86_400_000);
    const weekday = inTwoDays.toLocaleDateString('en-US', { timeZone: TZ, weekday: 'short' }).toLowerCase();
    const openDate = inTwoDays.toLocaleDateString('en-CA', { timeZone: TZ });
    const closedDate = new Date(Date.parse(`${openDate}T12:00:00Z`) + 7 * 86_400_000).toISOString().slice(0, 10);
    await item.getByRole('button', { name: `Disponibilités : ${title}` }).click();
    await page.locator('#rules-for').filter({ hasText: title }).waitFor();
    await page.locator('#weekly-day-0').selectOption(weekday);
    await page.locator('#weekly-start-0').fill('09:00');
    await page.locator('#weekly-end-0').fill('12:00');
    await page.locator('#rules-notice').fill('0');
    await page.locator('#exception-add').click();
    await page.locator('#exception-date-0').fill(closedDate);
    await page.getByRole('button', { name: 'Voir les créneaux' }).click();
    await page.locator('#rules-slots-caption').filter({ hasText: /Aperçu/ }).waitFor();
    const previewed = await page.locator('#rules-slots li[data-starts]').evaluateAll((ls) => ls.map((l) => l.dataset.starts));
    const local = (s) => new Date(s).toLocaleString('en-CA', { timeZone: TZ, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    assert.deepEqual(previewed.map(local), [`${openDate}, 09:00`, `${openDate}, 10:30`]);
    assert.equal((await api('GET', `/api/v1/partners/${partner}/experiences/${id}/availability`, tokens.owner)).status, 404,
      'a preview saves nothing');
    await screenshot(page, 'portal-02-availability-preview', { fullPage: true });
    assert.deepEqual(await axe(page), []);
    await page.getByRole('button', { name: 'Enregistrer les disponibilités' }).click();
    await page.locator('#rules-slots-caption').filter({ hasText: /Enregistré/ }).waitFor();
    const saved = await page.locator('#rules-slots li[data-starts]').evaluateAll((ls) => ls.map((l) => l.dataset.starts));
    assert.deepEqual(saved, previewed);
    const offered = (await api('GET', `/api/v1/experiences/${id}/slots?to=${encodeURIComponent(new Date(Date.now() + 14 * 86_400_000).toISOString())}`)).body;
    assert.deepEqual(offered.map((s) => new Date(s.starts_at).toISOString()), saved.map((s) => new Date(s).toISOString()));
    await page.locator('#rules-slots li', { hasText: 'places libres' }).first().waitFor();

    // A tablet device: added (its token works, shown once), then removed (it stops).
    await page.locator('#device-name').fill('Tablette du comptoir');
    await page.getByRole('button', { name: 'Ajouter une tablette' }).click();
    const token = (await page.locator('#device-token').textContent()).trim();
    const device = page.locator('#device-list li', { hasText: 'Tablette du comptoir' });
    await device.waitFor();
    const me = await api('GET', '/api/v1/me', token);
    assert.equal(me.status, 200);
    assert.equal(me.body.staff.role, 'tablet');
    await screenshot(page, 'portal-03-device-added', { fullPage: true });
    assert.deepEqual(await axe(page), []);
    // The token goes on the tablet: its browser logs in with it (a wrong one is refused
    // in words first).
    const tab = await newPage(browser, server.baseURL);
    await tab.page.goto('/tablet');
    await tab.page.locator('#device-token-input').fill('pas-un-jeton');
    await tab.page.getByRole('button', { name: 'Connecter la tablette' }).click();
    await tab.page.locator('#device-error').filter({ hasText: /n’est pas, ou plus, valable/ }).waitFor();
    assert.deepEqual(await axe(tab.page), []);
    await tab.page.locator('#device-token-input').fill(token);
    await tab.page.getByRole('button', { name: 'Connecter la tablette' }).click();
    await tab.page.locator('#account').getByText('Tablette du comptoir').waitFor();
    await tab.page.locator('#calendar li[data-booking]').first().waitFor();
    await screenshot(tab.page, 'portal-04-device-tablet', { fullPage: true });
    await device.getByRole('button', { name: 'Retirer : Tablette du comptoir' }).click();
    await device.getByRole('button', { name: /Confirmer le retrait/ }).click();
    await page.locator('#device-status').filter({ hasText: 'Tablette retirée' }).waitFor();
    await device.waitFor({ state: 'detached' });
    assert.equal((await api('GET', '/api/v1/me', token)).status, 401, 'the removed tablet is logged out');
    await tab.page.reload();
    await tab.page.locator('#login-form').waitFor();
    await tab.context.close();

    // The calendar feed.
    await page.locator('#feed-create').click();
    const feedUrl = await page.locator('#feed-url').inputValue();
    const ics = await fetch(feedUrl);
    assert.equal(ics.status, 200);
    assert.match(await ics.text(), /BEGIN:VCALENDAR/);

    assert.deepEqual(foreignRequests(log.requests), [], 'nothing from another host');
    assert.deepEqual(log.pageErrors, []);
    // Expected: the checks before logging in (401, and the websocket refused), no rules yet
    // (404) and the wrong time zone typed on purpose (422).
    const expected = /status of 4(01|04|22)|\/ws' failed: HTTP Authentication failed/;
    assert.deepEqual(log.consoleErrors.filter((e) => !expected.test(e)), []);
  });

  test('the tablet takes an amount from a value card on its keypad, and refuses too much in plain words', async () => {
    const { page, log } = await newPage(browser, server.baseURL);
    await page.goto('/tablet');
    await login(page, server.accounts['partner tablet']);
    await page.locator('#redeem-code').fill(code);
    await page.getByRole('button', { name: 'Lire la carte' }).click();
    await page.locator('#redeem-balance').filter({ hasText: /Solde de la carte : 100,00/ }).waitFor();
    const key = (k) => page.locator(`#redeem-keypad [data-key="${k}"]`).click();
    // 2, 5, 0, 7, back, 0 → 25,00
    for (const k of ['2', '5', '0', '7', 'back', '0']) await key(k);
    await page.locator('#redeem-amount').filter({ hasText: /^25,00\s\$$/ }).waitFor();
    await screenshot(page, 'tablet-redeem-01-amount', { fullPage: true });
    assert.deepEqual(await axe(page), []);
    await page.locator('#redeem-confirm').click();
    await page.locator('#redeem-result').filter({ hasText: /Encaissé : 25,00\s\$\. Reste sur la carte : 75,00\s\$/ }).waitFor();
    await page.locator('#redeem-balance').filter({ hasText: /75,00/ }).waitFor();
    assert.equal((await balance()).available_minor, 7_500, 'the balance went down');
    assert.match(await page.locator('#redeem-amount').textContent(), /^0,00\s\$$/);
    await screenshot(page, 'tablet-redeem-02-done', { fullPage: true });

    // Too much: 999,99 on a card with 75,00 left.
    for (const k of ['9', '9', '9', '9', '9']) await key(k);
    await page.locator('#redeem-confirm').click();
    await page.locator('#redeem-result[data-kind="error"]')
      .filter({ hasText: /Le montant dépasse ce qui reste sur la carte \(75,00\s\$\)\. Saisissez un montant plus petit\./ }).waitFor();
    assert.equal((await balance()).available_minor, 7_500, 'nothing was taken');
    await screenshot(page, 'tablet-redeem-03-too-much-fr', { fullPage: true });
    assert.deepEqual(await axe(page), []);

    // The same in English.
    await page.locator('#lang-switch').click();
    await page.locator('#redeem-code').waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await page.locator('#redeem-code').fill(code);
    await page.getByRole('button', { name: 'Read the card' }).click();
    await page.locator('#redeem-balance').filter({ hasText: /Card balance: \$75\.00/ }).waitFor();
    for (const k of ['1', '0', '0', '0', '0']) await key(k);
    await page.locator('#redeem-amount').filter({ hasText: /^\$100\.00$/ }).waitFor();
    await page.locator('#redeem-confirm').click();
    await page.locator('#redeem-result[data-kind="error"]')
      .filter({ hasText: /The amount is more than what is left on the card \(\$75\.00\)\. Type a smaller amount\./ }).waitFor();
    await screenshot(page, 'tablet-redeem-04-too-much-en', { fullPage: true });
    // A wrong code, too.
    await page.locator('#redeem-code').fill('AAAA-BBBB-CCCC-DDDD-E');
    await page.getByRole('button', { name: 'Read the card' }).click();
    await page.locator('#redeem-result').filter({ hasText: /This code is not recognised/ }).waitFor();
    assert.equal(await page.locator('#redeem-confirm').isDisabled(), true);
    assert.deepEqual(await axe(page), []);

    assert.deepEqual(foreignRequests(log.requests), [], 'nothing from another host');
    assert.deepEqual(log.pageErrors, []);
  });
});
