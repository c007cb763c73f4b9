// Fimy API explorer: loads the OpenAPI 3.1 document from /api/v1/openapi.json and renders
// its operations by tag (parameters, a JSON body skeleton built from the request schema,
// a Send button that calls the API on this origin) and its component schemas. Keeps a
// bearer token in sessionStorage. Never uses innerHTML: data goes in as text nodes only.
'use strict';

(() => {
  const SPEC_URL = '/api/v1/openapi.json';
  const LOGIN_URL = '/api/v1/auth/login';
  const TOKEN_KEY = 'fimy.docs.token';
  const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  const MUTATING = new Set(['post', 'put', 'patch', 'delete']);
  const ACCEPT = 'application/json, application/problem+json;q=0.9, */*;q=0.1';
  const SAMPLE_STRINGS = {
    uuid: '00000000-0000-0000-0000-000000000000', email: 'user@example.com', uri: 'https://example.com/',
    'date-time': new Date().toISOString(), date: new Date().toISOString().slice(0, 10),
  };
  const $ = (id) => document.getElementById(id);
  const obj = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
  const arr = (v) => (Array.isArray(v) ? v : []);
  const str = (v) => (typeof v === 'string' ? v : '');
  let doc = {};

  // Creates an element; `text` becomes textContent, other keys become attributes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = String(v);
      else if (k === 'class') node.className = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  }
  const anchor = (prefix, name) => `${prefix}-${String(name).replace(/[^A-Za-z0-9_-]+/g, '-')}`;
  const code = (text) => el('code', { text });
  const table = (headers, rows) => el('div', { class: 'table-wrap' }, el('table', { class: 'params' },
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, c)))))));

  // Text with `code` spans, split into paragraphs on blank lines.
  function richText(text, cls) {
    const frag = document.createDocumentFragment();
    for (const para of str(text).split(/\n\s*\n/)) {
      if (!para.trim()) continue;
      const p = el('p', { class: cls });
      para.split(/`([^`]+)`/).forEach((part, i) => p.append(i % 2 ? code(part) : part));
      frag.append(p);
    }
    return frag;
  }

  // ---- token, CSRF cookie, idempotency keys ----
  const token = {
    get() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; } },
    set(v, note) {
      try { if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage off */ }
      showTokenState(note);
    },
  };
  function showTokenState(note) {
    const t = token.get();
    $('token').value = t;
    $('auth-status').textContent = (note ? `${note} ` : '') + (t
      ? `Bearer token set (…${t.slice(-4)}); it is sent with every request.`
      : 'No bearer token: requests go without Authorization (a session cookie, if any, still applies).');
  }
  function csrfCookie() { // the readable CSRF cookie set at login, echoed on cookie-authenticated writes
    const m = document.cookie.match(/(?:^|;\s*)fimy_csrf=([^;]*)/);
    try { return m ? decodeURIComponent(m[1]) : ''; } catch { return ''; }
  }
  function newKey() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80; // version 4, RFC 4122 variant
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // ---- schemas ----
  function deref(ref) {
    if (typeof ref !== 'string' || !ref.startsWith('#/')) return undefined;
    let cur = doc;
    for (const raw of ref.slice(2).split('/')) {
      cur = cur && typeof cur === 'object' ? cur[raw.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    }
    return cur;
  }
  const refName = (ref) => str(ref).split('/').pop() || 'unknown';
  function resolve(value) { // follows $ref chains, refusing loops
    let v = obj(value);
    const seen = new Set();
    while (typeof v.$ref === 'string' && !seen.has(v.$ref)) { seen.add(v.$ref); v = obj(deref(v.$ref)); }
    return typeof v.$ref === 'string' ? {} : v;
  }
  const types = (s) => (Array.isArray(s.type) ? s.type : [s.type]).filter((t) => typeof t === 'string');
  const isNull = (s) => types(s).join() === 'null';
  function core(schema) { // the schema itself or, for `T | null`, T
    const s = resolve(schema);
    const alt = (arr(s.oneOf).length ? s.oneOf : arr(s.anyOf)).filter((a) => !isNull(resolve(a)));
    return alt.length === 1 ? resolve(alt[0]) : s;
  }

  // A placeholder value for a schema: its example if any, else one built from its type.
  function skeleton(schema, depth = 0, seen = new Set()) {
    let s = obj(schema);
    if (depth > 8) return null;
    if (typeof s.$ref === 'string') {
      if (seen.has(s.$ref)) return {};
      seen = new Set(seen).add(s.$ref);
      s = resolve(s);
    }
    if ('example' in s) return s.example;
    if (arr(s.examples).length) return s.examples[0];
    if ('default' in s) return s.default;
    if ('const' in s) return s.const;
    if (arr(s.enum).length) return s.enum.find((v) => v !== null) ?? s.enum[0];
    if (arr(s.allOf).length) {
      const parts = s.allOf.map((p) => skeleton(p, depth + 1, seen));
      return parts.every((p) => p && typeof p === 'object' && !Array.isArray(p)) ? Object.assign({}, ...parts) : parts[0];
    }
    const alt = arr(s.oneOf).length ? s.oneOf : arr(s.anyOf);
    if (alt.length) return skeleton(alt.find((a) => !isNull(resolve(a))) || alt[0], depth + 1, seen);
    switch (types(s).find((t) => t !== 'null') || (s.properties ? 'object' : s.items ? 'array' : '')) {
      case 'object': {
        const out = {};
        for (const [k, v] of Object.entries(obj(s.properties))) out[k] = skeleton(v, depth + 1, seen);
        return out;
      }
      case 'array': return s.items ? [skeleton(s.items, depth + 1, seen)] : [];
      case 'integer': case 'number': return typeof s.minimum === 'number' ? s.minimum : 0;
      case 'boolean': return false;
      case 'string': return SAMPLE_STRINGS[s.format] || 'string';
      default: return null;
    }
  }
  // A type as text pieces; {ref} pieces become links to the schema list.
  function typeParts(schema, depth = 0) {
    const s = obj(schema);
    if (depth > 4) return ['…'];
    if (typeof s.$ref === 'string') return [{ ref: refName(s.$ref), known: deref(s.$ref) !== undefined }];
    const join = (list, sep) => list.flatMap((x, i) => (i ? [sep] : []).concat(typeParts(x, depth + 1)));
    const alt = arr(s.oneOf).length ? s.oneOf : arr(s.anyOf);
    if (alt.length) return join(alt, ' | ');
    if (arr(s.allOf).length) return join(s.allOf, ' & ');
    const out = [];
    types(s).forEach((t, i) => {
      if (i) out.push(' | ');
      if (t === 'array') out.push('array of ', ...typeParts(s.items, depth + 1)); else out.push(t);
    });
    if (!out.length) out.push(s.properties ? 'object' : s.items ? 'array' : 'any');
    if (s.format) out.push(` (${s.format})`);
    return out;
  }
  function typeNode(schema) {
    const node = el('code', { class: 'type' });
    for (const p of typeParts(schema)) {
      if (typeof p === 'string') node.append(p);
      else if (p.known) node.append(el('a', { href: `#${anchor('schema', p.ref)}`, text: p.ref }));
      else node.append(el('span', { title: 'Not defined in this document', text: p.ref })); // a dangling $ref
    }
    return node;
  }
  function enumNote(schema) {
    const values = arr(core(schema).enum);
    return values.length ? el('p', { class: 'small muted', text: `One of: ${values.map((v) => JSON.stringify(v)).join(', ')}` }) : null;
  }

  // ---- responses and problems ----
  function problemBox(p, items) {
    const box = el('div', { class: 'problem', role: 'alert' });
    box.append(el('strong', { text: `${str(p.title) || 'Error'}${p.status ? ` (${p.status})` : ''}` }));
    if (str(p.detail)) box.append(el('p', { text: p.detail }));
    if (items) box.append(el('ul', {}, ...items.map((e) => el('li', { text: e }))));
    const dl = el('dl', { class: 'kv' });
    for (const k of ['code', 'field', 'type']) {
      if (p[k] !== undefined && p[k] !== null) dl.append(el('dt', { text: k }), el('dd', {}, code(String(p[k]))));
    }
    if (dl.childElementCount) box.append(dl);
    return box;
  }
  function renderResponse(out, res, text, ms, requestLine) {
    const ct = res.headers.get('content-type') || '';
    out.replaceChildren(el('p', { class: 'resp-line' },
      el('span', { class: `http-status s${String(res.status)[0]}xx`, text: `${res.status} ${res.statusText}`.trim() }),
      ` · ${Math.round(ms)} ms · `, code(requestLine)));
    const dl = el('dl', { class: 'kv' });
    for (const h of ['content-type', 'x-request-id', 'location', 'retry-after', 'idempotent-replayed']) {
      const v = res.headers.get(h);
      if (v || h === 'content-type' || h === 'x-request-id') dl.append(el('dt', { text: h }), el('dd', {}, code(v || '—')));
    }
    out.append(dl);
    let parsed;
    if (/json/i.test(ct) && text) { try { parsed = JSON.parse(text); } catch { /* shown raw */ } }
    const data = obj(parsed);
    if (/problem\+json/i.test(ct) || (!res.ok && (data.title || data.detail))) out.append(problemBox(data));
    const shown = parsed !== undefined ? JSON.stringify(parsed, null, 2) : (text || '(empty body)');
    const clipped = shown.length > 200000 ? `${shown.slice(0, 200000)}\n…(truncated)` : shown;
    out.append(el('pre', { class: 'code', tabindex: '0' }, code(clipped)));
  }

  async function send(op, ui) {
    const errors = [];
    let url = op.path;
    const query = new URLSearchParams();
    const headers = new Headers({ Accept: ACCEPT });
    let body;
    try {
      for (const { p, input } of ui.params) {
        const v = input.value.trim();
        if (!v) { if (p.required) errors.push(`${p.name} (${p.in}) is required.`); continue; }
        if (p.in === 'path') url = url.split(`{${p.name}}`).join(encodeURIComponent(v));
        else if (p.in === 'query') query.append(p.name, v);
        else if (p.in === 'header') headers.set(p.name, v);
      }
      if (ui.body) {
        const text = ui.body.value.trim();
        if (text) {
          try { JSON.parse(text); body = text; headers.set('Content-Type', ui.contentType); }
          catch (e) { errors.push(`The body is not valid JSON: ${e.message}`); }
        } else if (ui.bodyRequired) errors.push('This operation needs a body.');
      }
      const t = token.get();
      if (t) headers.set('Authorization', `Bearer ${t}`);
      if (ui.idem && ui.idem.value.trim()) headers.set('Idempotency-Key', ui.idem.value.trim());
      const csrf = MUTATING.has(op.method) ? csrfCookie() : ''; // for writes authenticated by cookie
      if (csrf) headers.set('X-CSRF-Token', csrf);
    } catch (e) { errors.push(`Bad header value: ${e.message}`); }
    if (/\{[^}]+\}/.test(url)) errors.push('Fill in every path parameter.');
    if (errors.length) { ui.out.replaceChildren(problemBox({ title: 'Not sent' }, errors)); return; }
    const qs = query.toString();
    const full = url + (qs ? `?${qs}` : '');
    ui.send.disabled = true;
    ui.out.replaceChildren(el('p', { class: 'muted', text: 'Sending…' }));
    const started = performance.now();
    try {
      const method = op.method.toUpperCase();
      const res = await fetch(full, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
      const text = await res.text();
      renderResponse(ui.out, res, text, performance.now() - started, `${method} ${full}`);
    } catch (e) {
      ui.out.replaceChildren(problemBox({ title: 'Request failed', detail: str(e && e.message) || String(e) }));
    } finally { ui.send.disabled = false; }
  }

  // ---- operations ----
  function mergedParams(pathItem, operation) { // operation-level parameters override path-level ones
    const byKey = new Map();
    for (const raw of arr(pathItem.parameters).concat(arr(operation.parameters))) {
      const p = resolve(raw);
      if (str(p.name) && str(p.in)) byKey.set(`${p.in}:${p.name}`, p);
    }
    return [...byKey.values()];
  }
  function paramInput(p, id) {
    const s = core(p.schema);
    const values = arr(s.enum).length ? s.enum : types(s).includes('boolean') ? [true, false] : null;
    if (values) {
      const select = el('select', { id }, el('option', { value: '', text: p.required ? '— choose —' : '(not set)' }));
      for (const v of values) select.append(el('option', { value: String(v), text: String(v) }));
      return select;
    }
    const example = p.example ?? s.example;
    const hint = example !== undefined ? String(example)
      : types(s).filter((t) => t !== 'null').join(' | ') + (s.format ? ` (${s.format})` : '');
    return el('input', { id, type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: hint });
  }
  const securityOf = (o) => (Array.isArray(o.security) ? o.security : arr(doc.security));

  function buildOperation(op, body) {
    const o = op.operation;
    body.append(richText(o.description, 'op-description'));
    const schemes = [...new Set(securityOf(o).flatMap((req) => Object.keys(obj(req))))];
    if (schemes.length) body.append(el('p', { class: 'small' }, el('strong', { text: 'Authentication: ' }), schemes.join(' or ')));
    const ui = { params: [], out: el('div', { class: 'response', 'aria-live': 'polite', 'data-testid': 'response' }) };
    const mutating = MUTATING.has(op.method);
    const params = mergedParams(op.pathItem, o)
      .filter((p) => !(mutating && p.in === 'header' && p.name.toLowerCase() === 'idempotency-key'));
    if (params.length) {
      body.append(el('h4', { text: 'Parameters' }), table(['Name', 'In', 'Type', 'Description', 'Value'], params.map((p, i) => {
        const id = `${op.id}-p${i}`;
        const input = paramInput(p, id);
        if (p.in === 'cookie') input.disabled = true; else ui.params.push({ p, input });
        const name = el('label', { for: id }, code(p.name), p.required ? el('span', { class: 'req', title: 'required', text: ' *' }) : null);
        return [name, p.in, typeNode(p.schema), el('div', {}, richText(p.description, 'small'), enumNote(p.schema)), input];
      })));
    }
    if (mutating) {
      const id = `${op.id}-idem`;
      ui.idem = el('input', { id, type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'optional' });
      const fresh = el('button', { type: 'button', class: 'btn btn-secondary btn-small', text: 'New key' });
      fresh.addEventListener('click', () => { ui.idem.value = newKey(); });
      body.append(el('div', { class: 'field' }, el('label', { for: id, text: 'Idempotency-Key' }), el('div', { class: 'row' }, ui.idem, fresh)));
    }
    const rb = resolve(o.requestBody);
    const content = obj(rb.content);
    const kinds = Object.keys(content);
    const ct = kinds.find((k) => k === 'application/json') || kinds.find((k) => /json/i.test(k)) || kinds[0];
    if (ct) {
      const media = obj(content[ct]);
      const id = `${op.id}-body`;
      const initial = () => JSON.stringify(media.example !== undefined ? media.example : skeleton(media.schema), null, 2) || '';
      Object.assign(ui, { contentType: ct, bodyRequired: rb.required === true });
      ui.body = el('textarea', { id, class: 'code', rows: '10', spellcheck: 'false' });
      ui.body.value = initial();
      const reset = el('button', { type: 'button', class: 'btn btn-secondary btn-small', text: 'Reset body' });
      reset.addEventListener('click', () => { ui.body.value = initial(); });
      body.append(el('h4', {}, el('label', { for: id, text: 'Request body ' }), el('span', { class: 'small muted' }, `${ct} · `, typeNode(media.schema))),
        richText(rb.description, 'small'), ui.body, el('p', {}, reset));
    }
    const responses = Object.entries(obj(o.responses));
    if (responses.length) {
      body.append(el('h4', { text: 'Responses' }), el('ul', { class: 'responses' }, ...responses.map(([status, raw]) => {
        const r = resolve(raw);
        const li = el('li', {}, el('span', { class: `http-status s${status[0]}xx`, text: status }), ' ', str(r.description));
        for (const [mt, m] of Object.entries(obj(r.content))) li.append(' ', el('span', { class: 'small muted', text: `${mt} ` }), typeNode(obj(m).schema));
        return li;
      })));
    }
    ui.send = el('button', { type: 'button', class: 'btn', text: 'Send', 'data-testid': 'send' });
    ui.send.addEventListener('click', () => send(op, ui));
    body.append(el('div', { class: 'form-actions' }, ui.send), ui.out);
  }

  function renderOperation(op) {
    const o = op.operation;
    const details = el('details', { class: 'op', id: op.id, 'data-method': op.method, 'data-path': op.path });
    const summary = el('summary', {}, el('span', { class: `method method-${op.method}`, text: op.method.toUpperCase() }),
      el('code', { class: 'op-path', text: op.path }), el('span', { class: 'op-summary', text: str(o.summary) }));
    if (o.deprecated) summary.append(el('span', { class: 'badge badge-warn', text: 'deprecated' }));
    if (securityOf(o).some((r) => Object.keys(obj(r)).length)) summary.append(el('span', { class: 'badge', text: 'auth' }));
    const body = el('div', { class: 'op-body' });
    details.append(summary, body);
    let built = false; // the body is built on first opening
    details.addEventListener('toggle', () => {
      if (!details.open || built) return;
      built = true;
      try { buildOperation(op, body); } catch (e) { body.append(problemBox({ title: 'Could not render this operation', detail: e.message })); }
    });
    return details;
  }

  function renderOperations() {
    const groups = new Map();
    for (const t of arr(doc.tags)) if (str(obj(t).name)) groups.set(t.name, { description: str(t.description), ops: [] });
    for (const [path, rawItem] of Object.entries(obj(doc.paths))) {
      const pathItem = resolve(rawItem);
      for (const method of METHODS.filter((m) => pathItem[m] && typeof pathItem[m] === 'object')) {
        const operation = obj(pathItem[method]);
        const tag = str(arr(operation.tags)[0]) || 'default';
        if (!groups.has(tag)) groups.set(tag, { description: '', ops: [] });
        const id = anchor('op', str(operation.operationId) || `${method}-${path}`);
        groups.get(tag).ops.push({ path, method, operation, pathItem, id });
      }
    }
    const toc = el('ul');
    let count = 0;
    for (const [name, g] of groups) {
      if (!g.ops.length) continue;
      const id = anchor('tag', name);
      toc.append(el('li', {}, el('a', { href: `#${id}`, text: `${name} (${g.ops.length})` })));
      const section = el('section', { class: 'tag-section', id, 'aria-labelledby': `${id}-h` },
        el('h3', { id: `${id}-h`, text: name }), richText(g.description, 'muted'), ...g.ops.map(renderOperation));
      $('op-list').append(section);
      count += g.ops.length;
    }
    $('toc').replaceChildren(toc);
    $('load-status').textContent = count ? `${count} operations.` : 'The document lists no operations.';
  }

  function renderSchemas() {
    const entries = Object.entries(obj(obj(doc.components).schemas));
    if (!entries.length) $('schema-list').append(el('p', { class: 'muted', text: 'No component schemas.' }));
    for (const [name, raw] of entries) {
      const s = obj(raw);
      const section = el('section', { class: 'schema', id: anchor('schema', name) }, el('h3', {}, code(name)), richText(s.description, 'muted'));
      const members = [s, ...arr(s.allOf).map(resolve)];
      const props = Object.assign({}, ...members.map((m) => obj(m.properties)));
      const required = new Set(members.flatMap((m) => arr(m.required)));
      if (Object.keys(props).length) {
        section.append(table(['Property', 'Type', 'Required', 'Description'], Object.entries(props).map(([pname, p]) => {
          const ps = obj(p);
          const example = 'example' in ps ? el('p', { class: 'small muted' }, 'Example: ', code(JSON.stringify(ps.example))) : null;
          return [code(pname), typeNode(ps), required.has(pname) ? 'yes' : 'no', el('div', {}, richText(ps.description, 'small'), enumNote(ps), example)];
        })));
      } else {
        const variants = arr(s.oneOf).length ? s.oneOf : arr(s.anyOf); // e.g. enums with documented values
        if (!variants.length) section.append(el('p', {}, 'Type: ', typeNode(s)), enumNote(s) || '');
        else section.append(el('p', { text: 'One of:' }), el('ul', { class: 'variants' }, ...variants.map((v) => {
          const only = arr(resolve(v).enum);
          return el('li', {}, only.length === 1 ? code(JSON.stringify(only[0])) : typeNode(v), ' ', richText(resolve(v).description, 'small'));
        })));
      }
      $('schema-list').append(section);
    }
  }

  function renderInfo() {
    const info = obj(doc.info);
    const title = str(info.title) || 'API';
    $('api-title').textContent = title;
    document.title = `${title} — interactive documentation`;
    $('api-version').textContent = [info.version && `Version ${info.version}`, doc.openapi && `OpenAPI ${doc.openapi}`]
      .filter(Boolean).join(' · ');
    $('api-description').replaceChildren(richText(info.description));
  }

  // ---- wiring ----
  $('token-form').addEventListener('submit', (e) => { e.preventDefault(); token.set($('token').value.trim()); });
  $('token-clear').addEventListener('click', () => token.set(''));
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const errBox = $('auth-error');
    const button = form.querySelector('button[type="submit"]');
    const fail = (p) => { errBox.replaceChildren(problemBox(p)); errBox.hidden = false; };
    errBox.hidden = true;
    button.disabled = true;
    try {
      const res = await fetch(LOGIN_URL, {
        method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', Accept: ACCEPT },
        body: JSON.stringify({ email: form.elements.email.value.trim(), password: form.elements.password.value }),
      });
      let data = {};
      try { data = obj(await res.json()); } catch { /* no JSON body */ }
      if (res.ok && str(data.token)) {
        form.elements.password.value = '';
        const user = obj(data.user);
        const who = [str(user.display_name), str(user.email) && `<${user.email}>`].filter(Boolean).join(' ');
        token.set(data.token, `Logged in${who ? ` as ${who}` : ''}${str(data.expires_at) && ` until ${data.expires_at}`}.`);
      } else {
        fail(Object.keys(data).length ? data : { title: `HTTP ${res.status}`, detail: res.statusText });
      }
    } catch (err) {
      fail({ title: 'Request failed', detail: str(err && err.message) });
    } finally { button.disabled = false; }
  });
  const setAll = (open) => { for (const d of document.querySelectorAll('details.op')) d.open = open; };
  $('expand-all').addEventListener('click', () => setAll(true));
  $('collapse-all').addEventListener('click', () => setAll(false));
  showTokenState();

  (async () => {
    try {
      const res = await fetch(SPEC_URL, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      doc = obj(await res.json());
    } catch (e) {
      $('load-status').textContent = `Could not load ${SPEC_URL}: ${str(e && e.message) || e}`;
      return;
    }
    for (const [label, render] of [['info', renderInfo], ['operations', renderOperations], ['schemas', renderSchemas]]) {
      try { render(); } catch (e) { $('load-status').append(` Could not render the ${label}: ${e.message}.`); }
    }
  })();
})();
