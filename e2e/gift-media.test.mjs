// The card's theme and the giver's attachments, in the browser: the donor picks a theme and
// sees the live preview change (colour, theme name, recipient, message), attaches a photo
// (a PNG made here) and records a voice message with Chromium's fake microphone, is told
// in words when a file is refused (by the page, or by the API after the purchase), pays (3-D Secure, so the uploads land before delivery);
// the recipient opens the gift and sees the same theme, the photo and the voice message —
// in the app and on the server-rendered page without JavaScript. Where the browser has no
// MediaRecorder, there is no record button. axe-core on the form and the reveal;
// screenshots go to e2e/screenshots/.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { axe, codeFor, emails, foreignRequests, launchBrowser, login, newPage, screenshot, startServer } from './lib/harness.mjs';

// ---- a real PNG (RGB, a gradient), so the browser has something to decode

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
const PNG_W = 48;
const PNG_H = 32;
function png() {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(PNG_W, 0);
  ihdr.writeUInt32BE(PNG_H, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = [];
  for (let y = 0; y < PNG_H; y++) {
    const row = Buffer.alloc(1 + PNG_W * 3); // filter 0
    for (let x = 0; x < PNG_W; x++) row.set([200, 40 + 4 * x, 30 + 6 * y], 1 + 3 * x);
    rows.push(row);
  }
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

const BIRTHDAY = 'rgb(194, 65, 12)'; // #c2410c, the birthday theme's colour in app.css
const CLASSIC = 'rgb(15, 94, 84)'; // #0f5e54, the accent

describe('the card’s theme and the giver’s photo and voice message', { timeout: 240_000 }, () => {
  let server;
  let browser;
  let call;
  const people = {};
  const photo = png();

  before(async () => {
    server = await startServer();
    // Chromium's fake microphone (a tone) and no permission prompt: a recording happens.
    browser = await launchBrowser({ args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] });
    for (const who of ['donor', 'recipient']) people[who] = await newPage(browser, server.baseURL);
    people.nojs = await newPage(browser, server.baseURL, { javaScriptEnabled: false });
    call = async (method, url, token) => {
      const res = await fetch(server.baseURL + url, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
      const text = await res.text();
      assert.ok(res.ok, `${method} ${url}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    };
  });

  after(async () => {
    try { await browser?.close(); } finally { await server?.stop(); }
  });

  test('the donor themes the card, attaches a photo and a voice message; the recipient sees them', async () => {
    const { donor, recipient, nojs } = people;
    const p = donor.page;
    await p.goto('/wallet');
    await login(p, server.accounts.donor);
    const exp = p.locator('#buy-experience option', { hasText: 'Brunch' }).first();
    await p.locator('#buy-experience').selectOption(await exp.getAttribute('value'));
    const title = (await exp.textContent()).split(' — ')[0];

    // The preview follows what is typed.
    const preview = p.locator('#buy-preview .gift-card');
    assert.equal(await preview.getAttribute('data-theme'), 'classic');
    await p.locator('#buy-name').fill('Léa');
    await p.locator('#buy-email').fill('recipient@demo.fimy.test');
    await preview.getByRole('heading', { name: 'Pour Léa' }).waitFor();
    await p.locator('#buy-message').fill('Joyeux anniversaire, Léa !');
    assert.equal(await preview.locator('blockquote').textContent(), 'Joyeux anniversaire, Léa !');
    assert.match(await preview.locator('dl.card-facts').textContent(), new RegExp(`^Votre cadeau${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const border = () => preview.evaluate((n) => getComputedStyle(n).borderTopColor);
    assert.equal(await border(), CLASSIC);
    assert.match(await preview.locator('.gift-theme').textContent(), /Thème Classique/);

    // The theme is a radio group: picked with the mouse, moved with the arrow keys.
    const themes = p.getByRole('group', { name: 'Thème de la carte' });
    assert.equal(await themes.getByRole('radio').count(), 8);
    await themes.getByRole('radio', { name: 'Amour' }).check();
    await p.locator('#buy-preview .gift-card[data-theme="love"]').waitFor();
    await p.keyboard.press('ArrowLeft'); // back to the one before: Anniversaire
    assert.ok(await themes.getByRole('radio', { name: 'Anniversaire' }).isChecked());
    await p.locator('#buy-preview .gift-card[data-theme="birthday"]').waitFor();
    assert.match(await preview.locator('.gift-theme').textContent(), /Thème Anniversaire/);
    assert.equal(await border(), BIRTHDAY);
    // The focused radio shows where the keyboard is.
    const outline = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, 'solid');
    await screenshot(p, 'gift-media-01-theme-preview');

    // A file the API would refuse is refused at once, in words.
    await p.locator('#buy-files').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await p.locator('#buy-attach-status[data-kind="error"]').filter({ hasText: '« notes.txt » n’est pas accepté' }).waitFor();
    assert.equal(await p.locator('#buy-attachment-list li').count(), 0);
    // So is a "photo" the browser cannot draw: the recipient would see it broken.
    await p.locator('#buy-files').setInputFiles({ name: 'casse.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
    await p.locator('#buy-attach-status[data-kind="error"]').filter({ hasText: '« casse.png » ne peut pas être lu comme une image' }).waitFor();
    assert.equal(await p.locator('#buy-attachment-list li').count(), 0);

    // The photo: listed, and shown in the preview as the recipient will see it.
    await p.locator('#buy-files').setInputFiles({ name: 'gateau.png', mimeType: 'image/png', buffer: photo });
    await p.locator('#buy-attachment-list li[data-kind="photo"]').filter({ hasText: 'gateau.png' }).waitFor();
    await p.waitForFunction((w) => {
      const img = document.querySelector('#buy-preview img[alt="Photo 1"]');
      return img && img.complete && img.naturalWidth === w;
    }, PNG_W);

    // The voice message: record, stop, listen again.
    const rec = p.locator('#voice-record');
    assert.equal(await rec.textContent(), 'Enregistrer un message vocal');
    await rec.click();
    await p.locator('#voice-status').filter({ hasText: 'Enregistrement en cours' }).waitFor();
    assert.equal(await rec.textContent(), 'Arrêter l’enregistrement');
    assert.equal(await rec.getAttribute('data-state'), 'recording');
    await screenshot(p, 'gift-media-02-recording');
    await p.waitForTimeout(2_000);
    await rec.click();
    await p.locator('#voice-status[data-kind="done"]').filter({ hasText: 'Message vocal enregistré' }).waitFor();
    assert.equal(await rec.textContent(), 'Enregistrer à nouveau');
    await p.waitForFunction(() => document.getElementById('voice-audio')?.readyState >= 1);
    await p.locator('#buy-attachment-list li[data-kind="voice"]').waitFor();
    await p.locator('#buy-preview audio[aria-label="Message vocal 2"]').waitFor();
    // Removing it takes it out of the list and the preview; a new recording comes back.
    await p.locator('#voice-remove').click();
    await p.locator('#voice-status').filter({ hasText: 'Message vocal supprimé' }).waitFor();
    assert.equal(await p.locator('#buy-attachment-list li[data-kind="voice"]').count(), 0);
    assert.equal(await p.locator('#buy-preview audio').count(), 0);
    assert.equal(await p.evaluate(() => document.activeElement.id), 'voice-record');
    await rec.click();
    await p.locator('#voice-status').filter({ hasText: 'Enregistrement en cours' }).waitFor();
    await p.waitForTimeout(1_500);
    await rec.click();
    await p.locator('#buy-preview audio[aria-label="Message vocal 2"]').waitFor();
    assert.deepEqual(await axe(p), [], 'the gift form, with its attachments');
    await screenshot(p.locator('#buy-form'), 'gift-media-03-form-attached'); // a locator screenshots too

    // Pay with the card that asks for 3-D Secure: the card exists, the uploads go while the
    // bank's question is on screen, before anything reaches the recipient.
    await p.locator('#buy-card').selectOption('4000 0025 0000 3155');
    const sent = await emails(server.dataDir);
    await p.getByRole('button', { name: 'Payer et offrir' }).click();
    await p.locator('#buy-upload-status[data-kind="done"]').filter({ hasText: 'Pièces jointes envoyées (2)' }).waitFor();
    await p.locator('#three-ds-ok').waitFor();
    await screenshot(p, 'gift-media-04-uploaded');
    // The form is ready for another gift, with nothing attached.
    assert.equal(await p.locator('#buy-attachment-list li').count(), 0);
    assert.equal(await rec.textContent(), 'Enregistrer un message vocal');

    // What the API now holds for that card: the theme, the very PNG, a WebM recording.
    const { token } = await (await fetch(`${server.baseURL}/api/v1/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(server.accounts.donor),
    })).json();
    const given = (await call('GET', '/api/v1/wallet', token)).given.find((c) => c.recipient_name === 'Léa');
    assert.equal(given.theme, 'birthday');
    const files = (await call('GET', `/api/v1/cards/${given.id}/attachments`, token)).items;
    assert.deepEqual(files.map((f) => [f.kind, f.content_type]), [['photo', 'image/png'], ['voice', 'audio/webm']]);
    assert.equal(files[0].sha256, createHash('sha256').update(photo).digest('hex'));
    assert.ok(files[1].size_bytes > 1000, `a recording of about 1.5 s: ${files[1].size_bytes} bytes`);

    await p.locator('#three-ds-ok').click();
    const gift = p.locator('li.gift', { hasText: 'Léa' }).first();
    await gift.locator('[data-step="delivered"][data-done="true"]').waitFor();

    // The recipient opens it: the same theme, the photo, the voice message.
    const code = await codeFor(server.dataDir, 'recipient@demo.fimy.test', sent);
    const r = recipient.page;
    await r.goto(`/gift?code=${encodeURIComponent(code)}`);
    await login(r, server.accounts.recipient);
    const reveal = r.locator('section.reveal[data-theme="birthday"]');
    await reveal.getByRole('heading', { name: 'Pour Léa' }).waitFor();
    assert.match(await reveal.locator('.gift-theme').textContent(), /Thème Anniversaire/);
    assert.equal(await reveal.locator('blockquote').textContent(), 'Joyeux anniversaire, Léa !');
    assert.equal(await reveal.evaluate((n) => getComputedStyle(n).borderTopColor), BIRTHDAY);
    await r.waitForFunction((w) => {
      const img = document.querySelector('.reveal img[alt="Photo 1"]');
      return img && img.complete && img.naturalWidth === w;
    }, PNG_W);
    // The recording plays: the browser read its metadata from the signed URL.
    await r.waitForFunction(() => document.querySelector('.reveal audio[aria-label="Message vocal 2"]')?.readyState >= 1);
    const played = await r.evaluate(async () => {
      const a = document.querySelector('.reveal audio[aria-label="Message vocal 2"]');
      a.muted = true;
      await a.play();
      await new Promise((ok) => setTimeout(ok, 700));
      a.pause();
      return a.currentTime;
    });
    assert.ok(played > 0.2, `the voice message plays (${played} s)`);
    assert.deepEqual(await reveal.locator('figcaption').allTextContents(), ['Photo 1', 'Message vocal 2']);
    assert.deepEqual(await axe(r), [], 'the reveal');
    await screenshot(r, 'gift-media-05-recipient-reveal', { fullPage: true });

    // Without JavaScript, the server's page shows the same card.
    const n = nojs.page;
    await n.goto(`/gift?code=${encodeURIComponent(code)}`);
    await n.getByRole('button', { name: 'Ouvrir mon cadeau' }).click();
    const page = n.locator('section.reveal[data-theme="birthday"]');
    await page.getByRole('heading', { name: 'Pour Léa' }).waitFor();
    const src = await page.locator('img[alt="Photo 1"]').getAttribute('src');
    const img = await n.request.get(src);
    assert.equal(img.status(), 200);
    assert.ok((await img.body()).equals(photo));
    assert.equal(await page.locator('audio[aria-label="Message vocal 2"]').count(), 1);
    assert.equal(await page.evaluate((x) => getComputedStyle(x).borderTopColor), BIRTHDAY);
    await screenshot(n, 'gift-media-06-server-reveal', { fullPage: true });

    for (const who of [donor, recipient, nojs]) {
      assert.deepEqual(foreignRequests(who.log.requests), [], 'nothing from another host');
      assert.deepEqual(who.log.pageErrors, []);
    }
    assert.deepEqual(donor.log.httpErrors.filter((e) => !e.startsWith('401 GET')), []);
  });

  test('in English, and without MediaRecorder there is no record button', async () => {
    const p = people.donor.page;
    await p.goto('/wallet');
    await p.locator('#lang-switch').click();
    await p.locator('#buy-name').waitFor();
    const themes = p.getByRole('group', { name: 'Card theme' });
    await themes.getByRole('radio', { name: 'Thank you' }).check();
    await p.locator('#buy-name').fill('Sam');
    const preview = p.locator('#buy-preview .gift-card[data-theme="thank_you"]');
    await preview.getByRole('heading', { name: 'For Sam' }).waitFor();
    assert.match(await preview.locator('.gift-theme').textContent(), /Theme Thank you/);
    await p.getByRole('heading', { name: 'Preview: the card as its recipient will see it' }).waitFor();
    assert.equal(await p.locator('#voice-record').textContent(), 'Record a voice message');
    await p.locator('#buy-files').setInputFiles({ name: 'film.mov', mimeType: 'video/quicktime', buffer: Buffer.from('not a film') });
    await p.locator('#buy-attach-status').filter({ hasText: '“film.mov” is not accepted' }).waitFor();
    // A file that says it is a WebM video but is not: the page does not decode videos, the
    // API refuses it after the purchase, and the donor is told which file and why, with a
    // way to retry.
    await p.locator('#buy-email').fill('sam@example.com');
    await p.locator('#buy-files').setInputFiles({ name: 'broken.webm', mimeType: 'video/webm', buffer: Buffer.from('not a film at all') });
    await p.locator('#buy-attachment-list li[data-kind="video"]').filter({ hasText: 'broken.webm' }).waitFor();
    await p.getByRole('button', { name: 'Pay and give' }).click();
    await p.locator('#buy-upload-status[data-kind="error"]').filter({ hasText: 'Some attachments could not be sent' }).waitFor();
    await p.locator('#buy-attachment-list li[data-state="failed"]')
      .filter({ hasText: 'its content does not match its type' }).waitFor();
    await p.getByRole('button', { name: 'Try sending again' }).waitFor();
    assert.deepEqual(await axe(p), [], 'the form, in English, after a refused upload');
    await screenshot(p, 'gift-media-07-form-en-refused', { fullPage: true });
    await p.locator('#lang-switch').click();
    await p.locator('html[lang="fr"]').waitFor({ state: 'attached' });

    // A browser without MediaRecorder: photos and videos only, no button that cannot work.
    const bare = await newPage(browser, server.baseURL);
    await bare.context.addInitScript(() => { delete window.MediaRecorder; });
    await bare.page.goto('/wallet');
    await login(bare.page, server.accounts.donor);
    await bare.page.locator('#buy-files').waitFor();
    assert.equal(await bare.page.locator('#voice-record').count(), 0);
    await bare.page.setViewportSize({ width: 375, height: 800 });
    assert.deepEqual(await axe(bare.page), [], 'the form, on a phone, without MediaRecorder');
    await screenshot(bare.page, 'gift-media-08-phone-no-recorder', { fullPage: true });
    await bare.context.close();
  });
});
