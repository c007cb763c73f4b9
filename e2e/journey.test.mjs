// The whole journey as its people live it, in three browser contexts at once — a donor, a
// recipient and the venue's tablet — plus a second recipient watching the same slots:
// buy → deliver → open (the donor sees "opened" without reload) → book (the tablet's
// calendar shows it, the other recipient sees the place gone, without reload) → validate at
// the venue (donor and recipient see "used" without reload). axe-core checks every page;
// screenshots of each step go to e2e/screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { axe, codeFor, emails, foreignRequests, launchBrowser, login, newPage, screenshot, startServer } from './lib/harness.mjs';

describe('the journey: donor, recipient and tablet, live', { timeout: 240_000 }, () => {
  let server;
  let browser;
  const people = {};

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    for (const who of ['donor', 'recipient', 'tablet', 'other']) {
      people[who] = await newPage(browser, server.baseURL);
    }
    // The venue opens its brunch around the clock in hourly slots, so the first free slot
    // starts within the hour, inside the check-in window (2 h before the start), whatever
    // the time CI runs at.
    const api = async (method, url, token, body) => {
      const res = await fetch(server.baseURL + url, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body && JSON.stringify(body),
      });
      assert.ok(res.ok, `${method} ${url}: ${res.status} ${await res.clone().text()}`);
      return res.json();
    };
    const owner = server.accounts['partner owner'];
    const { token } = await api('POST', '/api/v1/auth/login', null, owner);
    const me = await api('GET', '/api/v1/me', token);
    const partner = me.staff.partner_id;
    const list = await api('GET', `/api/v1/experiences?partner_id=${partner}&q=brunch`);
    const weekly = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
      .map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    await api('PUT', `/api/v1/partners/${partner}/experiences/${list.items[0].id}/availability`, token,
      { weekly, capacity: 4, slot_minutes: 60, min_notice_minutes: 0, horizon_days: 30 });
  });

  after(async () => {
    try { await browser?.close(); } finally { await server?.stop(); }
  });

  test('a gift goes from purchase to use, and everyone sees it as it happens', async () => {
    const { donor, recipient, tablet, other } = people;
    const a = server.accounts;

    // The tablet opens its calendar first, and keeps it open.
    await tablet.page.goto('/tablet');
    await login(tablet.page, a['partner tablet']);
    await tablet.page.locator('#calendar li').first().waitFor();
    await screenshot(tablet.page, 'journey-01-tablet-calendar');
    assert.deepEqual(await axe(tablet.page), []);

    // The donor buys the Sunday brunch, with the card that asks for 3-D Secure.
    await donor.page.goto('/wallet');
    await login(donor.page, a.donor);
    const exp = donor.page.locator('#buy-experience option', { hasText: 'Brunch' }).first();
    await donor.page.locator('#buy-experience').selectOption(await exp.getAttribute('value'));
    await donor.page.locator('#buy-name').fill('Rita');
    await donor.page.locator('#buy-email').fill('recipient@demo.fimy.test');
    await donor.page.locator('#buy-message').fill('Bon brunch !');
    await donor.page.locator('#buy-card').selectOption('4000 0025 0000 3155');
    assert.deepEqual(await axe(donor.page), []);
    await screenshot(donor.page, 'journey-02-donor-buys');
    const sent = await emails(server.dataDir);
    await donor.page.getByRole('button', { name: /Payer et offrir|Pay and give/ }).click();
    await donor.page.locator('#three-ds-ok').click();
    const gift = donor.page.locator('li.gift', { hasText: 'Rita' }).first();
    await gift.locator('[data-step="delivered"][data-done="true"]').waitFor();
    await screenshot(donor.page, 'journey-03-donor-delivered');

    // The recipient opens it from the code in the email.
    const code = await codeFor(server.dataDir, 'recipient@demo.fimy.test', sent);
    await recipient.page.goto(`/gift?code=${encodeURIComponent(code)}`);
    await login(recipient.page, a.recipient);
    await recipient.page.locator('.reveal', { hasText: 'Bon brunch' }).waitFor();
    // The donor's page says "opened", without a reload.
    await gift.locator('[data-step="opened"][data-done="true"]').waitFor();
    await screenshot(recipient.page, 'journey-04-recipient-reveal');
    assert.deepEqual(await axe(recipient.page), []);

    // A second recipient (in their own browser, with their own account) watches the same
    // slots.
    const second = { email: 'second@example.com', password: 'a long enough password' };
    const reg = await fetch(`${server.baseURL}/api/v1/auth/register`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...second, display_name: 'Sacha' }),
    });
    assert.equal(reg.status, 201, await reg.text());
    await other.page.goto('/gift');
    await login(other.page, second);
    const firstSlot = recipient.page.locator('#slots li').first();
    const slotId = await firstSlot.getAttribute('data-slot');
    const freeBefore = Number(await firstSlot.getAttribute('data-free'));
    // The other browser follows that slot through the public API, as the page does.
    await other.page.evaluate((id) => {
      window.seen = [];
      const ws = new WebSocket(`ws://${location.host}/ws`);
      ws.onopen = () => ws.send(JSON.stringify({ type: 'subscribe', topic: `slot:${id}` }));
      ws.onmessage = (m) => window.seen.push(JSON.parse(m.data));
    }, slotId);

    // Book the first slot, see the hold's countdown, confirm.
    await firstSlot.getByRole('button').click();
    await recipient.page.locator('#hold-countdown').filter({ hasText: /\d:\d\d/ }).waitFor();
    await screenshot(recipient.page, 'journey-05-recipient-hold');
    await recipient.page.locator('#confirm-booking').click();
    await recipient.page.locator('#booked-for').waitFor();
    // The recipient's own list shows the places gone, and the other browser heard of it.
    await recipient.page.locator(`#slots li[data-slot="${slotId}"][data-free="${freeBefore - 1}"]`).waitFor();
    await other.page.waitForFunction(() => window.seen.some((m) => m.type === 'event'));
    // The tablet's calendar shows the booking by itself, and the donor sees "booked".
    await tablet.page.locator('#calendar li[data-status="confirmed"]').first().waitFor();
    await gift.locator('[data-step="booked"][data-done="true"]').waitFor();
    await screenshot(tablet.page, 'journey-06-tablet-booked');

    // At the venue: the tablet scans the code shown on the recipient's phone…
    const token = recipient.page.locator('#qr-token');
    await token.filter({ hasText: /^v1\./ }).waitFor({ state: 'attached' });
    // The code is shown as a QR image.
    await recipient.page.waitForFunction(() => {
      const img = document.getElementById('qr-image');
      return img && img.complete && img.naturalWidth >= 200;
    });
    await recipient.page.locator('#qr-image').scrollIntoViewIfNeeded();
    await screenshot(recipient.page, 'journey-07-recipient-code');
    await tablet.page.locator('#scan-token').fill(await token.textContent());
    await tablet.page.getByRole('button', { name: /^(Valider|Validate)$/ }).click();
    const result = tablet.page.locator('#scan-result');
    await result.filter({ hasText: /attente|Waiting/ }).waitFor();
    // …the recipient confirms the request that arrived on their phone…
    await recipient.page.locator('#validation-accept').click();
    await result.filter({ hasText: /validée|validated/ }).waitFor();
    await screenshot(tablet.page, 'journey-08-tablet-validated');
    // …and both the recipient and the donor see "used", without reload.
    await recipient.page.locator('#gift-used').filter({ hasText: /utilisé|used/ }).waitFor();
    await gift.locator('[data-step="used"][data-done="true"]').waitFor();
    await screenshot(donor.page, 'journey-09-donor-used');
    assert.deepEqual(await axe(tablet.page), []);

    // The tablet loses its network: it says so, and keeps the last calendar on screen.
    await tablet.context.setOffline(true);
    await tablet.page.locator('#live-status[data-on="false"]').filter({ hasText: /Hors ligne|Offline/ }).waitFor();
    assert.ok(await tablet.page.locator('#calendar li[data-booking]').count() >= 1);
    await screenshot(tablet.page, 'journey-10-tablet-offline');
    await tablet.context.setOffline(false);
    await tablet.page.locator('#live-status[data-on="true"]').waitFor();

    for (const p of Object.values(people)) {
      assert.deepEqual(foreignRequests(p.log.requests), [], 'nothing from another host');
    }
  });

  test('errors in plain words: a wrong code, a declined card, in French and in English', async () => {
    const { recipient, donor } = people;
    await recipient.page.goto('/gift?code=AAAA-BBBB-CCCC-DDDD-E');
    await recipient.page.locator('#gift-status').filter({ hasText: /n’est pas reconnu|not recognised/ }).waitFor();
    await screenshot(recipient.page, 'errors-wrong-code');

    await donor.page.goto('/wallet');
    await donor.page.locator('#lang-switch').click();
    await donor.page.locator('#buy-name').waitFor();
    assert.equal(await donor.page.getAttribute('html', 'lang'), 'en');
    await donor.page.locator('#buy-name').fill('Rita');
    await donor.page.locator('#buy-email').fill('recipient@demo.fimy.test');
    await donor.page.locator('#buy-card').selectOption('4000 0000 0000 0002');
    await donor.page.getByRole('button', { name: 'Pay and give' }).click();
    await donor.page.locator('#buy-status').filter({ hasText: /declined this payment/ }).waitFor();
    await screenshot(donor.page, 'errors-declined-en');
  });
});
