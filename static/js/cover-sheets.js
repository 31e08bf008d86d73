// Cover sheets: turns the "account type" lines into the PDF link's query and opens it in a new tab.
(function () {
  const form = document.getElementById('cover-form');
  if (!form) return;
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const line of document.getElementById('pairs').value.split('\n')) {
      const [a, t] = line.trim().split(/\s+/); if (a && t) { q.append('account', a); q.append('type', t); }
    }
    window.open(form.action + '?' + q.toString());
  });
})();
