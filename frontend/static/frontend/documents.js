/* Console documents page: upload dropped or chosen files, one XMLHttpRequest each (so
   each shows its own transfer progress), then refresh the list, whose pending rows htmx
   polls until they are indexed or failed (templates/frontend/console/documents/).
   No inline scripts or styles (CSP): strings come from the upload form's data-*. */
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("upload-files");
  const list = document.getElementById("upload-list");
  const announce = window.citewise.dom.announcer(document.getElementById("upload-announcer"));
  const element = window.citewise.dom.element;
  const strings = form.dataset;
  // Parallel transfers: enough to fill the line, few enough not to starve the server.
  const PARALLEL = 3;
  const queue = [];
  let running = 0;
  let counter = 0;
  let refreshTimer = null;

  form.querySelectorAll("[data-no-script]").forEach(function (node) { node.hidden = true; });
  form.classList.add("scripted");

  function csrfToken() {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  function add(files) {
    Array.from(files).forEach(function (file) {
      counter += 1;
      const id = "upload-" + counter;
      const item = element("li", "upload-item");
      const label = element("label", "upload-name", file.name);
      label.htmlFor = id;
      const bar = element("progress");
      bar.id = id;
      bar.max = 100;
      bar.value = 0;
      const state = element("span", "upload-state", strings.waiting);
      const result = element("div", "upload-result");
      item.append(label, bar, state, result);
      list.prepend(item);
      queue.push({ file: file, item: item, bar: bar, state: state, result: result });
    });
    next();
  }

  function next() {
    while (running < PARALLEL && queue.length) {
      running += 1;
      send(queue.shift());
    }
  }

  function send(job) {
    const data = new FormData();
    data.append("file", job.file, job.file.name);
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    job.state.textContent = strings.uploading + " 0%";
    request.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      const percent = Math.floor((100 * event.loaded) / event.total);
      job.bar.value = percent;
      job.state.textContent = strings.uploading + " " + percent + "%";
    });
    request.addEventListener("load", function () {
      if (request.status >= 200 && request.status < 300) {
        job.bar.value = 100;
        job.state.textContent = strings.received;
        // Our own server's rendering of what became of the file (names escaped there).
        const template = document.createElement("template");
        template.innerHTML = request.responseText;
        job.result.replaceChildren(template.content);
        announce(job.file.name + ": " + job.result.textContent.replace(/\s+/g, " ").trim());
        refreshList();
      } else {
        failed(job, request.responseText);
      }
    });
    request.addEventListener("error", function () { failed(job, ""); });
    request.addEventListener("loadend", function () {
      running -= 1;
      next();
    });
    request.send(data);
  }

  function failed(job, detail) {
    job.item.classList.add("failed");
    job.state.textContent = strings.failed;
    // A refusal's text is plain (e.g. "Choose at least one file."): shown as text.
    if (detail && detail.length < 500) job.result.textContent = detail;
    announce(job.file.name + ": " + strings.failed);
  }

  // The list as it stands (new rows, and a poll for them), with the page's filters; one
  // refresh for a burst of finished uploads.
  function refreshList() {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(function () {
      if (!window.htmx) return;
      window.htmx.ajax("GET", window.location.href,
                       { target: "#documents-list", select: "#documents-list", swap: "outerHTML" });
    }, 300);
  }

  input.addEventListener("change", function () {
    add(input.files);
    input.value = "";
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    add(input.files);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (name) {
    form.addEventListener(name, function (event) {
      event.preventDefault();
      form.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    form.addEventListener(name, function (event) {
      if (name === "dragleave" && form.contains(event.relatedTarget)) return;
      form.classList.remove("dragging");
    });
  });
  form.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) add(event.dataTransfer.files);
  });

  // "Select all on this page": the list is swapped in by htmx, hence delegation.
  document.addEventListener("change", function (event) {
    if (event.target.id !== "pick-all") return;
    document.querySelectorAll("input[name=ids][form=bulk-delete]").forEach(function (box) {
      box.checked = event.target.checked;
    });
  });
  function showPickAll() {
    const pickAll = document.getElementById("pick-all");
    if (pickAll) pickAll.hidden = false;
  }
  showPickAll();
  document.body.addEventListener("htmx:afterSwap", showPickAll);
})();
