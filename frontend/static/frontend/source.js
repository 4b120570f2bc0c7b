// Source viewer: bring the quoted sentence (else the cited passage) into view. A static
// file, not an inline script, so the Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var target = document.getElementById("quote") || document.getElementById("cited");
  if (!target) {
    return;
  }
  function show() {
    target.scrollIntoView({block: "center"});
  }
  show();
  // The browser scrolls to the address's #cited (the passage's start) once the page has
  // loaded, after this script: centre the quote again then, unless the reader has moved.
  var moved = false;
  window.addEventListener("keydown", function () { moved = true; }, {once: true});
  window.addEventListener("wheel", function () { moved = true; }, {once: true, passive: true});
  window.addEventListener("touchstart", function () { moved = true; }, {once: true, passive: true});
  window.addEventListener("load", function () {
    if (!moved) {
      show();
    }
  });
})();
