// Fimy's service worker: an offline shell (the app's pages, style and module, kept from
// the last visit, with a page that says it is offline when nothing is cached), and Web
// Push notifications shown once per event (`tag` is the event id, so a redelivery
// replaces rather than repeats) and opening the right page on click.
const CACHE = 'fimy-shell-v4';
const SHELL = ['/', '/wallet', '/gift', '/tablet', '/app.css', '/fimy.js', '/offline',
  '/portal', '/pages/portal.js', '/pages/portal-photos.js', '/pages/tablet-redeem.js', '/pages/gift-card.js'];

// A page is kept without the data of the session the server put in it for its first view
// (`<script id="fimy-boot">`, whose JSON has no `<`): offline, the kept page asks the API
// like any other, and nobody's account or calendar stays in this cache.
async function keep(cache, path, res) {
  if (!(res.headers.get('content-type') || '').startsWith('text/html')) return cache.put(path, res);
  const html = (await res.text())
    .replace(/\n?[ ]*<script type="application\/json" id="fimy-boot">[^<]*<\/script>/, '');
  return cache.put(path, new Response(html, { status: res.status, headers: res.headers }));
}

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE)
    .then((c) => Promise.all(SHELL.map(async (path) => {
      const res = await fetch(path);
      if (!res.ok) throw new Error(`${path}: ${res.status}`);
      return keep(c, path, res);
    })))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// Pages and assets: the network first (always current), the cache when offline. The API
// and the websocket are never cached: what they say must be live or nothing.
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname === '/ws') return;
  event.respondWith(fetch(event.request).then((res) => {
    if (res.ok && SHELL.includes(url.pathname)) {
      const copy = res.clone();
      caches.open(CACHE).then((c) => keep(c, url.pathname, copy));
    }
    return res;
  }).catch(async () => (await caches.match(url.pathname)) ||
    (event.request.mode === 'navigate' ? caches.match('/offline') : Response.error())));
});

self.addEventListener('push', (event) => {
  let m = {};
  try { m = event.data ? event.data.json() : {}; } catch { /* not ours */ }
  if (!m.title) return;
  event.waitUntil(self.registration.showNotification(m.title, {
    body: m.body || '', tag: m.event_id, data: { url: m.url || '/' },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url || '/', location.origin);
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((all) => {
    const open = all.find((c) => new URL(c.url).pathname === target.pathname);
    return open ? open.navigate(target.href).then((c) => c && c.focus()) : self.clients.openWindow(target.href);
  }));
});
