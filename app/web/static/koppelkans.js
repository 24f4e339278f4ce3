// Koppelkans: small enhancements; every page works without this file.
// A button with data-copy="ID" copies the value of the field with that id and says so.
(function () {
  "use strict";
  function say(id, text) {
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    if (status) { status.textContent = text; }
  }
  function copy(button) {
    var id = button.getAttribute("data-copy");
    var field = document.getElementById(id);
    if (!field) { return; }
    field.select();
    var done = function () { say(id, "De link is gekopieerd."); };
    var failed = function () { say(id, "Kopiëren lukte niet: de link is geselecteerd, kopieer hem met Ctrl+C."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, failed);
    } else {
      try { if (document.execCommand("copy")) { done(); } else { failed(); } } catch (error) { failed(); }
    }
  }
  function init() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copy(button); });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
