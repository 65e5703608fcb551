// omi-bridge console: keeps the parts of a page marked data-live current by fetching the same
// page again every few seconds and swapping them in. The pages read whole without it.
(function () {
  "use strict";
  var INTERVAL = 2000;
  var busy = false;

  function refresh() {
    if (busy || document.hidden) return;
    var live = document.querySelectorAll("[data-live][id]");
    if (!live.length) return;
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); throw new Error("signed out"); }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        live.forEach(function (old) {
          var next = fresh.getElementById(old.id);
          // a part holding the keyboard's focus is left alone until focus moves on
          if (next && !old.contains(document.activeElement) && old.innerHTML !== next.innerHTML) {
            old.innerHTML = next.innerHTML;
          }
        });
      })
      .catch(function () { /* the daemon restarting: try again at the next tick */ })
      .then(function () { busy = false; });
  }

  setInterval(refresh, INTERVAL);
  document.addEventListener("visibilitychange", refresh);
})();
