/* DOM helpers shared by the chat (chat.js) and the console's documents page
   (documents.js); load this file first, both with `defer`. */
window.citewise = window.citewise || {};
window.citewise.dom = (function () {
  "use strict";

  // A new element with an optional class and text (textContent: never parsed as HTML).
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // A function that reads `text` out through the live region `node`. Emptied first and
  // refilled a moment later, so a screen reader repeats a message equal to the last one.
  function announcer(node) {
    return function announce(text) {
      node.textContent = "";
      window.setTimeout(function () { node.textContent = text; }, 50);
    };
  }

  return { element: element, announcer: announcer };
})();
