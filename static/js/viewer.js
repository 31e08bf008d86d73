// Page viewer: zoom (buttons, +/- keys, Ctrl+wheel), pan (drag), a rotation of the view only (the
// page's saved rotation, a page operation, is #viewer[data-stored-rotation] and is shown as the
// starting point), fit width / height, previous / next page (←/→) and hit (p/n, ↑/↓ buttons).
// A box is drawn over each word of the page that matches a search term; the boxes are an SVG inside
// the same transformed element as the image, so zoom and rotation move them with the scan. Past the
// page's last (before its first) hit, the hit buttons open the document's next (previous) matching
// page, #next-hit-page / #prev-hit-page. The text panel marks the lines holding a hit.
// Terms come from the JSON block #page-highlights ({given, query}); the words from the words URL.
(function () {
  const viewer = document.getElementById('viewer');
  const viewport = document.getElementById('viewport');
  const stage = document.getElementById('stage');
  const img = document.getElementById('page-image');
  if (!viewer || !viewport || !img) return;
  const storedRotation = Number(viewer.dataset.storedRotation || 0);
  const MIN = 0.1, MAX = 8, STEP = 1.25;
  const state = {scale: 1, rotation: 0, fit: 'width'};
  const size = () => ({w: img.naturalWidth || 1, h: img.naturalHeight || 1});
  const turned = () => (storedRotation + state.rotation) % 360;

  function layout(anchor) {
    const {w, h} = size(), rot = turned(), s = state.scale;
    const quarter = rot % 180 !== 0;
    const before = anchor && {x: (viewport.scrollLeft + anchor.x) / stage.offsetWidth, y: (viewport.scrollTop + anchor.y) / stage.offsetHeight};
    stage.style.width = `${(quarter ? h : w) * s}px`;
    stage.style.height = `${(quarter ? w : h) * s}px`;
    viewer.style.width = `${w * s}px`;
    viewer.style.height = `${h * s}px`;
    // rotate about the top-left corner, then move the turned page back into the stage
    const shift = {0: [0, 0], 90: [h * s, 0], 180: [w * s, h * s], 270: [0, w * s]}[rot];
    viewer.style.transform = rot ? `translate(${shift[0]}px, ${shift[1]}px) rotate(${rot}deg)` : '';
    document.getElementById('zoom-level').textContent = `${Math.round(s * 100)}%`;
    viewport.classList.toggle('pannable', viewport.scrollWidth > viewport.clientWidth || viewport.scrollHeight > viewport.clientHeight);
    if (before) {
      viewport.scrollLeft = before.x * stage.offsetWidth - anchor.x;
      viewport.scrollTop = before.y * stage.offsetHeight - anchor.y;
    }
  }
  function fit(mode) {
    const {w, h} = size(), quarter = turned() % 180 !== 0;
    const width = quarter ? h : w, height = quarter ? w : h;
    state.fit = mode;
    state.scale = mode === 'height' ? viewport.clientHeight / height : (viewport.clientWidth - 1) / width;
    layout();
  }
  function zoom(factor, anchor) {
    state.fit = null;
    state.scale = Math.min(MAX, Math.max(MIN, state.scale * factor));
    layout(anchor || {x: viewport.clientWidth / 2, y: viewport.clientHeight / 2});
  }
  function rotate() {
    state.rotation = (state.rotation + 90) % 360;
    if (state.fit) fit(state.fit); else layout();
  }
  // An image that cannot be read stays in the page's flow, its alt text showing, with nothing to lay out.
  const ready = new Promise(resolve => {
    if (img.complete && img.naturalWidth) resolve();
    else { img.addEventListener('load', resolve, {once: true}); img.addEventListener('error', () => viewer.classList.add('unloaded'), {once: true}); }
  });
  ready.then(() => { fit('width'); viewer.classList.add('laid-out'); });
  window.addEventListener('resize', () => { if (state.fit) fit(state.fit); });

  document.getElementById('zoom-in').addEventListener('click', () => zoom(STEP));
  document.getElementById('zoom-out').addEventListener('click', () => zoom(1 / STEP));
  document.getElementById('fit-width').addEventListener('click', () => fit('width'));
  document.getElementById('fit-height').addEventListener('click', () => fit('height'));
  document.getElementById('rotate-view').addEventListener('click', rotate);
  viewport.addEventListener('wheel', e => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    const r = viewport.getBoundingClientRect();
    zoom(e.deltaY < 0 ? STEP : 1 / STEP, {x: e.clientX - r.left, y: e.clientY - r.top});
  }, {passive: false});
  let drag = null;
  viewport.addEventListener('pointerdown', e => {
    if (e.button !== 0) return;
    drag = {x: e.clientX, y: e.clientY, left: viewport.scrollLeft, top: viewport.scrollTop};
    viewport.setPointerCapture(e.pointerId); viewport.classList.add('dragging');
  });
  viewport.addEventListener('pointermove', e => {
    if (!drag) return;
    viewport.scrollLeft = drag.left - (e.clientX - drag.x);
    viewport.scrollTop = drag.top - (e.clientY - drag.y);
  });
  const stop = () => { drag = null; viewport.classList.remove('dragging'); };
  viewport.addEventListener('pointerup', stop);
  viewport.addEventListener('pointercancel', stop);

  // Hits. Words and terms are compared as NFKC, lower case, letters and digits only: OCR spacing,
  // full-width forms and identifier separators (GD-2019 / gd/2019) do not break a match.
  const fold = s => s.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  const block = document.getElementById('page-highlights');
  const {given, query} = block ? JSON.parse(block.textContent) : {given: [], query: ''};
  const fromQuery = (query || '').replace(/["()]/g, ' ').split(/\s+/).filter(w => w && !/^(AND|OR|NOT)$/.test(w) && !w.startsWith('-') && !w.includes(':') && !w.includes('..'));
  const terms = [...new Set((given.length ? given : fromQuery).map(fold).filter(Boolean))];
  const lines = Array.from(document.querySelectorAll('#page-text .line'));
  let hits = [], cur = -1;

  // The line of each occurrence of `term` in the page text, in reading order (the words' order).
  function linesOf(term) {
    const out = [];
    lines.forEach((line, i) => { const f = fold(line.textContent); let at = f.indexOf(term); while (at >= 0) { out.push(i); at = f.indexOf(term, at + term.length); } });
    return out;
  }
  function show(i) {
    cur = i;
    hits.forEach((h, k) => { h.rect.classList.toggle('current', k === i); if (h.line) h.line.classList.toggle('current', k === i); });
    const h = hits[i], r = h.rect.getBoundingClientRect(), v = viewport.getBoundingClientRect();
    viewport.scrollLeft += (r.left + r.width / 2) - (v.left + v.width / 2);
    viewport.scrollTop += (r.top + r.height / 2) - (v.top + v.height / 2);
    if (h.line) h.line.scrollIntoView({block: 'nearest'});
  }
  function step(d) {
    const beyond = cur + d >= hits.length ? document.getElementById('next-hit-page')
      : (cur + d < 0 ? document.getElementById('prev-hit-page') : null);
    if (beyond) { window.location.href = beyond.href; return; }
    if (hits.length) show((cur + d + hits.length) % hits.length);
  }
  async function loadHits() {
    const data = await (await fetch(viewer.dataset.wordsUrl)).json();
    // Join the words into one string, remembering which word each character came from, then find the terms.
    let joined = '';
    const owner = [];
    data.words.forEach((w, i) => { const s = fold(w.text); joined += s; for (const _ of s) owner.push(i); });
    const svg = document.getElementById('boxes');
    svg.setAttribute('viewBox', `0 0 ${data.width} ${data.height}`); svg.setAttribute('preserveAspectRatio', 'none');
    for (const term of terms) {
      const len = [...term].length, where = linesOf(term);
      let at = joined.indexOf(term), k = 0;
      while (at >= 0) {
        const start = [...joined.slice(0, at)].length;
        const bs = [...new Set(owner.slice(start, start + len))].map(i => data.words[i].box);
        const x0 = Math.min(...bs.map(b => b[0])), y0 = Math.min(...bs.map(b => b[1])), x1 = Math.max(...bs.map(b => b[2])), y1 = Math.max(...bs.map(b => b[3]));
        const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
        rect.setAttribute('x', x0 - 4); rect.setAttribute('y', y0 - 4); rect.setAttribute('width', x1 - x0 + 8); rect.setAttribute('height', y1 - y0 + 8);
        rect.setAttribute('stroke-width', Math.max(2, data.width / 600));
        rect.classList.add('hit-box'); svg.appendChild(rect);
        const line = lines[where[k] ?? where[0]];
        if (line) line.classList.add('hit-line');
        hits.push({rect, line, top: y0});
        at = joined.indexOf(term, at + term.length); k += 1;
      }
    }
    hits.sort((a, b) => a.top - b.top);
    if (!hits.length) return;
    ['prev-hit', 'next-hit'].forEach((id, k) => { const b = document.getElementById(id); b.hidden = false; b.addEventListener('click', () => step(k ? 1 : -1)); });
    await ready;
    show(0);
  }
  if (terms.length) loadHits();

  const follow = id => { const a = document.getElementById(id); if (a) window.location.href = a.href; };
  document.addEventListener('keydown', e => {
    const t = e.target;
    if (e.ctrlKey || e.altKey || e.metaKey || t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) return;
    const act = {'+': () => zoom(STEP), '=': () => zoom(STEP), '-': () => zoom(1 / STEP), w: () => fit('width'), h: () => fit('height'),
      r: rotate, ArrowLeft: () => follow('prev-page'), ArrowRight: () => follow('next-page'),
      n: () => (hits.length ? step(1) : follow('next-hit-page')), p: () => (hits.length ? step(-1) : follow('prev-hit-page'))}[e.key];
    if (act) { e.preventDefault(); act(); }
  });
})();
