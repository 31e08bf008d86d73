// Unfiled inbox, every step from the keyboard (the legend #inbox-keys lists the keys): choose a page
// (j/k, arrows), zoom its preview, rotate / split / delete / move it (page operations posted through
// #op-form, saved), type a 户号 or a name and take a customer from the choices under the field, set
// the type by its code, and file. The inbox URL (page operations and splits live under it) comes from
// #pages[data-inbox-url]; the customer choices from #customer_account[data-search-url]. Texts come in the
// page's language from the template: #preview[data-msg-caption] and #type_code[data-msg-unknown].
(function () {
  const form = document.getElementById('file-form');
  if (!form) return;
  const account = document.getElementById('customer_account');
  const choices = document.getElementById('customer-choices');
  const type = document.getElementById('doc_type');
  const code = document.getElementById('type_code');
  const codeError = document.getElementById('type-code-error');
  const ops = document.getElementById('op-form');
  const pagesBox = document.getElementById('pages');
  const inboxUrl = pagesBox.dataset.inboxUrl;
  const pages = Array.from(pagesBox.querySelectorAll('.page'));
  const list = Array.from(document.querySelectorAll('#inbox-list li'));
  const current = document.getElementById('current');
  const preview = document.getElementById('preview-image');
  const caption = document.getElementById('preview-caption');
  const captionText = document.getElementById('preview').dataset.msgCaption;
  // The chosen page survives the reload after a page operation (same tab, same document).
  const remembered = 'inbox-page-' + current.dataset.id;
  let selected = Math.min(pages.length - 1, Math.max(0, Number(sessionStorage.getItem(remembered) || 0)));
  let zoom = 1;

  // Thumbnails first: the big image of the chosen page is asked for only once every thumbnail is in.
  const thumbsIn = Promise.all(Array.from(pagesBox.querySelectorAll('img')).map(i =>
    i.complete ? null : new Promise(done => { i.addEventListener('load', done, {once: true}); i.addEventListener('error', done, {once: true}); })));
  function showPreview() {
    const page = pages[selected]; if (!page || !page.dataset.imageUrl) { preview.hidden = true; return; }
    thumbsIn.then(() => {
      if (pages[selected] !== page) return;
      preview.src = page.dataset.imageUrl; preview.hidden = false;
      preview.className = 'rot-' + page.dataset.rotation;
      preview.style.width = `${zoom * 100}%`;
    });
    caption.textContent = captionText.replace('{number}', page.dataset.number).replace('{count}', pages.length);
  }
  function select(i) {
    selected = Math.min(pages.length - 1, Math.max(0, i));
    pages.forEach((p, k) => p.classList.toggle('selected', k === selected));
    if (pages[selected]) pages[selected].scrollIntoView({block: 'nearest'});
    sessionStorage.setItem(remembered, String(selected));
    showPreview();
  }
  select(selected);
  function setZoom(z) { zoom = Math.min(4, Math.max(0.5, z)); preview.style.width = `${zoom * 100}%`; }
  function goDocument(step) {
    const i = list.findIndex(li => li.dataset.id === current.dataset.id);
    const next = list[i + step]; if (next) location.href = next.querySelector('a').href;
  }
  function op(path) { ops.action = path; ops.submit(); }
  function file() {
    const first = document.querySelector('.suggestion');
    if (first && !account.value) account.value = first.dataset.account;
    if (!account.value) { account.focus(); return; }
    if (!type.value) { code.focus(); return; }
    sessionStorage.removeItem(remembered);
    form.submit();
  }

  // Customer choices under the account field: 户号 prefix or part of the name, newest answer only.
  let asked = 0, active = -1, timer = null;
  function closeChoices() { choices.hidden = true; choices.replaceChildren(); active = -1; account.setAttribute('aria-expanded', 'false'); }
  function mark(i) {
    const items = Array.from(choices.children);
    active = items.length ? (i + items.length) % items.length : -1;
    items.forEach((li, k) => li.classList.toggle('active', k === active));
    if (active >= 0) account.setAttribute('aria-activedescendant', items[active].id);
  }
  async function lookUp() {
    const q = account.value.trim(), mine = ++asked;
    if (!q) { closeChoices(); return; }
    const answer = await (await fetch(account.dataset.searchUrl + '?q=' + encodeURIComponent(q))).json();
    if (mine !== asked) return;
    // an answer to a longer query keeps the choice already marked, when it is still listed
    const kept = active >= 0 && choices.children[active] ? choices.children[active].dataset.account : null;
    closeChoices();
    choices.dataset.query = q;
    answer.customers.forEach((c, k) => {
      const li = document.createElement('li');
      li.id = 'choice-' + k; li.setAttribute('role', 'option'); li.dataset.account = c.account;
      li.textContent = c.account + ' ' + (c.name || '');
      li.addEventListener('mousedown', e => { e.preventDefault(); take(li); });
      choices.appendChild(li);
    });
    choices.hidden = !answer.customers.length;
    account.setAttribute('aria-expanded', String(!choices.hidden));
    const again = answer.customers.findIndex(c => c.account === kept);
    if (again >= 0) mark(again); else if (answer.customers.length === 1) mark(0);
  }
  function take(li) {
    account.value = li.dataset.account; closeChoices();
    if (type.value) account.blur(); else code.focus();
  }
  account.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(lookUp, 120); });
  account.addEventListener('keydown', e => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { e.preventDefault(); mark(active + (e.key === 'ArrowDown' ? 1 : -1)); return; }
    if (e.key === 'Enter') {
      e.preventDefault();
      if (active >= 0 && choices.children[active]) take(choices.children[active]);
      else { closeChoices(); if (type.value) file(); else code.focus(); }
    }
  });
  account.addEventListener('blur', () => setTimeout(closeChoices, 150));

  // The type by its code (HT, KH, …), as printed on the cover sheets and the type list.
  code.addEventListener('keydown', e => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    const wanted = code.value.trim().toUpperCase();
    const option = Array.from(type.options).find(o => o.value && o.value.toUpperCase() === wanted);
    if (!option) {
      codeError.textContent = code.dataset.msgUnknown.replace('{code}', code.value.trim());
      codeError.hidden = false; return;
    }
    type.value = option.value; codeError.hidden = true; code.value = '';
    if (account.value) code.blur(); else account.focus();
  });

  document.addEventListener('keydown', e => {
    const t = e.target;
    if (e.key === 'Escape') { if (t.blur) t.blur(); closeChoices(); return; }
    if (e.ctrlKey || e.altKey || e.metaKey || /^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(t.tagName)) return;
    const page = pages[selected];
    const base = page ? inboxUrl + '/pages/' + page.dataset.id + '/' : null;
    const act = {
      j: () => select(selected + 1), ArrowDown: () => select(selected + 1), ArrowRight: () => select(selected + 1),
      k: () => select(selected - 1), ArrowUp: () => select(selected - 1), ArrowLeft: () => select(selected - 1),
      '+': () => setZoom(zoom * 1.25), '=': () => setZoom(zoom * 1.25), '-': () => setZoom(zoom / 1.25), '0': () => setZoom(1),
      a: () => { account.focus(); account.select(); }, t: () => code.focus(),
      Enter: file, y: file, ']': () => goDocument(1), '[': () => goDocument(-1),
      r: () => base && op(base + 'rotate'), x: () => base && op(base + 'delete'),
      u: () => base && op(base + 'up'), d: () => base && op(base + 'down'),
      s: () => { if (!page) return; document.getElementById('at_page').value = page.dataset.number; op(inboxUrl + '/' + current.dataset.id + '/split'); },
    }[e.key] || (/^[1-9]$/.test(e.key) && type.options.length > Number(e.key) ? () => { type.selectedIndex = Number(e.key); } : null);
    if (act) { e.preventDefault(); act(); }
  });
})();
