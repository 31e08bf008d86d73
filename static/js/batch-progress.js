// Batch page: polls the batch's progress until it has finished and redraws the counts, the file
// table and the page tiles. Reads the progress URL from #files[data-progress-url] and the status
// labels from the JSON block #status-labels.
(function () {
  const table = document.getElementById('files');
  if (!table) return;
  const labels = JSON.parse(document.getElementById('status-labels').textContent);
  const progressUrl = table.dataset.progressUrl;
  const finished = ['done', 'failed', 'partial'];
  function esc(s) { const d = document.createElement('div'); d.textContent = s || ''; return d.innerHTML; }
  async function tick() {
    const r = await fetch(progressUrl, {headers: {'Accept': 'application/json'}});
    if (!r.ok) return setTimeout(tick, 3000);
    const b = await r.json();
    const bar = document.getElementById('batch-bar');
    bar.max = b.counts.pages_total || 1; bar.value = b.counts.pages_done + b.counts.pages_failed;
    document.getElementById('n-done').textContent = b.counts.pages_done;
    document.getElementById('n-total').textContent = b.counts.pages_total;
    document.getElementById('n-failed').textContent = b.counts.pages_failed;
    const st = document.getElementById('batch-status'); st.className = 'status status-' + b.status; st.textContent = labels[b.status];
    const tiles = b.tiles || {};
    const tile = p => `<figure class="tile" data-page="${p.id}" title="${esc(p.error)}"><a href="/pages/${p.id}">` +
      (p.status === 'done' ? `<img loading="lazy" src="/pages/${p.id}/thumbnail" alt="${p.number}">` : `<div class="placeholder"><span class="status status-${p.status}">${labels[p.status]}</span></div>`) +
      `</a><figcaption>${p.number}${p.status === 'failed' ? ' <span class="error">✕</span>' : ''}</figcaption></figure>`;
    const rows = b.files.map(f => `<tr data-file="${f.id}"><td class="nowrap">${esc(f.name)}</td><td class="nowrap"><span class="status status-${f.status}">${labels[f.status]}</span></td><td class="nowrap">${f.pages_done}/${f.pages_total}</td><td><span class="error">${esc(f.error)}</span>${f.warning ? `<span class="warning">${esc(f.warning)}</span>` : ''}</td><td class="nowrap">${f.document_ids.map(d => `<a href="/documents/${d}">#${d}</a>`).join(' ')}</td></tr>` +
      ((tiles[f.id] || []).length ? `<tr class="tiles"><td colspan="5"><div class="thumbs small">${tiles[f.id].map(tile).join('')}</div></td></tr>` : ''));
    table.querySelector('tbody').innerHTML = rows.join('');
    if (!finished.includes(b.status)) setTimeout(tick, 1000);
  }
  tick();
})();
