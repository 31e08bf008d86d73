// Operation page: while the operation is queued or running, polls its progress (stage, done / total) from
// #operation[data-progress-url] and moves the bar; once it has ended, reloads the page so the report, the
// error or the download appear. The state is in the database, so a reload midway picks up where it is.
(function () {
  const box = document.getElementById('operation');
  if (!box || ['done', 'failed'].includes(box.dataset.status)) return;
  const labels = JSON.parse(document.getElementById('op-labels').textContent);
  async function tick() {
    let p;
    try {
      const r = await fetch(box.dataset.progressUrl, {headers: {'Accept': 'application/json'}});
      if (!r.ok) return setTimeout(tick, 3000);
      p = await r.json();
    } catch (e) { return setTimeout(tick, 3000); }
    document.getElementById('op-bar').value = p.percent;
    document.getElementById('op-percent').textContent = p.percent;
    document.getElementById('op-done').textContent = p.done;
    document.getElementById('op-total').textContent = p.total;
    if (p.stage) document.getElementById('op-stage').textContent = labels.stage[p.stage] || p.stage;
    const st = document.getElementById('op-status');
    st.className = 'status status-' + p.status; st.textContent = labels.status[p.status] || p.status;
    if (p.status === 'done' || p.status === 'failed') return window.location.reload();
    setTimeout(tick, 1000);
  }
  tick();
})();
