// Photos from files on the partner portal: the owner edits an experience, is told in words
// (French, then English) when a file is too big or is not an image — by the page, or by the
// API for a text file renamed .png — uploads two real PNGs, puts the second first and
// removes it with the keyboard alone, and the public experience page (rendered on the
// server) shows the photo, from this host, with the same bytes. axe-core on the portal and
// the experience page; screenshots go to e2e/screenshots/.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { axe, foreignRequests, launchBrowser, login, newPage, screenshot, startServer } from './lib/harness.mjs';

// ---- real PNGs (RGB gradients), so the browser has something to decode

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
const PNG_W = 64;
const PNG_H = 48;
function png(red) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(PNG_W, 0);
  ihdr.writeUInt32BE(PNG_H, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = [];
  for (let y = 0; y < PNG_H; y++) {
    const row = Buffer.alloc(1 + PNG_W * 3); // filter 0
    for (let x = 0; x < PNG_W; x++) row.set([red, 40 + 3 * x, 30 + 4 * y], 1 + 3 * x);
    rows.push(row);
  }
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const MIB = 1024 * 1024;

describe('experience photos uploaded from the partner portal', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let call;
  let partner;
  let experience;
  let ownerToken;
  const title = 'Atelier fromages affinés';

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
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    const login = await call('POST', '/api/v1/auth/login', null, server.accounts['partner owner']);
    assert.equal(login.status, 200, JSON.stringify(login.body));
    ownerToken = login.body.token;
    partner = (await call('GET', '/api/v1/me', ownerToken)).body.staff.partner_id;
    const made = await call('POST', `/api/v1/partners/${partner}/experiences`, ownerToken, {
      title, description: 'Six fromages de la région, avec le fromager.', category: 'activity',
      price_minor: 5500, currency: 'CAD', duration_minutes: 90, capacity: 2, published: true,
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    experience = made.body.id;
  });

  after(async () => {
    try { await browser?.close(); } finally { await server?.stop(); }
  });

  const photosOf = async () => (await call('GET', `/api/v1/experiences/${experience}`)).body.photos;

  test('the owner uploads a photo from a file and the public experience page shows it', async () => {
    const { page, log } = await newPage(browser, server.baseURL);
    await page.goto('/portal');
    await login(page, server.accounts['partner owner']);
    const item = page.locator('#experience-list li', { hasText: title });
    await item.waitFor();
    // A new experience gets its photos once it exists.
    await page.locator('#exp-photos', { hasText: 'Enregistrez d’abord l’expérience' }).waitFor();
    await item.getByRole('button', { name: `Modifier : ${title}` }).click();
    const file = page.getByLabel('Ajouter des photos').and(page.locator('#exp-photos-file'));
    const status = page.locator('#exp-photos-status');

    // Refused by the page: too big, and not an image type.
    await file.setInputFiles({ name: 'grande.png', mimeType: 'image/png', buffer: Buffer.alloc(5 * MIB + 1, 1) });
    await status.filter({ hasText: 'Le fichier « grande.png » est trop lourd : 5 Mo au plus par photo.' }).waitFor();
    await file.setInputFiles({ name: 'menu.txt', mimeType: 'text/plain', buffer: Buffer.from('Menu du jour\n') });
    await status.filter({ hasText: 'Le fichier « menu.txt » n’est pas une image JPEG, PNG ou WebP.' }).waitFor();
    // Refused by the API: a text file renamed .png (the page cannot tell, the bytes do).
    await file.setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('Pas une image.\n') });
    await status.filter({ hasText: 'Le fichier « notes.png » n’est pas une image JPEG, PNG ou WebP.' }).waitFor();
    assert.deepEqual(await photosOf(), []);

    // Two photos.
    const first = png(200);
    const second = png(60);
    await file.setInputFiles({ name: 'plateau.png', mimeType: 'image/png', buffer: first });
    await status.filter({ hasText: 'Photo ajoutée.' }).waitFor();
    await file.setInputFiles({ name: 'cave.png', mimeType: 'image/png', buffer: second });
    const thumbs = page.locator('#exp-photos-list img');
    await thumbs.nth(1).waitFor();
    const [url1, url2] = await thumbs.evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src')));
    assert.deepEqual(await photosOf(), [url1, url2]);
    assert.match(url1, /^\/api\/v1\/photos\/[0-9a-f-]{36}$/);
    assert.deepEqual(await thumbs.evaluateAll((imgs) => imgs.map((i) => i.alt)),
      [`${title} — photo 1`, `${title} — photo 2`]);
    await page.waitForFunction(() => [...document.querySelectorAll('#exp-photos-list img')].every((i) => i.complete && i.naturalWidth > 0));
    await screenshot(page, 'portal-photos-01-two', { fullPage: true });
    assert.deepEqual(await axe(page), []);

    // With the keyboard only: the second goes first, then it is removed.
    await page.getByRole('button', { name: `Mettre en premier : ${title} — photo 2` }).focus();
    await page.keyboard.press('Enter');
    await status.filter({ hasText: 'Photo mise en premier.' }).waitFor();
    assert.deepEqual(await photosOf(), [url2, url1]);
    const removeFirst = page.getByRole('button', { name: `Retirer : ${title} — photo 1` });
    await removeFirst.focus();
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Retirer');
    await page.keyboard.press('Enter');
    await status.filter({ hasText: 'Photo retirée.' }).waitFor();
    await page.locator('#exp-photos-list img').nth(1).waitFor({ state: 'detached' });
    assert.deepEqual(await photosOf(), [url1]);
    assert.equal((await fetch(server.baseURL + url2)).status, 404, 'a removed photo is gone');

    // The public page, rendered on the server: the photo, from this host, the same bytes.
    await page.goto(`/experiences/${experience}`);
    const shown = page.locator(`.photos img[src="${url1}"]`);
    await shown.waitFor();
    assert.equal(await shown.getAttribute('alt'), `${title} — photo 1`);
    await page.waitForFunction((src) => {
      const img = document.querySelector(`.photos img[src="${src}"]`);
      return img && img.complete && img.naturalWidth > 0;
    }, url1);
    assert.equal(await shown.evaluate((img) => img.naturalWidth), PNG_W);
    const served = await fetch(server.baseURL + url1);
    assert.equal(served.headers.get('content-type'), 'image/png');
    assert.equal(sha256(Buffer.from(await served.arrayBuffer())), sha256(first));
    await screenshot(page, 'portal-photos-02-experience-page', { fullPage: true });
    assert.deepEqual(await axe(page), []);

    assert.deepEqual(foreignRequests(log.requests), [], 'nothing from another host');
    assert.deepEqual(log.pageErrors, []);
    // Expected: the checks before logging in (401, and the websocket refused), and the
    // renamed text file the API refused (422).
    const expected = /status of 4(01|22)|\/ws' failed: HTTP Authentication failed/;
    assert.deepEqual(log.consoleErrors.filter((e) => !expected.test(e)), []);
    assert.deepEqual(log.httpErrors.filter((e) => !/^(401|422) /.test(e)), []);
  });

  test('the refusals are in English too', async () => {
    const { context, page } = await newPage(browser, server.baseURL, { locale: 'en-CA' });
    // This browser's own choice, which the account's language does not override.
    await context.addInitScript(() => localStorage.setItem('fimy.lang', 'en'));
    await page.goto('/portal');
    await login(page, server.accounts['partner owner']);
    const item = page.locator('#experience-list li', { hasText: title });
    await item.getByRole('button', { name: `Edit : ${title}` }).click();
    const file = page.locator('#exp-photos-file');
    const status = page.locator('#exp-photos-status');
    await file.setInputFiles({ name: 'big.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(5 * MIB + 1, 1) });
    await status.filter({ hasText: 'The file “big.jpg” is too big: 5 MB at most per photo.' }).waitFor();
    await file.setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('Not a picture.\n') });
    await status.filter({ hasText: 'The file “notes.png” is not a JPEG, PNG or WebP image.' }).waitFor();
    assert.equal((await photosOf()).length, 1, 'nothing was added');
  });
});
