// Destruction list page: while the list is executing, polls its progress (items done / total) and
// reloads the page once it is executed, or once more items failed verification than when the page was
// drawn, so the per-item results, the register links or the Resume button's message appear.
(function () {
  const box = document.getElementById('execution');
  if (!box || box.dataset.state !== 'executing') return;
  async function tick() {
    const r = await fetch(box.dataset.progressUrl, {headers: {'Accept': 'application/json'}});
    if (!r.ok) return setTimeout(tick, 3000);
    const p = await r.json();
    const bar = document.getElementById('destroy-bar');
    bar.max = p.total || 1; bar.value = p.done;
    for (const k of ['done', 'total', 'destroyed', 'held']) document.getElementById('n-' + k).textContent = p[k];
    if (p.state === 'executed' || p.failed > Number(box.dataset.failed || 0)) return window.location.reload();
    setTimeout(tick, 1000);
  }
  tick();
})();
