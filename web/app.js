// Fimy landing page: the catalogue search form. Calls GET /api/v1/experiences with the
// form's filters (empty ones left out, prices turned into minor units), renders result
// cards, pages with `next_cursor`, and shows problem+json errors. Keeps the filters in
// the address bar so a search can be shared. Only textContent / createElement are used
// to put data into the page (the CSP forbids inline code anyway).
'use strict';

(() => {
  const API = '/api/v1/experiences';
  const FIELDS = ['q', 'category', 'occasion', 'season', 'max_price', 'currency', 'sort'];

  const form = document.getElementById('search-form');
  const results = document.getElementById('results');
  const statusEl = document.getElementById('search-status');
  const errorEl = document.getElementById('search-error');
  const moreBtn = document.getElementById('load-more');
  if (!form || !results) return;

  let lastQuery = null; // URLSearchParams of the current search, without cursor
  let nextCursor = null;
  let shown = 0;
  let inFlight = null; // AbortController of the running request

  // Creates an element; `text` becomes textContent, other keys become attributes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = String(v);
      else if (k === 'class') node.className = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // The French / English label of a slug, read from the form's own <select> options.
  function label(selectName, slug) {
    const select = form.elements.namedItem(selectName);
    if (select && select.options) {
      for (const o of select.options) if (o.value === slug) return o.textContent.trim();
    }
    return String(slug).replace(/_/g, ' ');
  }

  function formatPrice(minor, currency) {
    if (typeof minor !== 'number' || !Number.isFinite(minor)) return '';
    const amount = minor / 100;
    try {
      return new Intl.NumberFormat('fr-FR', { style: 'currency', currency: currency || 'EUR' })
        .format(amount);
    } catch (_) {
      return `${amount.toFixed(2)} ${currency || ''}`.trim();
    }
  }

  function formatDuration(minutes) {
    if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes <= 0) return '';
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const mins = minutes % 60;
    const parts = [];
    if (days) parts.push(`${days} j`);
    if (hours) parts.push(`${hours} h`);
    if (mins) parts.push(days || hours ? String(mins).padStart(2, '0') : `${mins} min`);
    return parts.join(' ');
  }

  // The first usable photo URL (photos is free-form JSON: strings or {url, alt}).
  function firstPhoto(photos) {
    if (!Array.isArray(photos)) return null;
    for (const p of photos) {
      const url = typeof p === 'string' ? p : (p && typeof p.url === 'string' ? p.url : null);
      if (url && (/^https:\/\//i.test(url) || /^\/(?!\/)/.test(url))) {
        return { url, alt: (p && typeof p.alt === 'string') ? p.alt : '' };
      }
    }
    return null;
  }

  function card(item) {
    const it = item || {};
    const partner = it.partner || {};
    const li = el('li', { class: 'card' });
    const article = el('article', { 'aria-labelledby': `exp-${it.id || shown}` });
    const photo = firstPhoto(it.photos);
    if (photo) {
      const img = el('img', { alt: photo.alt, loading: 'lazy', decoding: 'async', class: 'card-photo' });
      img.src = photo.url;
      img.addEventListener('error', () => img.remove());
      article.append(img);
    }
    const body = el('div', { class: 'card-body' });
    if (it.category) body.append(el('p', { class: 'card-category', text: label('category', it.category) }));
    body.append(el('h3', { id: `exp-${it.id || shown}`, text: it.title || 'Sans titre / Untitled' }));
    const where = [partner.name, partner.city].filter(Boolean).join(' · ');
    if (where) body.append(el('p', { class: 'card-partner', text: where }));
    if (typeof it.distance_km === 'number') {
      const km = it.distance_km.toLocaleString('fr-FR', { maximumFractionDigits: 1 });
      body.append(el('p', { class: 'muted', text: `à ${km} km / ${it.distance_km.toFixed(1)} km away` }));
    }
    if (it.description) body.append(el('p', { class: 'card-description', text: it.description }));

    const facts = el('dl', { class: 'card-facts' });
    const price = formatPrice(it.price_minor, it.currency);
    if (price) facts.append(el('dt', { text: 'Prix / Price' }), el('dd', { class: 'card-price', text: price }));
    const duration = formatDuration(it.duration_minutes);
    if (duration) facts.append(el('dt', { text: 'Durée / Duration' }), el('dd', { text: duration }));
    if (typeof it.capacity === 'number' && it.capacity > 0) {
      facts.append(el('dt', { text: 'Personnes / People' }), el('dd', { text: String(it.capacity) }));
    }
    if (facts.childElementCount) body.append(facts);

    const occasions = Array.isArray(it.occasions) ? it.occasions : [];
    if (occasions.length) {
      const tags = el('ul', { class: 'tags', 'aria-label': 'Occasions' });
      for (const o of occasions) tags.append(el('li', { text: label('occasion', o) }));
      body.append(tags);
    }
    article.append(body);
    li.append(article);
    return li;
  }

  function showError(problem) {
    errorEl.replaceChildren();
    if (!problem) {
      errorEl.hidden = true;
      return;
    }
    errorEl.append(el('strong', { text: problem.title || 'Erreur / Error' }));
    if (problem.detail) errorEl.append(el('p', { text: problem.detail }));
    const extra = [];
    if (problem.field) extra.push(`champ / field : ${problem.field}`);
    if (problem.code) extra.push(`code : ${problem.code}`);
    if (problem.requestId) extra.push(`request id : ${problem.requestId}`);
    if (extra.length) errorEl.append(el('p', { class: 'muted small', text: extra.join(' — ') }));
    errorEl.hidden = false;
  }

  // Reads the form into query parameters; returns {params} or {error}.
  function readForm() {
    const params = new URLSearchParams();
    const value = (name) => {
      const f = form.elements.namedItem(name);
      return f && typeof f.value === 'string' ? f.value.trim() : '';
    };
    const q = value('q');
    if (q) params.set('q', q);
    for (const name of ['category', 'occasion', 'season', 'currency']) {
      const v = value(name);
      if (v) params.set(name, v);
    }
    const maxField = form.elements.namedItem('max_price');
    const rawMax = value('max_price').replace(',', '.');
    if (maxField && maxField.validity && maxField.validity.badInput) {
      return { error: { title: 'Prix invalide / Invalid price', detail: 'Entrez un nombre, par ex. 80 / Enter a number, e.g. 80', field: 'max_price' } };
    }
    if (rawMax) {
      const amount = Number(rawMax);
      if (!Number.isFinite(amount) || amount < 0) {
        return { error: { title: 'Prix invalide / Invalid price', detail: 'Le prix doit être un nombre positif / The price must be a positive number', field: 'max_price' } };
      }
      params.set('max_price', String(Math.round(amount * 100)));
    }
    const sort = value('sort');
    // "relevance" needs a text query; without one the server picks its own default.
    if (sort && !(sort === 'relevance' && !q)) params.set('sort', sort);
    return { params };
  }

  // Puts the filters from the address bar back into the form (prices back to units).
  function fillFormFromUrl() {
    const url = new URLSearchParams(window.location.search);
    let any = false;
    for (const name of FIELDS) {
      const v = url.get(name);
      const f = form.elements.namedItem(name);
      if (v === null || !f) continue;
      any = true;
      if (name === 'max_price') {
        const n = Number(v);
        f.value = Number.isFinite(n) ? String(n / 100) : '';
      } else {
        f.value = v;
        if (f.tagName === 'SELECT' && f.selectedIndex < 0) f.selectedIndex = 0;
      }
    }
    return any;
  }

  async function problemFrom(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) { /* not JSON */ }
    const p = body && typeof body === 'object' ? body : {};
    return {
      title: typeof p.title === 'string' ? p.title : `Erreur HTTP ${response.status} / HTTP error`,
      detail: typeof p.detail === 'string' ? p.detail : (response.statusText || ''),
      code: typeof p.code === 'string' ? p.code : '',
      field: typeof p.field === 'string' ? p.field : '',
      requestId: response.headers.get('x-request-id') || '',
    };
  }

  async function run(append) {
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    const params = new URLSearchParams(lastQuery || '');
    if (append && nextCursor) params.set('cursor', nextCursor);
    form.setAttribute('aria-busy', 'true');
    moreBtn.disabled = true;
    statusEl.textContent = 'Recherche… / Searching…';
    showError(null);
    try {
      const qs = params.toString();
      const response = await fetch(qs ? `${API}?${qs}` : API, {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
        signal: controller.signal,
      });
      if (!response.ok) {
        showError(await problemFrom(response));
        statusEl.textContent = '';
        if (!append) { results.replaceChildren(); moreBtn.hidden = true; }
        return;
      }
      const page = await response.json();
      const items = page && Array.isArray(page.items) ? page.items : [];
      if (!append) { results.replaceChildren(); shown = 0; }
      const fragment = document.createDocumentFragment();
      for (const item of items) { fragment.append(card(item)); shown += 1; }
      results.append(fragment);
      nextCursor = page && typeof page.next_cursor === 'string' && page.next_cursor ? page.next_cursor : null;
      moreBtn.hidden = !nextCursor;
      statusEl.textContent = shown === 0
        ? 'Aucune expérience ne correspond. / No experience matches.'
        : `${shown} expérience${shown > 1 ? 's' : ''} affichée${shown > 1 ? 's' : ''} / ${shown} shown`
          + (nextCursor ? ' — il y en a d\'autres / more available' : '');
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      statusEl.textContent = '';
      showError({
        title: 'Serveur injoignable / Cannot reach the server',
        detail: 'Vérifiez votre connexion puis réessayez. / Check your connection and try again.',
      });
    } finally {
      if (inFlight === controller) {
        inFlight = null;
        form.removeAttribute('aria-busy');
        moreBtn.disabled = false;
      }
    }
  }

  function search() {
    const { params, error } = readForm();
    if (error) {
      showError(error);
      const f = form.elements.namedItem(error.field);
      if (f && f.focus) f.focus();
      return;
    }
    lastQuery = params;
    nextCursor = null;
    const qs = params.toString();
    try {
      window.history.replaceState(null, '', qs ? `?${qs}` : window.location.pathname);
    } catch (_) { /* history unavailable: not important */ }
    run(false);
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); search(); });
  form.addEventListener('reset', () => { window.setTimeout(search, 0); });
  for (const name of ['category', 'occasion', 'season', 'currency', 'sort']) {
    const f = form.elements.namedItem(name);
    if (f) f.addEventListener('change', search);
  }
  moreBtn.addEventListener('click', () => { if (nextCursor) run(true); });

  fillFormFromUrl();
  search();
})();
