// Upload page: files picked or dropped are listed, then sent in one request with a progress bar.
// Messages come from the form's data-msg-no-files, data-msg-failed and data-msg-too-large attributes.
(function () {
  const form = document.getElementById('upload-form');
  if (!form) return;
  const input = document.getElementById('files');
  const drop = document.getElementById('drop'), chosen = document.getElementById('chosen');
  const err = document.getElementById('upload-error');
  let picked = [];
  function show() {
    chosen.innerHTML = '';
    picked.forEach(f => { const li = document.createElement('li'); li.textContent = f.name + ' (' + Math.ceil(f.size / 1024) + ' KB)'; chosen.appendChild(li); });
  }
  function fail(message) { err.textContent = message; err.hidden = false; }
  input.addEventListener('change', () => { picked = Array.from(input.files); show(); });
  ['dragenter', 'dragover'].forEach(e => drop.addEventListener(e, ev => { ev.preventDefault(); drop.classList.add('over'); }));
  ['dragleave', 'drop'].forEach(e => drop.addEventListener(e, ev => { ev.preventDefault(); drop.classList.remove('over'); }));
  drop.addEventListener('drop', ev => { picked = picked.concat(Array.from(ev.dataTransfer.files)); show(); });
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    if (!picked.length) { fail(form.dataset.msgNoFiles); return; }
    // The embedded server refuses a request above the limit before docsvc sees it: say so here, in words.
    const total = picked.reduce((sum, f) => sum + f.size, 0);
    if (total > Number(form.dataset.maxBytes)) {
      fail(form.dataset.msgTooLarge.replace('{size}', Math.ceil(total / 1048576))); return;
    }
    const data = new FormData(form); data.delete('files');
    picked.forEach(f => data.append('files', f, f.name));
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action); xhr.setRequestHeader('Accept', 'application/json');
    document.getElementById('upload-progress').hidden = false;
    xhr.upload.addEventListener('progress', e => {
      if (!e.lengthComputable) return;
      const p = Math.round(100 * e.loaded / e.total);
      document.getElementById('bar').value = p; document.getElementById('pct').textContent = p;
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 202) { window.location = JSON.parse(xhr.responseText).url; return; }
      let message = '';
      try { message = JSON.parse(xhr.responseText || '{}').error; } catch (_) { /* not JSON: a proxy's error page */ }
      fail(message || form.dataset.msgFailed);
    });
    xhr.addEventListener('error', () => fail(form.dataset.msgFailed));
    xhr.send(data);
  });
})();
