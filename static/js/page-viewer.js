// Page viewer: draws a box over each word of the page that matches a search term and steps through
// them with the ↑/↓ buttons; past this page's last (or before its first) hit they open the
// document's next (previous) matching page, #next-hit-page / #prev-hit-page, when there is one.
// Terms come from the JSON block #page-highlights ({given, query}); the page's words from
// #viewer[data-words-url].
(async function () {
  const viewer = document.getElementById('viewer');
  const block = document.getElementById('page-highlights');
  if (!viewer || !block) return;
  // Words and terms are compared as NFKC, lower case, letters and digits only: OCR spacing,
  // full-width forms and identifier separators (GD-2019 / gd/2019) do not break a match.
  const fold = s => s.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  const {given, query} = JSON.parse(block.textContent);
  const fromQuery = (query || '').replace(/["()]/g, ' ').split(/\s+/).filter(w => w && !/^(AND|OR|NOT)$/.test(w) && !w.startsWith('-') && !w.includes(':') && !w.includes('..'));
  const terms = [...new Set((given.length ? given : fromQuery).map(fold).filter(Boolean))];
  if (!terms.length) return;
  const data = await (await fetch(viewer.dataset.wordsUrl)).json();
  // Join the words into one string, remembering which word each character came from, then find the terms.
  let joined = '';
  const owner = [];
  data.words.forEach((w, i) => { const s = fold(w.text); joined += s; for (const _ of s) owner.push(i); });
  const hits = [];
  for (const term of terms) {
    const len = [...term].length;
    let at = joined.indexOf(term);
    while (at >= 0) { const start = [...joined.slice(0, at)].length; hits.push([...new Set(owner.slice(start, start + len))]); at = joined.indexOf(term, at + term.length); }
  }
  const svg = document.getElementById('boxes');
  svg.setAttribute('viewBox', `0 0 ${data.width} ${data.height}`); svg.setAttribute('preserveAspectRatio', 'none');
  const rects = hits.map(ids => {
    const bs = ids.map(i => data.words[i].box);
    const x0 = Math.min(...bs.map(b => b[0])), y0 = Math.min(...bs.map(b => b[1])), x1 = Math.max(...bs.map(b => b[2])), y1 = Math.max(...bs.map(b => b[3]));
    const r = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    r.setAttribute('x', x0 - 4); r.setAttribute('y', y0 - 4); r.setAttribute('width', x1 - x0 + 8); r.setAttribute('height', y1 - y0 + 8);
    r.setAttribute('fill', 'rgba(255,210,0,.25)'); r.setAttribute('stroke', '#e0a800'); r.setAttribute('stroke-width', Math.max(2, data.width / 600));
    r.classList.add('hit-box'); svg.appendChild(r); return [r, y0 / data.height];
  });
  if (!rects.length) return;
  let cur = 0;
  const go = d => {
    const beyond = cur + d >= rects.length ? document.getElementById('next-hit-page')
      : (cur + d < 0 ? document.getElementById('prev-hit-page') : null);
    if (beyond) { window.location.href = beyond.href; return; }
    cur = (cur + d + rects.length) % rects.length;
    const img = document.getElementById('page-image');
    window.scrollTo({top: img.getBoundingClientRect().top + window.scrollY + rects[cur][1] * img.height - 120, behavior: 'smooth'});
    rects.forEach(([r], i) => r.setAttribute('stroke', i === cur ? '#d00' : '#e0a800'));
  };
  ['prev-hit', 'next-hit'].forEach((id, k) => { const b = document.getElementById(id); b.hidden = false; b.addEventListener('click', () => go(k ? 1 : -1)); });
  go(0);
})();
