// Creating an account in the browser, from the log-in form every signed-in page shows:
// - a new person signs up from the wallet's log-in screen, is signed in, logs out and logs
//   back in with what they chose;
// - an email already taken, an address the API refuses, and a password too short are said
//   in words next to their field, in French and in English; the log-in form's wrong
//   password and lock-out too;
// - a recipient without an account opens the gift link from their email, creates the
//   account there, and the gift is claimed into it without typing the code (the API's
//   wallet lists it); at 375 px.
// axe-core on the sign-up form; screenshots go to e2e/screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { axe, codeFor, emails, foreignRequests, launchBrowser, login, newPage, screenshot, startServer } from './lib/harness.mjs';

describe('creating an account', { timeout: 240_000 }, () => {
  let server;
  let browser;
  let call;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
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
  });

  after(async () => {
    try { await browser?.close(); } finally { await server?.stop(); }
  });

  /** The sign-up form, switched to from the log-in form. */
  async function openSignup(page) {
    await page.locator('#login-form').waitFor();
    await page.locator('#signup-switch').click();
    await page.locator('#signup-form').waitFor();
    // The keyboard lands in the first field.
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'signup-name');
  }

  async function fill(page, who) {
    await page.locator('#signup-name').fill(who.name);
    await page.locator('#signup-email').fill(who.email);
    await page.locator('#signup-password').fill(who.password);
  }

  test('a new person signs up from the log-in screen, logs out and logs back in', async () => {
    const { page, log } = await newPage(browser, server.baseURL);
    const zoe = { name: 'Zoé Martin', email: 'zoe.martin@example.com', password: 'trois mots suffisent' };
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto('/wallet');
    await page.locator('#login-email').fill(zoe.email); // typed in the wrong form first
    await openSignup(page);
    // Signed out, nothing is live to follow: no connection is tried, and the badge does not
    // say "offline" (it would be untrue: nothing is missing).
    assert.deepEqual(sockets, []);
    assert.equal(await page.locator('#live-status').textContent(), '');
    // Labelled, with the autocomplete a password manager needs, the address carried over,
    // the password's rule said before anything is sent, the page's language by default.
    for (const [id, auto] of [['signup-name', 'name'], ['signup-email', 'email'], ['signup-password', 'new-password']]) {
      assert.equal(await page.locator(`#${id}`).getAttribute('autocomplete'), auto, id);
      assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, id);
    }
    assert.equal(await page.locator('#signup-email').inputValue(), zoe.email);
    assert.match(await page.locator('#signup-password-hint').textContent(), /Au moins 10 caractères \(128 au plus\)/);
    assert.match(await page.locator('#signup-password').getAttribute('aria-describedby'), /signup-password-hint/);
    assert.equal(await page.locator('#signup-lang').inputValue(), 'fr');
    assert.deepEqual(await axe(page), []);
    await screenshot(page, 'signup-01-form', { fullPage: true });

    // Too short a password: said in words next to it, before anything is sent.
    await page.locator('#signup-name').fill(zoe.name);
    await page.locator('#signup-password').fill('court');
    await page.keyboard.press('Enter');
    await page.locator('#signup-password-error').filter({ hasText: /au moins 10 caractères/ }).waitFor();
    assert.equal(await page.locator('#signup-password').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'signup-password');
    assert.equal(await page.locator('#account').getByText(/Connecté/).count(), 0);

    await page.locator('#signup-password').fill(zoe.password);
    await page.getByRole('button', { name: 'Créer mon compte' }).click();
    await page.locator('#account').getByText(`Connecté·e : ${zoe.name}`).waitFor();
    await page.locator('#buy-name').waitFor(); // the wallet, where they were going
    // Signed in, the page is live.
    await page.locator('#live-status[data-on="true"]').filter({ hasText: 'En direct' }).waitFor();
    assert.equal(sockets.length, 1, sockets.join(', '));
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await screenshot(page, 'signup-02-signed-in', { fullPage: true });
    // The account exists with what was typed.
    const session = await call('POST', '/api/v1/auth/login', null, { email: zoe.email, password: zoe.password });
    assert.equal(session.user.display_name, zoe.name);
    assert.equal(session.user.locale, 'fr');
    assert.equal(session.user.kind, 'customer');

    await page.locator('#account').getByRole('button', { name: 'Se déconnecter' }).click();
    await page.locator('#login-form').waitFor();
    await login(page, zoe);
    await page.locator('#account').getByText(`Connecté·e : ${zoe.name}`).waitFor();
    assert.deepEqual(foreignRequests(log.requests), []);
    assert.deepEqual(log.pageErrors, []);
    await page.context().close();
  });

  test('an email taken or refused is said in words next to it, in French and in English', async () => {
    const { page, log } = await newPage(browser, server.baseURL);
    const taken = { name: 'Une autre', email: server.accounts.donor.email, password: 'un mot de passe assez long' };
    await page.goto('/wallet');
    await openSignup(page);
    await fill(page, taken);
    await page.getByRole('button', { name: 'Créer mon compte' }).click();
    const emailError = page.locator('#signup-email-error');
    await emailError.filter({ hasText: 'Un compte existe déjà avec cette adresse' }).waitFor();
    assert.equal(await emailError.getAttribute('role'), 'alert');
    assert.equal(await page.locator('#signup-email').getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('#signup-email').getAttribute('aria-describedby'), /signup-email-error/);
    assert.deepEqual(await axe(page), []);
    await screenshot(page, 'signup-03-email-taken-fr', { fullPage: true });

    // An address the API refuses (no dot in its domain: the page's own check lets it by).
    await page.locator('#signup-email').fill('zoe@localhost');
    await page.getByRole('button', { name: 'Créer mon compte' }).click();
    await emailError.filter({ hasText: 'Cette adresse e-mail n’est pas valable' }).waitFor();

    // "Log in instead" keeps the address typed.
    await page.locator('#signup-email').fill(taken.email);
    await page.locator('#login-switch').click();
    assert.equal(await page.locator('#login-email').inputValue(), taken.email);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'login-email');

    await page.locator('#lang-switch').click();
    await page.locator('#login-form h2', { hasText: 'Log in' }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await openSignup(page);
    assert.equal(await page.locator('#signup-lang').inputValue(), 'en');
    await fill(page, taken);
    await page.getByRole('button', { name: 'Create my account' }).click();
    await emailError.filter({ hasText: 'An account already exists with this address' }).waitFor();
    await page.locator('#signup-email').fill('zoe@localhost');
    await page.getByRole('button', { name: 'Create my account' }).click();
    await emailError.filter({ hasText: 'This email address is not valid' }).waitFor();
    assert.deepEqual(await axe(page), []);
    await screenshot(page, 'signup-04-email-refused-en', { fullPage: true });

    // The same form's other side says a wrong password, and then the lock-out, in words.
    await page.locator('#login-switch').click();
    const loginError = page.locator('#login-error');
    await page.locator('#login-email').fill('nobody@example.com');
    await page.locator('#login-password').fill('not the password');
    for (let i = 0; i < 5; i += 1) {
      const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login'));
      await page.getByRole('button', { name: 'Log in' }).click();
      assert.equal((await answered).status(), 401);
      await loginError.filter({ hasText: 'Wrong email address or password.' }).waitFor();
    }
    await page.getByRole('button', { name: 'Log in' }).click();
    await loginError.filter({ hasText: /^Too many attempts/ }).waitFor();
    await screenshot(page, 'signup-05-login-locked-en', { fullPage: true });
    // The refusals were the API's (409 and 422 for the sign-up, 401 and 429 for the log-in).
    assert.deepEqual(log.httpErrors.filter((e) => !/^(409|422) POST .*\/api\/v1\/auth\/register$/.test(e) &&
      !/^(401|429) POST .*\/api\/v1\/auth\/login$/.test(e)), []);
    assert.deepEqual(log.pageErrors, []);
    await page.context().close();
  });

  test('a recipient opens the gift link, signs up there, and the gift is in their new account', async () => {
    const donor = (await call('POST', '/api/v1/auth/login', null, server.accounts.donor)).token;
    const rita = { name: 'Rita Nouvelle', email: 'rita.nouvelle@example.com', password: 'un cadeau pour moi' };
    const sent = await emails(server.dataDir);
    const bought = await call('POST', '/api/v1/cards', donor, {
      kind: 'value', amount_minor: 5000, currency: 'CAD',
      recipient_name: 'Rita', recipient_email: rita.email, message: 'Bienvenue chez Fimy',
      payment: { method: 'test_card', number: '4242 4242 4242 4242' },
    });
    const code = await codeFor(server.dataDir, rita.email, sent);

    const { page, log } = await newPage(browser, server.baseURL, { viewport: { width: 375, height: 800 } });
    await page.goto(`/gift?code=${encodeURIComponent(code)}`);
    await page.locator('#auth-intro').filter({ hasText: 'sans retaper son code' }).waitFor();
    await openSignup(page);
    await fill(page, rita);
    // Their account in English: the page comes back in it.
    await page.locator('#signup-lang').selectOption('en');
    assert.deepEqual(await axe(page), []);
    // Nothing wider than the phone.
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375));
    await screenshot(page, 'signup-06-gift-inline-375', { fullPage: true });
    await page.locator('#signup-submit').focus();
    await page.keyboard.press('Enter');

    await page.locator('.reveal', { hasText: 'Bienvenue chez Fimy' }).waitFor();
    await page.locator('#account').getByText(`Signed in: ${rita.name}`).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await screenshot(page, 'signup-07-gift-claimed', { fullPage: true });

    const token = (await call('POST', '/api/v1/auth/login', null, { email: rita.email, password: rita.password })).token;
    const me = await call('GET', '/api/v1/me', token);
    assert.equal(me.locale, 'en');
    const wallet = await call('GET', '/api/v1/wallet', token);
    assert.deepEqual(wallet.received.map((c) => c.id), [bought.card.id]);
    assert.deepEqual(foreignRequests(log.requests), []);
    assert.deepEqual(log.pageErrors, []);
    await page.context().close();
  });
});
