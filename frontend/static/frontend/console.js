/* Citewise console: small helpers for pages that work without them.
   - "Add another example": a blank example form from the formset's <template>.
   - Citation previews in a tried answer kept inside the window (as chat.js does).
   No inline scripts or styles (CSP). */
(function () {
  "use strict";

  /* --- Answer examples (Django formset) --------------------------------------------- */
  const list = document.querySelector(".example-list");
  const template = document.getElementById("example-template");
  const add = document.querySelector(".add-example");
  if (list && template && add) {
    const prefix = list.dataset.prefix;
    const total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    const max = document.getElementById("id_" + prefix + "-MAX_NUM_FORMS");
    add.hidden = false;
    add.addEventListener("click", function () {
      const index = Number(total.value);
      if (max && index >= Number(max.value)) return;
      const html = template.innerHTML.replace(/__prefix__/g, String(index));
      const holder = document.createElement("template");
      holder.innerHTML = html.trim();
      const example = holder.content.firstElementChild;
      list.append(example);
      total.value = String(index + 1);
      const first = example.querySelector("textarea, input");
      if (first) first.focus();
      if (max && index + 1 >= Number(max.value)) add.hidden = true;
    });
  }

  /* --- Citation previews ------------------------------------------------------------ */
  const EDGE = 8;
  function placePreview(chip) {
    const preview = chip.querySelector(".cite-preview");
    if (!preview) return;
    chip.classList.remove("preview-closed");
    chip.style.setProperty("--preview-shift", "0px");
    const box = preview.getBoundingClientRect();
    const over = box.right - (document.documentElement.clientWidth - EDGE);
    if (over > 0) chip.style.setProperty("--preview-shift", -Math.min(over, box.left - EDGE) + "px");
  }
  function onChip(event) {
    const chip = event.target.closest && event.target.closest("a.cite");
    if (chip) placePreview(chip);
  }
  document.addEventListener("mouseover", onChip);
  document.addEventListener("focusin", onChip);
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("a.cite:hover, a.cite:focus").forEach(function (chip) {
      chip.classList.add("preview-closed");
    });
  });
})();
