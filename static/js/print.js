// Print page: opens the browser's print dialog once every page image has loaded (the window's load
// event waits for them), so no sheet prints blank; the toolbar button opens it again.
(function () {
  window.addEventListener('load', function () { window.print(); });
  const again = document.getElementById('print-again');
  if (again) again.addEventListener('click', function () { window.print(); });
})();
