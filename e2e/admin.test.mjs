// The admin's page and the account settings, in headless Chromium against the real binary:
// - the admin looks a card up by its code, sees its chain of events and its ledger, blocks
//   and unblocks it; a gift email the mail relay refused shows among the failed
//   notifications, and once the relay takes mail again the admin's retry delivers it; the
//   audit runs and finds everything consistent;
// - a person changes the language (kept on the account; a new browser they log in on takes
//   it), turns email notifications off, and ends their session in another browser, which
//   finds itself logged out.
// axe-core checks each page; screenshots go to e2e/screenshots/.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { axe, foreignRequests, freePort, launchBrowser, login, newPage, screenshot, startServer } from './lib/harness.mjs';

/**
 * A mail relay on 127.0.0.1 that refuses every mailbox (550 to RCPT) while `refuse` is
 * set, and otherwise takes the message, recording who it was for.
 */
async function mailRelay() {
  const relay = { refuse: true, refused: [], delivered: [] };
  const server = net.createServer((sock) => {
    sock.setEncoding('utf8');
    let buf = '';
    let data = null;
    let rcpt = '';
    const reply = (line) => sock.write(line + '\r\n');
    reply('220 relay.test ESMTP');
    sock.on('error', () => { /* the client went away */ });
    sock.on('data', (chunk) => {
      buf += chunk;
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (data !== null) {
          if (line === '.') {
            relay.delivered.push({ to: rcpt, text: data });
            data = null;
            reply('250 2.0.0 queued');
          } else {
            data += line + '\n';
          }
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') reply('250 relay.test');
        else if (verb === 'MAIL' || verb === 'RSET' || verb === 'NOOP') reply('250 2.0.0 OK');
        else if (verb === 'RCPT') {
          rcpt = line;
          if (relay.refuse) {
            relay.refused.push(line);
            reply('550 5.1.1 mailbox unavailable');
          } else {
            reply('250 2.1.5 OK');
          }
        } else if (verb === 'DATA') { data = ''; reply('354 end with <CRLF>.<CRLF>'); }
        else if (verb === 'QUIT') { reply('221 2.0.0 bye'); sock.end(); }
        else reply('502 5.5.2 not implemented');
      }
    });
  });
  relay.port = await freePort();
  await new Promise((resolve) => server.listen(relay.port, '127.0.0.1', resolve));
  relay.close = () => new Promise((resolve) => server.close(resolve));
  return relay;
}

async function until(check, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the admin page and the account settings', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let relay;
  const pages = [];

  before(async () => {
    relay = await mailRelay();
    server = await startServer({
      env: { SMTP_URL: `smtp://127.0.0.1:${relay.port}`, FIMY_OUTBOX_INTERVAL_MS: '200' },
    });
    browser = await launchBrowser();
  });

  after(async () => {
    try {
      for (const p of pages) {
        assert.deepEqual(foreignRequests(p.log.requests), [], 'nothing from another host');
        assert.deepEqual(p.log.pageErrors, [], 'no uncaught errors');
      }
    } finally {
      try { await browser?.close(); } finally { await server?.stop(); await relay?.close(); }
    }
  });

  const open = async () => {
    const p = await newPage(browser, server.baseURL);
    pages.push(p);
    return p;
  };

  test('an admin looks a card up, blocks and unblocks it, retries a refused email, runs the audit', async () => {
    const a = server.accounts;
    // The demo's unopened gift, whose code the server prints at start-up.
    const m = /Demo gift card to open \(delivered, unopened[^\n]*\): (\S+)/.exec(server.output());
    assert.ok(m, 'the demo card code is printed');
    const code = m[1];

    // The donor gives a card to an address whose mailbox the relay refuses.
    const api = async (method, url, token, body) => {
      const res = await fetch(server.baseURL + url, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body && JSON.stringify(body),
      });
      assert.ok(res.ok, `${method} ${url}: ${res.status} ${await res.clone().text()}`);
      return res.json();
    };
    const { token } = await api('POST', '/api/v1/auth/login', null, a.donor);
    await api('POST', '/api/v1/cards', token, {
      kind: 'value', amount_minor: 2_000, currency: 'EUR', recipient_name: 'Noa',
      recipient_email: 'noa@example.com', payment: { method: 'test_card', number: '4242 4242 4242 4242' },
    });
    await until(() => relay.refused.some((l) => l.includes('noa@example.com')), 'the relay to refuse the gift email');

    const { page } = await open();
    await page.goto('/admin');
    await login(page, a.admin);
    await page.locator('#users tbody tr').first().waitFor();
    await page.locator('#partners tbody tr').first().waitFor();

    // The card, by its code: its chain and its ledger, verified.
    await page.locator('#lookup-input').fill(code);
    await page.getByRole('button', { name: /^(Chercher|Look up)$/ }).click();
    await page.locator('#card-events tbody tr[data-seq="1"]').waitFor();
    assert.equal(await page.locator('#card-findings').getAttribute('data-kind'), 'done');
    assert.ok(await page.locator('#card-events tbody tr[data-kind-event="card_delivered"]').count() === 1);
    assert.ok(await page.locator('#card-ledger tbody tr').count() >= 2);
    await screenshot(page, 'admin-01-card', { fullPage: true });
    assert.deepEqual(await axe(page), []);

    // Blocked, then unblocked: each shows in the chain.
    const before = await page.locator('#card-events tbody tr').count();
    await page.locator('#block-reason').fill('Contestation du paiement');
    await page.getByRole('button', { name: /Bloquer la carte|Block the card/ }).click();
    await page.locator('#card-status').filter({ hasText: 'blocked' }).waitFor();
    await page.locator('#card-events tbody tr[data-kind-event="card_blocked"]').waitFor();
    await screenshot(page, 'admin-02-blocked');
    await page.locator('#unblock-card').click();
    await page.locator('#card-status').filter({ hasText: 'delivered' }).waitFor();
    await page.locator('#card-events tbody tr[data-kind-event="card_unblocked"]').waitFor();
    assert.equal(await page.locator('#card-events tbody tr').count(), before + 2);
    assert.equal(await page.locator('#card-findings').getAttribute('data-kind'), 'done');

    // The refused email is among the failed notifications; the relay takes mail again and
    // the admin's retry delivers it.
    await page.locator('#outbox-status').selectOption('gone');
    const row = page.locator('#outbox tbody tr', { hasText: 'noa@example.com' }).first();
    await row.waitFor();
    assert.match(await row.textContent(), /550/);
    await screenshot(page, 'admin-03-failed-notifications', { fullPage: true });
    assert.deepEqual(await axe(page), []);
    relay.refuse = false;
    await row.getByRole('button', { name: /Renvoyer|Retry/ }).click();
    await page.locator('#outbox-action-status').filter({ hasText: /Remise dans la file|Back in the sending queue/ }).waitFor();
    await until(() => relay.delivered.some((d) => d.to.includes('noa@example.com')), 'the retried email to be delivered');

    // The audit over everything.
    await page.locator('#audit-run').click();
    await page.locator('#audit-verdict[data-kind="done"]').waitFor({ timeout: 30_000 });
    assert.match(await page.locator('#audit-status').textContent(), /\d+ (cartes|cards)/);
    await page.locator('#audit').scrollIntoViewIfNeeded();
    await screenshot(page, 'admin-04-audit');
    assert.deepEqual(await axe(page), []);

    // Not for anyone else.
    const other = await open();
    await other.page.goto('/admin');
    await login(other.page, a.donor);
    await other.page.locator('#app [role="alert"]').filter({ hasText: /administrateurs|administrators/ }).waitFor();
  });

  test('a person changes the language, a channel, and ends their session elsewhere', async () => {
    const donor = server.accounts.donor;
    const here = await open();
    const elsewhere = await open();
    await elsewhere.page.goto('/account');
    await login(elsewhere.page, donor);
    await here.page.goto('/account');
    await login(here.page, donor);
    await here.page.locator('#sessions li[data-current="true"]').waitFor();
    assert.deepEqual(await axe(here.page), []);
    await screenshot(here.page, 'account-01-fr', { fullPage: true });

    // English, kept on the account as well as in this browser.
    await here.page.locator('#locale-en').check();
    await here.page.locator('#lang-form').getByRole('button').click();
    await here.page.locator('h1').filter({ hasText: 'My account' }).waitFor();
    assert.equal(await here.page.getAttribute('html', 'lang'), 'en');
    const meNow = await here.page.evaluate(async () => (await fetch('/api/v1/me')).json());
    assert.equal(meNow.locale, 'en');

    // A browser that never chose a language (a French one) takes the account's on logging
    // in, and keeps it.
    const fresh = await open();
    await fresh.page.goto('/wallet');
    await fresh.page.locator('#login-form').waitFor();
    assert.equal(await fresh.page.getAttribute('html', 'lang'), 'fr');
    await login(fresh.page, donor);
    await fresh.page.locator('h1').filter({ hasText: 'Gifts I gave' }).waitFor();
    assert.equal(await fresh.page.getAttribute('html', 'lang'), 'en');
    assert.equal(await fresh.page.evaluate(() => localStorage.getItem('fimy.lang')), 'en');
    await fresh.page.goto('/account');
    await fresh.page.locator('h1').filter({ hasText: 'My account' }).waitFor();
    assert.ok(await fresh.page.locator('#locale-en').isChecked());
    await screenshot(fresh.page, 'account-04-new-browser-en');
    // It logs out again (its session is not among those ended below).
    await fresh.page.locator('#account').getByRole('button', { name: 'Log out' }).click();
    await fresh.page.locator('#login-form').waitFor();
    assert.equal(await fresh.page.getAttribute('html', 'lang'), 'en');

    // No more emails about the gifts.
    await here.page.locator('#channel-email').uncheck();
    await here.page.locator('#channels-form').getByRole('button').click();
    await here.page.locator('#channels-status').filter({ hasText: 'Saved.' }).waitFor();
    const prefs = await here.page.evaluate(async () => (await fetch('/api/v1/me/notification-preferences')).json());
    assert.deepEqual(prefs, { email: false, push: true });
    // Web push on this device: the page says what this browser can do.
    await here.page.locator('#push-status').filter({ hasText: /web notifications/ }).waitFor();

    // The other browser's session is ended from here…
    const others = here.page.locator('#sessions li[data-current="false"]');
    assert.ok(await others.count() >= 1);
    await screenshot(here.page, 'account-02-en', { fullPage: true });
    assert.deepEqual(await axe(here.page), []);
    while (await others.count()) {
      const n = await others.count();
      await others.first().getByRole('button', { name: /^Log out/ }).click();
      await until(async () => (await others.count()) < n, 'the session to go');
    }
    await here.page.locator('#sessions-status').filter({ hasText: 'Session ended' }).waitFor();
    await screenshot(here.page, 'account-03-revoked');

    // …and that browser is logged out: its next request is refused, and the page asks
    // it to log in again.
    const status = await elsewhere.page.evaluate(async () => (await fetch('/api/v1/me')).status);
    assert.equal(status, 401);
    await elsewhere.page.reload();
    await elsewhere.page.locator('#login-form').waitFor();
    // This one is still in.
    await here.page.reload();
    await here.page.locator('#sessions li[data-current="true"]').waitFor();
  });
});
