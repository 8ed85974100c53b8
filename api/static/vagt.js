// Small enhancements; every page works without them.
(function () {
  "use strict";
  function format(seconds) {
    var sign = seconds < 0 ? "-" : "";
    var s = Math.floor(Math.abs(seconds));
    if (s >= 86400) return sign + Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
    if (s >= 3600) return sign + Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    if (s >= 60) return sign + Math.floor(s / 60) + "m " + (s % 60) + "s";
    return sign + s + "s";
  }
  // Live countdowns: each running clock counts down to its deadline.
  function tick() {
    document.querySelectorAll(".clock[data-deadline]").forEach(function (clock) {
      var left = (Date.parse(clock.dataset.deadline) - Date.now()) / 1000;
      var span = clock.querySelector(".left");
      if (span) span.textContent = format(left);
      if (left < 0) clock.classList.add("breached");
    });
  }
  // The desk refreshes its list in place, unless someone is typing in its filters.
  function refresh(section, seconds) {
    setInterval(function () {
      if (section.contains(document.activeElement) && document.activeElement.tagName !== "BODY") return;
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-refresh]");
          if (fresh) { section.innerHTML = fresh.innerHTML; tick(); }
        })
        .catch(function () {});
    }, seconds * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    var section = document.querySelector("[data-refresh]");
    var seconds = section ? parseInt(section.dataset.refresh, 10) : 0;
    if (seconds > 0) refresh(section, seconds);
  });
})();
