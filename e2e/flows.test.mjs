// What the recipient and the donor do besides the main journey, in the browser:
// - the recipient moves a confirmed booking to another time, writes to the venue and reads
//   its answer, is told in plain words that it is too late to cancel under the venue's
//   policy, and cancels once the policy allows it;
// - the donor gives a value card as a group gift delivered later, at a local time in the
//   recipient's time zone; a friend, in their own browser, pays a share through the invite
//   link and the donor's wallet shows it without reload; a refused extension is explained
//   in plain words (in French and in English); the donor refunds the gift before it is
//   opened;
// - a value card's recipient sees its balance and history.
// axe-core checks each new view; screenshots go to e2e/screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { axe, codeFor, emails, foreignRequests, launchBrowser, login, newPage, screenshot, startServer } from './lib/harness.mjs';

describe('recipient and donor flows', { timeout: 240_000 }, () => {
  let server;
  let browser;
  let call;
  let owner;
  let partner;
  let brunch;
  const people = {};

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    for (const who of ['donor', 'recipient', 'friend']) people[who] = await newPage(browser, server.baseURL);
    call = async (method, url, token, body) => {
      const res = await fetch(server.baseURL + url, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body && JSON.stringify(body),
      });
      const text = await res.text();
      assert.ok(res.ok, `${method} ${url}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    };
    owner = (await call('POST', '/api/v1/auth/login', null, server.accounts['partner owner'])).token;
    partner = (await call('GET', '/api/v1/me', owner)).staff.partner_id;
    // The brunch in hourly slots around the clock, so that slots start within the hour
    // whatever the time the tests run at: too soon to cancel under the venue's 24 hours.
    brunch = (await call('GET', `/api/v1/experiences?partner_id=${partner}&q=brunch`)).items[0];
    const weekly = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
      .map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    await call('PUT', `/api/v1/partners/${partner}/experiences/${brunch.id}/availability`, owner,
      { weekly, capacity: 4, slot_minutes: 60, min_notice_minutes: 0, horizon_days: 30 });
  });

  after(async () => {
    try { await browser?.close(); } finally { await server?.stop(); }
  });

  test('the recipient moves a booking, writes to the venue, and cancels under its policy', async () => {
    const { recipient } = people;
    const donor = (await call('POST', '/api/v1/auth/login', null, server.accounts.donor)).token;
    const sent = await emails(server.dataDir);
    await call('POST', '/api/v1/cards', donor, {
      kind: 'experience', experience_id: brunch.id, party_size: 1,
      recipient_name: 'Rita', recipient_email: 'recipient@demo.fimy.test', message: 'Pour dimanche',
      payment: { method: 'test_card', number: '4242 4242 4242 4242' },
    });
    const code = await codeFor(server.dataDir, 'recipient@demo.fimy.test', sent);
    await recipient.page.goto(`/gift?code=${encodeURIComponent(code)}`);
    await login(recipient.page, server.accounts.recipient);
    await recipient.page.locator('.reveal', { hasText: 'Pour dimanche' }).waitFor();

    // Book the first time and confirm it.
    await recipient.page.locator('#slots li').first().getByRole('button').click();
    await recipient.page.locator('#confirm-booking').click();
    const bookedFor = recipient.page.locator('#booked-for');
    await bookedFor.waitFor();
    const firstStart = await bookedFor.getAttribute('data-starts');
    await recipient.page.locator('#cancel-policy').waitFor();
    assert.deepEqual(await axe(recipient.page), []);
    await screenshot(recipient.page, 'flows-01-recipient-booked', { fullPage: true });

    // Move it: the slot buttons become "move here"; the booking's own time cannot be picked.
    await recipient.page.locator('#reschedule-booking').click();
    const movable = recipient.page.locator('#slots li button:not([disabled])', { hasText: /Déplacer ici|Move here/ });
    await movable.first().waitFor();
    assert.deepEqual(await axe(recipient.page), []);
    await screenshot(recipient.page, 'flows-02-recipient-moving', { fullPage: true });
    await movable.first().click();
    await recipient.page.locator('#booking-action-status').filter({ hasText: /déplacée|moved/ }).waitFor();
    const secondStart = await bookedFor.getAttribute('data-starts');
    assert.notEqual(secondStart, firstStart);
    const bookings = await call('GET', '/api/v1/bookings',
      (await call('POST', '/api/v1/auth/login', null, server.accounts.recipient)).token);
    const moved = bookings.find((b) => b.status === 'confirmed');
    assert.equal(new Date(moved.starts_at).getTime(), new Date(secondStart).getTime());

    // A message to the venue, and the venue's answer arriving on the page by itself.
    await recipient.page.locator('#message-body').fill('Pouvons-nous arriver dix minutes plus tôt ?');
    await recipient.page.getByRole('button', { name: /^(Envoyer|Send)$/ }).click();
    await recipient.page.locator('#messages li[data-mine="true"]', { hasText: 'dix minutes' }).waitFor();
    await call('POST', `/api/v1/bookings/${moved.id}/messages`, owner, { body: 'Bien sûr, à dimanche !' });
    await recipient.page.locator('#messages li[data-role="partner"]', { hasText: 'à dimanche' })
      .waitFor({ timeout: 20_000 });
    assert.deepEqual(await axe(recipient.page), []);
    await screenshot(recipient.page, 'flows-03-recipient-messages', { fullPage: true });

    // Cancelling within the venue's 24 hours is refused, in plain words.
    await recipient.page.locator('#cancel-booking').click();
    await recipient.page.locator('#cancel-confirm').click();
    await recipient.page.locator('#booking-action-status[data-kind="error"]')
      .filter({ hasText: /Trop tard pour annuler.*24 h avant le début/ }).waitFor();
    assert.deepEqual(await axe(recipient.page), []);
    await screenshot(recipient.page, 'flows-04-recipient-cancel-refused', { fullPage: true });

    // The venue takes cancellations up to the start now: the cancel goes through, the
    // place comes back and the times can be booked again.
    await call('PATCH', `/api/v1/partners/${partner}`, owner, { cancellation_hours: 0 });
    await recipient.page.locator('#cancel-booking').click();
    await recipient.page.locator('#cancel-confirm').click();
    await recipient.page.locator('#booking-cancelled').filter({ hasText: /annulée|cancelled/ }).waitFor();
    await recipient.page.locator('#slots li button:not([disabled])', { hasText: /Réserver|Book/ }).first().waitFor();
    assert.deepEqual(await axe(recipient.page), []);
    await screenshot(recipient.page, 'flows-05-recipient-cancelled', { fullPage: true });
    assert.deepEqual(foreignRequests(recipient.log.requests), []);
    assert.deepEqual(recipient.log.pageErrors, []);
  });

  test('a group gift delivered later, a friend chipping in, a refused extension, a refund', async () => {
    const { donor, friend } = people;
    await donor.page.goto('/wallet');
    await login(donor.page, server.accounts.donor);
    const p = donor.page;
    await p.locator('#buy-kind-value').check();
    await p.locator('#buy-amount').fill('40');
    await p.locator('#buy-currency').selectOption('CAD');
    await p.locator('#buy-group').check();
    await p.locator('#buy-name').fill('Noé');
    await p.locator('#buy-email').fill('noe@example.com');
    await p.locator('#buy-message').fill('De la part de toute l’équipe');
    await p.locator('#buy-when-later').check();
    const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    await p.locator('#buy-deliver-at').fill(`${day}T09:30`);
    await p.locator('#buy-timezone').selectOption('Europe/Paris');
    await p.locator('#buy-preview', { hasText: '(Europe/Paris)' }).waitFor();
    assert.deepEqual(await axe(p), []);
    await screenshot(p, 'flows-06-donor-group-gift-form', { fullPage: true });
    await p.getByRole('button', { name: /Payer et offrir|Pay and give/ }).click();
    const gift = p.locator('li.gift', { hasText: 'Noé' }).first();
    await gift.locator('[data-step="paid"][data-done="true"]').waitFor();
    await gift.locator('[data-role="delivery"]').filter({ hasText: /Remise prévue/ }).waitFor();
    await gift.locator('[data-role="collected"][data-minor="4000"]').waitFor();
    const link = await gift.locator('[data-role="invite"]').inputValue();
    const cardId = new URL(link).searchParams.get('contribute');
    // 09:30 in Paris, whatever the browser's own zone.
    const token = (await call('POST', '/api/v1/auth/login', null, server.accounts.donor)).token;
    const card = await call('GET', `/api/v1/cards/${cardId}`, token);
    const paris = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    }).format(new Date(card.deliver_at));
    assert.equal(paris, `${day.slice(8, 10)}/${day.slice(5, 7)}/${day.slice(0, 4)}, 09:30`);
    assert.equal(card.status, 'issued');
    assert.deepEqual(await axe(p), []);
    await screenshot(p, 'flows-07-donor-group-gift-scheduled', { fullPage: true });

    // A friend, in their own browser and account, pays a share through the link.
    const mate = { email: 'friend@example.com', password: 'a long enough password' };
    await call('POST', '/api/v1/auth/register', null, { ...mate, display_name: 'Camille' });
    await friend.page.goto(new URL(link).pathname + new URL(link).search);
    await login(friend.page, mate);
    await friend.page.locator('#contribute-form', { hasText: 'Noé' }).waitFor();
    await friend.page.locator('#contribute-amount').fill('25');
    await friend.page.getByRole('button', { name: /Payer ma part|Pay my share/ }).click();
    await friend.page.locator('#contribute-status[data-kind="done"]').filter({ hasText: /Merci|Thank you/ }).waitFor();
    assert.deepEqual(await axe(friend.page), []);
    await screenshot(friend.page, 'flows-08-friend-chips-in', { fullPage: true });
    // The donor's wallet shows the pot grow, without reload.
    await gift.locator('[data-role="collected"][data-minor="6500"]').waitFor();
    await screenshot(p, 'flows-09-donor-pot-grew', { fullPage: true });

    // The free extension is for the last 30 days before expiry: refused, in plain words.
    await gift.locator('[data-action="extend"]').click();
    await gift.locator('[data-role="action-status"][data-kind="error"]')
      .filter({ hasText: /une fois, dans les 30 jours/ }).waitFor();
    await screenshot(p, 'flows-10-donor-extend-refused-fr', { fullPage: true });
    await p.locator('#lang-switch').click();
    await p.locator('#buy-name').waitFor();
    assert.equal(await p.getAttribute('html', 'lang'), 'en');
    const again = p.locator('li.gift', { hasText: 'Noé' }).first();
    await again.locator('[data-action="extend"]').click();
    await again.locator('[data-role="action-status"][data-kind="error"]')
      .filter({ hasText: /can be used once, in the 30 days before/ }).waitFor();
    assert.deepEqual(await axe(p), []);
    await screenshot(p, 'flows-11-donor-extend-refused-en', { fullPage: true });

    // Not opened yet: the donor may refund it; every payer gets their share back.
    await again.locator('[data-action="refund"]').click();
    await again.locator('[data-action="refund-confirm"]').click();
    await again.locator('[data-role="action-status"][data-kind="done"]').filter({ hasText: /refunded/ }).waitFor();
    assert.equal((await call('GET', `/api/v1/cards/${cardId}`, token)).status, 'refunded');
    assert.equal(await again.locator('[data-action="refund"]').count(), 0);
    await screenshot(p, 'flows-12-donor-refunded', { fullPage: true });
    for (const who of [donor, friend]) {
      assert.deepEqual(foreignRequests(who.log.requests), []);
      assert.deepEqual(who.log.pageErrors, []);
    }
  });

  test('a value card: its balance and history, spent at the venue, updated live', async () => {
    const { recipient } = people;
    const donor = (await call('POST', '/api/v1/auth/login', null, server.accounts.donor)).token;
    const sent = await emails(server.dataDir);
    await call('POST', '/api/v1/cards', donor, {
      kind: 'value', amount_minor: 3000, currency: brunch.currency,
      recipient_name: 'Rita', recipient_email: 'recipient@demo.fimy.test', message: 'À dépenser',
      payment: { method: 'test_card', number: '4242 4242 4242 4242' },
    });
    const code = await codeFor(server.dataDir, 'recipient@demo.fimy.test', sent);
    await recipient.page.goto(`/gift?code=${encodeURIComponent(code)}`);
    await recipient.page.locator('.reveal', { hasText: 'À dépenser' }).waitFor();
    await recipient.page.locator('#balance-available').filter({ hasText: /30,00/ }).waitFor();
    await recipient.page.locator('#card-history li[data-kind="payment_received"]').filter({ hasText: /\+ 30,00/ }).waitFor();
    await recipient.page.locator('#card-history li[data-kind="card_opened"]').waitFor();
    assert.deepEqual(await axe(recipient.page), []);
    await screenshot(recipient.page, 'flows-13-recipient-value-balance', { fullPage: true });
    // The venue takes 12.00 from it: balance and history change on the page by themselves.
    await call('POST', `/api/v1/partners/${partner}/redemptions`, owner, { code, amount_minor: 1200 });
    await recipient.page.locator('#balance-available').filter({ hasText: /18,00/ }).waitFor();
    await recipient.page.locator('#card-history li[data-kind="amount_redeemed"]').filter({ hasText: /− 12,00/ }).waitFor();
    await screenshot(recipient.page, 'flows-14-recipient-value-spent', { fullPage: true });
    assert.deepEqual(recipient.log.pageErrors, []);
  });
});
