// The partner portal's photos (`/portal`): the venue's profile and each experience have a
// list of photos, uploaded from files (JPEG, PNG or WebP, 5 MB at most, 10 per list) and
// served by Fimy itself; each shows as a thumbnail named after the venue or experience,
// with a button to move it first and one to remove it. The server checks everything again
// (who may, what the bytes are); this field says why in words when it refuses.
import { el, t, addStrings, csrfToken, ApiProblem, api, problemText } from '/fimy.js';

addStrings({
  fr: {
    ph_legend: 'Photos',
    ph_add: 'Ajouter des photos',
    ph_hint: 'Fichiers JPEG, PNG ou WebP de 5 Mo au plus ; 10 photos au plus. La première est celle du catalogue.',
    ph_none: 'Pas encore de photo.',
    ph_photo: 'photo',
    ph_remove: 'Retirer',
    ph_first: 'Mettre en premier',
    ph_external: 'Photo donnée par son adresse, pas envoyée : Fimy ne l’affiche pas, envoyez plutôt le fichier.',
    ph_sending: 'Envoi de « ',
    ph_sending_end: ' »…',
    ph_added: 'Photo ajoutée.',
    ph_removed: 'Photo retirée.',
    ph_moved: 'Photo mise en premier.',
    ph_too_big: ' » est trop lourd : 5 Mo au plus par photo.',
    ph_not_image: ' » n’est pas une image JPEG, PNG ou WebP.',
    ph_too_many: 'Il y a déjà 10 photos : retirez-en une d’abord.',
    ph_file: 'Le fichier « ',
    ph_save_first: 'Enregistrez d’abord l’expérience, puis modifiez-la pour ajouter ses photos.',
    ph_owner_only: 'Seul·e le ou la propriétaire change les photos du profil.',
  },
  en: {
    ph_legend: 'Photos',
    ph_add: 'Add photos',
    ph_hint: 'JPEG, PNG or WebP files of 5 MB at most; 10 photos at most. The first one is the catalogue’s.',
    ph_none: 'No photo yet.',
    ph_photo: 'photo',
    ph_remove: 'Remove',
    ph_first: 'Move to first',
    ph_external: 'A photo given by its address, not uploaded: Fimy does not show it, upload the file instead.',
    ph_sending: 'Sending “',
    ph_sending_end: '”…',
    ph_added: 'Photo added.',
    ph_removed: 'Photo removed.',
    ph_moved: 'Photo moved to first.',
    ph_too_big: '” is too big: 5 MB at most per photo.',
    ph_not_image: '” is not a JPEG, PNG or WebP image.',
    ph_too_many: 'There are 10 photos already: remove one first.',
    ph_file: 'The file “',
    ph_save_first: 'Save the experience first, then edit it to add its photos.',
    ph_owner_only: 'Only the owner changes the profile’s photos.',
  },
});

/** What the server takes: its types, its size, its count (`src/http/photos.rs`). */
const TYPES = ['image/jpeg', 'image/png', 'image/webp'];
const MAX_BYTES = 5 * 1024 * 1024;
const MAX_PHOTOS = 10;
const UPLOADED = '/api/v1/photos/';

/** A refusal of one file in words, from the API's code. */
function refusal(e, name) {
  if (e.code === 'payload_too_large') return t('ph_file') + name + t('ph_too_big');
  if (e.code === 'photo_type_not_allowed' || e.code === 'photo_content_mismatch') return t('ph_file') + name + t('ph_not_image');
  if (e.code === 'too_many_photos') return t('ph_too_many');
  return problemText(e);
}

/** Sends one file as the raw body with its type; resolves with the API's photo. */
async function send(path, file) {
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method: 'POST', credentials: 'same-origin', body: file,
      headers: { accept: 'application/json', 'content-type': file.type || 'application/octet-stream', 'x-csrf-token': csrfToken() },
    });
  } catch {
    throw new ApiProblem(0, { code: 'network', detail: t('offline_error') });
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) throw new ApiProblem(res.status, data || {});
  return data;
}

/**
 * The photos of one list: `upload` is the API path photos are posted to (and removed
 * under), `patch` the path whose `photos` a new order is sent to, `name()` what the
 * photos show (their alt text), `photos` the list as the API answered it. `onChange(list)`
 * runs with the new list after each change. Without `upload` (a new experience, or staff
 * on the profile) the field only says why.
 */
export function photoField({ id, upload, patch, name, photos, onChange, note, disabled = false }) {
  let list = Array.isArray(photos) ? photos.filter((p) => typeof p === 'string') : [];
  const status = el('p', { id: `${id}-status`, role: 'status', 'aria-live': 'polite' });
  const say = (text, kind = 'info') => { status.textContent = text; status.dataset.kind = kind; };
  const thumbs = el('ul', { class: 'photo-thumbs', id: `${id}-list` });
  const box = el('fieldset', { class: 'plain photo-field', id, 'data-field': 'photos', tabindex: '-1' },
    el('legend', { text: t('ph_legend') }), thumbs);

  const changed = (next) => { list = next; render(); onChange?.(list); };
  const alt = (i) => `${name()} — ${t('ph_photo')} ${i + 1}`;
  const render = () => {
    thumbs.replaceChildren(...(list.length ? list.map((url, i) => {
      const label = alt(i);
      const li = el('li', { 'data-photo': url });
      // Only uploaded photos are loaded: an address typed before may name another host
      // (which the CSP refuses) or nothing at all.
      if (url.startsWith(UPLOADED)) {
        li.append(el('img', { src: url, alt: label, loading: 'lazy', decoding: 'async', width: 160, height: 120 }));
      } else {
        li.append(el('p', { class: 'photo-external' }, el('span', { class: 'muted', text: t('ph_external') }), ' ', el('span', { text: url })));
      }
      if (upload && !disabled) {
        const actions = el('div', { class: 'form-actions' });
        if (i > 0) {
          actions.append(el('button', {
            type: 'button', class: 'secondary', text: t('ph_first'), 'aria-label': `${t('ph_first')} : ${label}`,
            onclick: () => moveFirst(url),
          }));
        }
        actions.append(el('button', {
          type: 'button', class: 'secondary', 'data-action': 'remove-photo', text: t('ph_remove'),
          'aria-label': `${t('ph_remove')} : ${label}`, onclick: () => remove(url, i),
        }));
        li.append(actions);
      }
      return li;
    }) : [el('li', { class: 'muted', text: t('ph_none') })]));
  };

  const moveFirst = async (url) => {
    try {
      const answer = await api('PATCH', patch, { photos: [url, ...list.filter((u) => u !== url)] });
      changed(answer.photos);
      say(t('ph_moved'), 'done');
      thumbs.querySelector('li button')?.focus();
    } catch (e) {
      say(problemText(e), 'error');
    }
  };
  const remove = async (url, i) => {
    try {
      if (url.startsWith(UPLOADED)) {
        await api('DELETE', `${upload}/${url.slice(UPLOADED.length)}`);
        changed(list.filter((u) => u !== url));
      } else {
        changed((await api('PATCH', patch, { photos: list.filter((u) => u !== url) })).photos);
      }
      say(t('ph_removed'), 'done');
      (thumbs.querySelectorAll('li')[Math.min(i, list.length - 1)]?.querySelector('button') || input || box).focus();
    } catch (e) {
      say(problemText(e), 'error');
    }
  };

  let input = null;
  if (upload && !disabled) {
    input = el('input', { type: 'file', id: `${id}-file`, accept: 'image/*', multiple: true, 'aria-describedby': `${id}-hint` });
    input.addEventListener('change', async () => {
      const files = [...input.files];
      input.value = '';
      for (const file of files) {
        if (!TYPES.includes(file.type)) { say(t('ph_file') + file.name + t('ph_not_image'), 'error'); continue; }
        if (file.size > MAX_BYTES) { say(t('ph_file') + file.name + t('ph_too_big'), 'error'); continue; }
        if (list.length >= MAX_PHOTOS) { say(t('ph_too_many'), 'error'); break; }
        say(t('ph_sending') + file.name + t('ph_sending_end'));
        try {
          const photo = await send(upload, file);
          changed(photo.photos);
          say(t('ph_added'), 'done');
        } catch (e) {
          say(refusal(e, file.name), 'error');
        }
      }
    });
    box.append(el('div', { class: 'field' },
      el('label', { for: input.id, text: t('ph_add') }), input,
      el('p', { class: 'muted', id: `${id}-hint`, text: t('ph_hint') })));
  } else if (note) {
    box.append(el('p', { class: 'muted', text: t(note) }));
  }
  box.append(status);
  render();
  return { node: box, value: () => list };
}
