// The gift card as its recipient sees it, and what the donor attaches to it. Shared by the
// donor's form (`/wallet`: the theme picker, the live preview, photos / videos and a voice
// message recorded in the browser, uploaded once the card exists) and the recipient's
// reveal (`/gift`). The markup and classes are those of the server-rendered reveal
// (`src/http/pages.rs`), so `/app.css` draws all three alike. Uploads follow
// `src/http/attachments.rs`: the raw file as the body with its `Content-Type`, the card's
// purchaser only, until the recipient opens the card, five at most.
import { el, t, addStrings, csrfToken, lang } from '/fimy.js';

addStrings({
  fr: {
    g_theme: 'Thème',
    g_theme_legend: 'Thème de la carte',
    theme_classic: 'Classique',
    theme_birthday: 'Anniversaire',
    theme_love: 'Amour',
    theme_thank_you: 'Merci',
    theme_christmas: 'Noël',
    theme_celebration: 'Fête',
    theme_zen: 'Zen',
    theme_adventure: 'Aventure',
    g_preview_title: 'Aperçu : la carte telle que la verra son destinataire',
    g_for: 'Pour ',
    g_your_gift: 'Votre cadeau',
    g_for_party: 'Pour',
    g_people: (n) => `${n} personne(s)`,
    g_value: 'Valeur',
    g_at: ' chez ',
    g_attached: 'Joint au cadeau',
    g_photo: 'Photo ',
    g_video: 'Vidéo ',
    g_voice: 'Message vocal ',
    g_attach_legend: 'Photos, vidéos, message vocal (facultatif)',
    g_attach_hint: 'Jusqu’à 5 pièces jointes : photos JPEG, PNG ou WebP (5 Mo chacune), vidéos MP4 ou WebM (50 Mo), message vocal (10 Mo). Elles sont envoyées juste après le paiement ; le destinataire les voit en ouvrant le cadeau.',
    g_files: 'Ajouter des photos ou des vidéos',
    g_remove: 'Retirer',
    g_remove_label: 'Retirer : ',
    g_added: 'Ajouté : ',
    g_removed: 'Retiré : ',
    g_bad_type: '« {name} » n’est pas accepté : choisissez une photo JPEG, PNG ou WebP, ou une vidéo MP4 ou WebM.',
    g_bad_size: '« {name} » est trop lourd : {limit} au plus pour ce type de fichier.',
    g_full: '5 pièces jointes au plus : « {name} » n’a pas été ajouté.',
    g_unreadable: '« {name} » ne peut pas être lu comme une image (fichier abîmé ou renommé ?).',
    g_record: 'Enregistrer un message vocal',
    g_record_again: 'Enregistrer à nouveau',
    g_stop: 'Arrêter l’enregistrement',
    g_recording: 'Enregistrement en cours… Parlez, puis appuyez sur « Arrêter l’enregistrement ».',
    g_recorded: 'Message vocal enregistré ({d}). Écoutez-le ci-dessous avant d’offrir.',
    g_replay: 'Réécouter votre message vocal',
    g_voice_remove: 'Supprimer le message vocal',
    g_voice_removed: 'Message vocal supprimé.',
    g_voice_name: 'Message vocal ({d})',
    g_mic_refused: 'Le micro n’est pas accessible : autorisez-le pour ce site dans le navigateur, ou offrez le cadeau sans message vocal.',
    g_mic_missing: 'Aucun micro n’a été trouvé sur cet appareil.',
    g_voice_empty: 'L’enregistrement est vide. Réessayez.',
    g_voice_limit: 'L’enregistrement s’est arrêté à 3 minutes, la durée la plus longue.',
    g_sending: 'Envoi de « {name} »… {p} %',
    g_sent_one: 'Envoyé',
    g_all_sent: 'Pièces jointes envoyées ({n}) : elles accompagnent le cadeau.',
    g_some_failed: 'Certaines pièces jointes n’ont pas pu être envoyées (détail ci-dessus). Le cadeau est bien parti.',
    g_retry: 'Réessayer l’envoi',
    g_err_too_large: 'trop lourd pour ce type de fichier.',
    g_err_type: 'ce type de fichier n’est pas accepté.',
    g_err_content: 'le contenu ne correspond pas à son type (fichier abîmé ou renommé ?).',
    g_err_too_many: 'le cadeau a déjà 5 pièces jointes.',
    g_err_opened: 'le destinataire a déjà ouvert le cadeau : on ne peut plus rien y joindre.',
    g_err_network: 'pas de connexion ; réessayez quand le réseau revient.',
    g_err_other: 'refusé par le serveur : ',
    g_progress: 'Envoi de ',
  },
  en: {
    g_theme: 'Theme',
    g_theme_legend: 'Card theme',
    theme_classic: 'Classic',
    theme_birthday: 'Birthday',
    theme_love: 'Love',
    theme_thank_you: 'Thank you',
    theme_christmas: 'Christmas',
    theme_celebration: 'Celebration',
    theme_zen: 'Zen',
    theme_adventure: 'Adventure',
    g_preview_title: 'Preview: the card as its recipient will see it',
    g_for: 'For ',
    g_your_gift: 'Your gift',
    g_for_party: 'For',
    g_people: (n) => `${n} people`,
    g_value: 'Value',
    g_at: ' at ',
    g_attached: 'Attached to the gift',
    g_photo: 'Photo ',
    g_video: 'Video ',
    g_voice: 'Voice message ',
    g_attach_legend: 'Photos, videos, a voice message (optional)',
    g_attach_hint: 'Up to 5 attachments: JPEG, PNG or WebP photos (5 MB each), MP4 or WebM videos (50 MB), a voice message (10 MB). They are sent right after the payment; the recipient sees them on opening the gift.',
    g_files: 'Add photos or videos',
    g_remove: 'Remove',
    g_remove_label: 'Remove: ',
    g_added: 'Added: ',
    g_removed: 'Removed: ',
    g_bad_type: '“{name}” is not accepted: pick a JPEG, PNG or WebP photo, or an MP4 or WebM video.',
    g_bad_size: '“{name}” is too large: at most {limit} for this kind of file.',
    g_full: 'At most 5 attachments: “{name}” was not added.',
    g_unreadable: '“{name}” cannot be read as an image (a damaged or renamed file?).',
    g_record: 'Record a voice message',
    g_record_again: 'Record again',
    g_stop: 'Stop recording',
    g_recording: 'Recording… Speak, then press “Stop recording”.',
    g_recorded: 'Voice message recorded ({d}). Listen to it below before you give.',
    g_replay: 'Listen to your voice message again',
    g_voice_remove: 'Delete the voice message',
    g_voice_removed: 'Voice message deleted.',
    g_voice_name: 'Voice message ({d})',
    g_mic_refused: 'The microphone is not available: allow it for this site in the browser, or give the gift without a voice message.',
    g_mic_missing: 'No microphone was found on this device.',
    g_voice_empty: 'The recording is empty. Please try again.',
    g_voice_limit: 'The recording stopped at 3 minutes, the longest it can be.',
    g_sending: 'Sending “{name}”… {p} %',
    g_sent_one: 'Sent',
    g_all_sent: 'Attachments sent ({n}): they come with the gift.',
    g_some_failed: 'Some attachments could not be sent (see above). The gift itself is on its way.',
    g_retry: 'Try sending again',
    g_err_too_large: 'too large for this kind of file.',
    g_err_type: 'this kind of file is not accepted.',
    g_err_content: 'its content does not match its type (a damaged or renamed file?).',
    g_err_too_many: 'the gift already has 5 attachments.',
    g_err_opened: 'the recipient has already opened the gift: nothing more can be attached.',
    g_err_network: 'no connection; try again when the network is back.',
    g_err_other: 'refused by the server: ',
    g_progress: 'Sending ',
  },
});

/** The card designs the API takes (`THEMES` in `src/http/cards.rs`). */
export const THEMES = ['classic', 'birthday', 'love', 'thank_you', 'christmas', 'celebration', 'zen', 'adventure'];

const MB = 1024 * 1024;
/** What the API takes, by type: the kind and the largest file (`src/http/attachments.rs`). */
const TYPES = {
  'image/jpeg': ['photo', 5 * MB], 'image/png': ['photo', 5 * MB], 'image/webp': ['photo', 5 * MB],
  'video/mp4': ['video', 50 * MB], 'video/webm': ['video', 50 * MB],
  'audio/mpeg': ['voice', 10 * MB], 'audio/ogg': ['voice', 10 * MB], 'audio/webm': ['voice', 10 * MB],
  'audio/mp4': ['voice', 10 * MB],
};
const MAX_ATTACHMENTS = 5;
const MAX_RECORDING_MS = 3 * 60_000;

const essence = (type) => (type || '').split(';')[0].trim().toLowerCase();
const str = (key, ...args) => { const v = t(key); return typeof v === 'function' ? v(...args) : v; };
const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? '');
const duration = (ms) => { const s = Math.round(ms / 1000); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`; };
const size = (bytes) => (bytes < MB
  ? Math.max(1, Math.round(bytes / 1024)) + (lang === 'fr' ? ' ko' : ' KB')
  : new Intl.NumberFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', { maximumFractionDigits: 1 })
    .format(bytes / MB) + (lang === 'fr' ? ' Mo' : ' MB'));

/** "Photo 1", "Vidéo 2", "Message vocal 3": the same captions as the server's reveal. */
function caption(kind, n) {
  return t({ photo: 'g_photo', video: 'g_video' }[kind] || 'g_voice') + n;
}

/** A list of attachments (`{ kind, url }`) as images, players and their captions. */
export function attachmentFigures(items, { link = false } = {}) {
  return el('ul', { class: 'attachments' }, ...items.map((a, i) => {
    const label = caption(a.kind, i + 1);
    const media = a.kind === 'photo' ? el('img', { src: a.url, alt: label })
      : a.kind === 'video' ? el('video', { controls: true, preload: 'metadata', src: a.url, 'aria-label': label })
        : el('audio', { controls: true, preload: 'metadata', src: a.url, 'aria-label': label });
    return el('li', { 'data-kind': a.kind }, el('figure', {}, media,
      el('figcaption', {}, link ? el('a', { href: a.url, text: label }) : label)));
  }));
}

/**
 * The card: its theme, for whom, the message, what it is (`facts`: [term, description]
 * pairs) and the attachments. `heading` is the level of "For …" (2 on the reveal, 3 in the
 * form's preview).
 */
export function giftCard({ theme, recipientName, message, facts = [], attachments = [], heading = 2, className = '', id, link = false }) {
  const name = THEMES.includes(theme) ? theme : 'classic';
  const headingId = id ? `${id}-title` : undefined;
  return el('section', { class: `gift-card ${className}`.trim(), id, 'data-theme': name, 'aria-labelledby': headingId },
    el('p', { class: 'gift-theme', 'data-role': 'theme', text: `${t('g_theme')} ${t('theme_' + name)}` }),
    el(`h${heading}`, { id: headingId, text: t('g_for') + (recipientName || '…') }),
    message && message.trim() ? el('blockquote', { class: 'gift-message' }, el('p', { text: message })) : null,
    facts.length ? el('dl', { class: 'card-facts' }, ...facts.flatMap(([term, value]) => [
      el('dt', { text: term }), el('dd', {}, value)])) : null,
    attachments.length ? el('h' + (heading + 1), { text: t('g_attached') }) : null,
    attachments.length ? attachmentFigures(attachments, { link }) : null);
}

/** The facts of an experience card or a value card, as the reveal lists them. */
export function cardFacts({ experience, venue, party, value }) {
  if (value !== undefined) return [[t('g_value'), value]];
  return [[t('g_your_gift'), venue ? experience + t('g_at') + venue : experience],
    [t('g_for_party'), str('g_people', party || 1)]];
}

/** The theme picker: one radio per design, each with its colour; `onChange` on a pick. */
export function themePicker(onChange, initial = 'classic') {
  const node = el('fieldset', { class: 'themes', id: 'buy-theme' }, el('legend', { text: t('g_theme_legend') }),
    ...THEMES.map((name) => el('label', { class: 'choice theme-choice', for: `buy-theme-${name}` },
      el('input', { type: 'radio', id: `buy-theme-${name}`, name: 'buy-theme', value: name, checked: name === initial }),
      el('span', { class: 'swatch', 'data-theme': name, 'aria-hidden': 'true' }),
      t('theme_' + name))));
  node.addEventListener('change', () => onChange?.());
  return { node, value: () => node.querySelector('input:checked')?.value || 'classic' };
}

/** A problem+json answer from an upload, in plain words. */
function uploadError(status, problem) {
  if (status === 0) return t('g_err_network');
  const key = {
    payload_too_large: 'g_err_too_large', attachment_type_not_allowed: 'g_err_type',
    attachment_content_mismatch: 'g_err_content', too_many_attachments: 'g_err_too_many',
    card_state_conflict: 'g_err_opened',
  }[problem?.code];
  return key ? t(key) : t('g_err_other') + (problem?.detail || problem?.title || status);
}

/** Sends one file to the card, reporting progress (0–100); resolves with the attachment. */
function send(cardId, item, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/cards/${cardId}/attachments`);
    xhr.setRequestHeader('content-type', item.type);
    xhr.setRequestHeader('accept', 'application/json');
    xhr.setRequestHeader('x-csrf-token', csrfToken());
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) progress(Math.round((e.loaded / e.total) * 100)); });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { /* not JSON */ }
      if (xhr.status === 201) resolve(body);
      else reject(new Error(uploadError(xhr.status, body)));
    });
    xhr.addEventListener('error', () => reject(new Error(uploadError(0))));
    xhr.addEventListener('abort', () => reject(new Error(uploadError(0))));
    xhr.send(item.blob);
  });
}

/**
 * The form's attachments: a file picker, the voice recorder where the browser has
 * `MediaRecorder`, the list of what is attached with a way to remove each, and the upload
 * (`upload(cardId)`) with its progress and outcome in words. `onChange` runs whenever the
 * list changes (the preview shows the same files).
 */
export function attachmentsField(onChange) {
  let items = []; // { id, kind, type, blob, name, size, url, state, progress, error }
  let seq = 0;
  let lastCard = null;
  // What happens to the picks (added, refused, removed), under the picker; how the upload
  // goes, where the donor's eyes are after paying (the form puts `uploadStatus` there).
  const status = el('p', { id: 'buy-attach-status', role: 'status', 'aria-live': 'polite' });
  const uploadStatus = el('p', { id: 'buy-upload-status', role: 'status', 'aria-live': 'polite' });
  const list = el('ul', { id: 'buy-attachment-list', class: 'attachment-picks' });
  const input = el('input', {
    id: 'buy-files', type: 'file', multiple: true, 'aria-describedby': 'buy-attach-hint',
    accept: Object.keys(TYPES).filter((k) => !k.startsWith('audio/')).join(','),
  });
  const changed = () => { render(); onChange?.(); };
  const say = (text, kind = 'info') => { status.textContent = text; status.dataset.kind = kind; };
  const tell = (text, kind = 'info') => { uploadStatus.textContent = text; uploadStatus.dataset.kind = kind; };

  const remove = (item, quiet) => {
    items = items.filter((i) => i !== item);
    URL.revokeObjectURL(item.url);
    if (item.kind === 'voice') recorder?.reset();
    if (!quiet) say(t('g_removed') + item.name);
    changed();
  };
  const add = (item) => {
    items.push({ id: ++seq, state: 'ready', progress: 0, url: URL.createObjectURL(item.blob), ...item });
    changed();
  };

  // A photo the browser cannot draw would show broken to the recipient: refused here.
  const readable = async (file) => {
    if (typeof createImageBitmap !== 'function') return true;
    try { (await createImageBitmap(file)).close(); return true; } catch { return false; }
  };
  input.addEventListener('change', async () => {
    const files = [...input.files];
    input.value = '';
    const problems = [];
    const added = [];
    for (const file of files) {
      const accepted = TYPES[essence(file.type)];
      if (!accepted || accepted[0] === 'voice') { problems.push(fill(t('g_bad_type'), { name: file.name })); continue; }
      if (file.size > accepted[1]) { problems.push(fill(t('g_bad_size'), { name: file.name, limit: size(accepted[1]) })); continue; }
      if (accepted[0] === 'photo' && !(await readable(file))) { problems.push(fill(t('g_unreadable'), { name: file.name })); continue; }
      if (items.length >= MAX_ATTACHMENTS) { problems.push(fill(t('g_full'), { name: file.name })); continue; }
      add({ kind: accepted[0], type: essence(file.type), blob: file, name: file.name, size: file.size });
      added.push(file.name);
    }
    if (problems.length) say(problems.join(' '), 'error');
    else if (added.length) say(t('g_added') + added.join(', '));
  });

  const render = () => {
    list.replaceChildren(...items.map((item) => {
      const sending = item.state === 'sending';
      return el('li', { 'data-kind': item.kind, 'data-state': item.state },
        el('span', { class: 'pick-name', text: `${item.kind === 'voice' ? '' : caption(item.kind, '').trim() + ' — '}${item.name} (${size(item.size)})` }),
        sending ? el('progress', { max: 100, value: item.progress, 'aria-label': t('g_progress') + item.name }) : null,
        sending ? el('span', { class: 'muted', text: ` ${item.progress} %` }) : null,
        item.state === 'sent' ? el('span', { 'data-kind': 'done', text: ' ' + t('g_sent_one') }) : null,
        item.state === 'failed' ? el('span', { 'data-kind': 'error', text: ' — ' + item.error }) : null,
        item.state === 'sent' || sending ? null : el('button', {
          type: 'button', class: 'secondary', text: t('g_remove'), 'aria-label': t('g_remove_label') + item.name,
          onclick: () => { remove(item); input.focus(); },
        }));
    }));
  };

  const recorder = voiceRecorder({
    room: () => items.length < MAX_ATTACHMENTS || items.some((i) => i.kind === 'voice'),
    full: () => say(fill(t('g_full'), { name: t('g_voice').trim() }), 'error'),
    recorded: (blob, type, ms) => {
      for (const old of items.filter((i) => i.kind === 'voice')) remove(old, true);
      add({ kind: 'voice', type, blob, name: fill(t('g_voice_name'), { d: duration(ms) }), size: blob.size });
      return items.find((i) => i.kind === 'voice').url;
    },
    removed: () => { const v = items.find((i) => i.kind === 'voice'); if (v) remove(v, true); },
  });

  /** Sends what is not sent yet to `cardId`, one file at a time. Resolves to true when all went. */
  const upload = async (cardId) => {
    if (lastCard && cardId !== lastCard) {
      // Another gift: what went to the previous one stays there.
      for (const item of items.filter((i) => i.state === 'sent')) remove(item, true);
    }
    lastCard = cardId;
    const todo = items.filter((i) => i.state !== 'sent');
    if (!todo.length) return true;
    say(''); // "Added: …" is old news once they are on their way
    let failed = 0;
    for (const item of todo) {
      item.state = 'sending';
      item.progress = 0;
      tell(fill(t('g_sending'), { name: item.name, p: 0 }));
      render();
      const bar = () => list.querySelector(`li[data-state="sending"] progress`);
      try {
        await send(cardId, item, (p) => {
          item.progress = p;
          tell(fill(t('g_sending'), { name: item.name, p }));
          const b = bar();
          if (b) { b.value = p; b.nextSibling.textContent = ` ${p} %`; }
        });
        item.state = 'sent';
      } catch (e) {
        item.state = 'failed';
        item.error = e.message;
        failed += 1;
      }
      render();
    }
    if (failed) {
      tell(t('g_some_failed'), 'error');
      uploadStatus.append(' ', el('button', { type: 'button', id: 'buy-attach-retry', class: 'secondary', text: t('g_retry'), onclick: () => upload(lastCard) }));
      return false;
    }
    const n = items.length;
    // Sent: the form is ready for another gift, with nothing attached.
    for (const item of items) URL.revokeObjectURL(item.url);
    items = [];
    recorder?.reset();
    say('');
    tell(fill(t('g_all_sent'), { n }), 'done');
    changed();
    return true;
  };

  const node = el('fieldset', { id: 'buy-attachments' }, el('legend', { text: t('g_attach_legend') }),
    el('p', { id: 'buy-attach-hint', class: 'muted small', text: t('g_attach_hint') }),
    el('div', { class: 'field' }, el('label', { for: 'buy-files', text: t('g_files') }), input),
    recorder ? recorder.node : null,
    list, status);
  return {
    node, upload, uploadStatus,
    /** What the preview shows: `{ kind, url }` of each attachment, in order. */
    shown: () => items.map((i) => ({ kind: i.kind, url: i.url })),
    count: () => items.length,
  };
}

/** The voice recorder, or null where the browser cannot record. */
function voiceRecorder({ room, full, recorded, removed }) {
  if (!('MediaRecorder' in window) || !navigator.mediaDevices?.getUserMedia) return null;
  const button = el('button', { type: 'button', id: 'voice-record', 'aria-describedby': 'voice-status', 'data-state': 'idle' });
  const timer = el('span', { id: 'voice-timer', class: 'muted', 'aria-hidden': 'true' });
  const status = el('p', { id: 'voice-status', role: 'status', 'aria-live': 'polite' });
  const replay = el('div', { id: 'voice-replay', class: 'voice-replay', hidden: true });
  let rec = null;
  let stream = null;
  let started = 0;
  let tick = null;
  let limit = null;
  const setState = (state) => {
    button.dataset.state = state;
    button.textContent = state === 'recording' ? t('g_stop') : state === 'recorded' ? t('g_record_again') : t('g_record');
    button.classList.toggle('recording', state === 'recording');
  };
  const say = (text, kind = 'info') => { status.textContent = text; status.dataset.kind = kind; };
  const stopStream = () => { stream?.getTracks().forEach((tr) => tr.stop()); stream = null; };
  const reset = () => {
    say('');
    replay.replaceChildren();
    replay.hidden = true;
    timer.textContent = '';
    setState('idle');
  };
  const start = async () => {
    if (!room()) { full(); return; }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      say(e?.name === 'NotFoundError' ? t('g_mic_missing') : t('g_mic_refused'), 'error');
      return;
    }
    const type = ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus', 'audio/mp4']
      .find((m) => MediaRecorder.isTypeSupported?.(m));
    rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    const chunks = [];
    rec.addEventListener('dataavailable', (e) => { if (e.data && e.data.size) chunks.push(e.data); });
    rec.addEventListener('stop', () => {
      clearInterval(tick);
      clearTimeout(limit);
      stopStream();
      const ms = Date.now() - started;
      const mime = essence(rec.mimeType || type || 'audio/webm');
      const blob = new Blob(chunks, { type: mime });
      if (!blob.size || !TYPES[mime]) { reset(); say(t('g_voice_empty'), 'error'); return; }
      const url = recorded(blob, mime, ms);
      replay.replaceChildren(
        el('audio', { controls: true, src: url, id: 'voice-audio', 'aria-label': t('g_replay') }),
        el('button', {
          type: 'button', class: 'secondary', id: 'voice-remove', text: t('g_voice_remove'),
          onclick: () => { removed(); reset(); say(t('g_voice_removed')); button.focus(); },
        }));
      replay.hidden = false;
      setState('recorded');
      say(fill(t('g_recorded'), { d: duration(ms) }) + (rec.hitLimit ? ' ' + t('g_voice_limit') : ''), 'done');
    });
    started = Date.now();
    rec.start(250);
    setState('recording');
    say(t('g_recording'));
    timer.textContent = duration(0);
    tick = setInterval(() => { timer.textContent = duration(Date.now() - started); }, 500);
    limit = setTimeout(() => { rec.hitLimit = true; rec.stop(); }, MAX_RECORDING_MS);
  };
  let starting = false; // a second press while the microphone is being asked for
  button.addEventListener('click', async () => {
    if (rec && rec.state === 'recording') { rec.stop(); return; }
    if (starting) return;
    starting = true;
    try { await start(); } finally { starting = false; }
  });
  setState('idle');
  const node = el('div', { class: 'voice', id: 'voice' }, el('div', { class: 'actions' }, button, timer), status, replay);
  return { node, reset };
}
