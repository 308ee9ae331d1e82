// A minimal service worker for Herald's Web Push (docs/webpush.md): shows each push as a notification and
// opens its `url` on click. Serve it from your site's origin (e.g. /herald-sw.js) and register it from the page.
// The push's data is the JSON Herald sends (docs/pushes.md, `offline.webpush`):
//   { title, body, icon, image, badge, tag, renotify, requireInteraction, silent, url, appBadge, data, ext, pushId }

self.addEventListener('push', (event) => {
  let push = {};
  try {
    push = event.data ? event.data.json() : {};
  } catch {
    push = { body: event.data ? event.data.text() : '' };
  }
  const options = {
    body: push.body,
    icon: push.icon,
    image: push.image,
    badge: push.badge,
    tag: push.tag,
    renotify: push.renotify,
    requireInteraction: push.requireInteraction,
    silent: push.silent,
    data: { url: push.url, pushId: push.pushId, ext: push.ext, data: push.data },
  };
  // `renotify` without a tag is refused by browsers; undefined fields are left out.
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  if (!options.tag) delete options.renotify;
  const shown = self.registration.showNotification(push.title ?? '', options);
  const badge =
    typeof push.appBadge === 'number' && 'setAppBadge' in self.navigator
      ? self.navigator.setAppBadge(push.appBadge).catch(() => {})
      : Promise.resolve();
  event.waitUntil(Promise.all([shown, badge]));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url ?? '/', self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => w.url === target);
      return open ? open.focus() : self.clients.openWindow(target);
    }),
  );
});
