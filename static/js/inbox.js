// Unfiled inbox: file, move between documents and edit pages with the keyboard. The inbox URL
// (page operations and splits live under it) comes from #pages[data-inbox-url].
(function () {
  const form = document.getElementById('file-form');
  if (!form) return;
  const account = document.getElementById('customer_account');
  const type = document.getElementById('doc_type');
  const ops = document.getElementById('op-form');
  const pagesBox = document.getElementById('pages');
  const inboxUrl = pagesBox.dataset.inboxUrl;
  const pages = Array.from(pagesBox.querySelectorAll('.page'));
  const list = Array.from(document.querySelectorAll('#inbox-list li'));
  const current = document.getElementById('current');
  let selected = 0;
  function mark() { pages.forEach((p, i) => p.classList.toggle('selected', i === selected)); }
  mark();
  function go(step) {
    const i = list.findIndex(li => current && li.dataset.id === current.dataset.id);
    const next = list[i + step]; if (next) location.href = next.querySelector('a').href;
  }
  function op(path) { ops.action = path; ops.submit(); }
  document.addEventListener('keydown', function (e) {
    const typing = e.target === account || e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT';
    if (e.key === 'Escape') { e.target.blur(); return; }
    if (typing) { return; }
    const first = document.querySelector('.suggestion');
    if (e.key === 'Enter' || e.key === 'y') {
      if (first && !account.value) account.value = first.dataset.account;
      if (account.value && type.value) { e.preventDefault(); form.submit(); }
      else if (!type.value) { type.focus(); }
      return;
    }
    if (e.key === 'a') { e.preventDefault(); account.focus(); account.select(); return; }
    if (/^[1-9]$/.test(e.key) && type.options.length > Number(e.key)) { type.selectedIndex = Number(e.key); return; }
    if (e.key === 'j') return go(1);
    if (e.key === 'k') return go(-1);
    if (e.key === 'ArrowRight') { selected = Math.min(pages.length - 1, selected + 1); return mark(); }
    if (e.key === 'ArrowLeft') { selected = Math.max(0, selected - 1); return mark(); }
    const page = pages[selected]; if (!page) return;
    const base = inboxUrl + '/pages/' + page.dataset.id + '/';
    if (e.key === 'r') op(base + 'rotate');
    if (e.key === 'x') op(base + 'delete');
    if (e.key === 'u') op(base + 'up');
    if (e.key === 'd') op(base + 'down');
    if (e.key === 's') { document.getElementById('at_page').value = page.dataset.number; op(inboxUrl + '/' + current.dataset.id + '/split'); }
  });
  account.addEventListener('keydown', function (e) {
    if (e.key === 'Enter') { e.preventDefault(); if (type.value) form.submit(); else type.focus(); }
  });
})();
