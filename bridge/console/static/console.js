// omi-bridge console: keeps the parts of a page marked data-live current by fetching the same
// page again every few seconds and swapping them in. A part with data-src is fetched from that
// address instead (a test's choices, priced after its page was shown); a part marked data-done
// has nothing more to come. The pages read whole without it.
(function () {
  "use strict";
  var INTERVAL = 2000;
  var busy = false;

  function swap(parts, html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    parts.forEach(function (old) {
      var next = fresh.getElementById(old.id);
      // a part holding the keyboard's focus is left alone until focus moves on
      if (next && !old.contains(document.activeElement) && old.outerHTML !== next.outerHTML) {
        old.replaceWith(document.importNode(next, true));
      }
    });
  }

  function refresh() {
    if (busy || document.hidden) return;
    var bySource = {};
    document.querySelectorAll("[data-live][id]:not([data-done])").forEach(function (part) {
      var url = part.getAttribute("data-src") || window.location.href;
      (bySource[url] = bySource[url] || []).push(part);
    });
    var urls = Object.keys(bySource);
    if (!urls.length) return;
    busy = true;
    Promise.all(urls.map(function (url) {
      return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.status === 401) { window.location.reload(); throw new Error("signed out"); }
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) { swap(bySource[url], html); });
    }))
      .catch(function () { /* the daemon restarting: try again at the next tick */ })
      .then(function () { busy = false; });
  }

  setInterval(refresh, INTERVAL);
  document.addEventListener("visibilitychange", refresh);
})();
