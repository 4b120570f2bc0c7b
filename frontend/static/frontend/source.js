// Source viewer: bring the quoted sentence (else the cited passage) into view. A static
// file, not an inline script, so the Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var target = document.getElementById("quote") || document.getElementById("cited");
  if (target) {
    target.scrollIntoView({block: "center"});
  }
})();
