/* Reports: a chart wider than a phone's screen scrolls sideways; it opens at its right
   end, where the latest days are, which is what a reader looks for first. */
"use strict";
for (const frame of document.querySelectorAll(".chart-frame")) {
  frame.scrollLeft = frame.scrollWidth;
}
