// The console's own script (served from this installation; the page allows no inline script).
// It only improves what the server rendered: times in the browser's zone, the browser's zone offset sent with
// forms that take a local time, and a confirmation before destructive buttons.
(() => {
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const localTimes = (root) => {
    for (const t of root.querySelectorAll('time[datetime]')) {
      const d = new Date(t.getAttribute('datetime'));
      if (!Number.isNaN(d.getTime())) {
        t.textContent = fmt.format(d);
        t.title = d.toISOString();
      }
    }
  };
  const zoneOffsets = (root) => {
    for (const input of root.querySelectorAll('input[name="tzOffset"]')) {
      input.value = String(new Date().getTimezoneOffset());
    }
  };
  const prepare = (root) => {
    localTimes(root);
    zoneOffsets(root);
  };
  document.addEventListener('DOMContentLoaded', () => prepare(document));
  document.addEventListener('htmx:afterSettle', (e) => prepare(e.target));
  document.addEventListener('htmx:sseMessage', (e) => prepare(e.target));
  document.addEventListener('submit', (e) => {
    const button = e.submitter;
    const text = button?.getAttribute('data-confirm') ?? e.target.getAttribute('data-confirm');
    if (text && !window.confirm(text)) e.preventDefault();
  });
})();
