/* Citewise chat: ask, stream the answer (SSE over fetch), stop, feedback, copy.
   The server renders every message; this file only streams the answer in as plain text
   and then swaps in the server's HTML of the stored answer (the `done` event's `html`).
   No inline scripts or styles (CSP): strings come from #chat's data-strings. */
(function () {
  "use strict";
  const root = document.getElementById("chat");
  if (!root) return;
  const strings = JSON.parse(root.dataset.strings || "{}");
  const form = document.getElementById("composer");
  const messages = document.getElementById("messages");
  const announce = window.citewise.dom.announcer(document.getElementById("announcer"));
  const element = window.citewise.dom.element;
  let current = null; // the answer streaming now: {controller, streamId, article, stopTimer}

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function fromHtml(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim(); // our own server's rendering of a stored message
    return template.content.firstElementChild;
  }

  /* --- Keeping the newest message in sight ----------------------------------------- */
  // The messages scroll in their own box above the composer (chat.css). While an answer
  // streams its end stays in sight, until the person scrolls up to read something else.
  let following = false;
  let lastTop = 0;

  function scrollMessages(top) {
    messages.scrollTop = top;
    lastTop = messages.scrollTop;
  }

  function atEnd() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 24;
  }

  function followAnswer() {
    if (following) scrollMessages(messages.scrollHeight);
  }

  /* A conversation opens at its latest question (at the end, when the last exchange fits);
     a link to one message (#message-12) is left to the browser. */
  function showLatest() {
    const questions = messages.querySelectorAll(".question");
    if (window.location.hash || !questions.length) return;
    scrollMessages(questions[questions.length - 1].offsetTop - 8);
  }

  messages.addEventListener("scroll", function () {
    if (messages.scrollTop < lastTop - 2) following = false; // scrolled up to read
    else if (current && atEnd()) following = true;
    lastTop = messages.scrollTop;
  }, { passive: true });

  /* --- Composer -------------------------------------------------------------------- */

  function showError(node, message, loginUrl) {
    node.textContent = message;
    if (loginUrl) {
      const link = element("a", "", strings.signIn);
      link.href = loginUrl;
      node.append(" ", link);
    }
    node.hidden = false;
  }

  function setStreaming(on) {
    form.querySelector(".send").hidden = on;
    const stop = form.querySelector(".stop");
    stop.hidden = !on;
    if (on) stop.focus({ preventScroll: true });
    else form.querySelector("textarea").focus({ preventScroll: true });
  }

  function updatePicked() {
    const picked = form.querySelector(".picked");
    const boxes = Array.from(form.querySelectorAll("input[name=knowledge_base]"));
    const names = boxes.filter((b) => b.checked).map((b) => b.parentElement.textContent.trim());
    picked.textContent = names.length === boxes.length && boxes.length > 1
      ? picked.dataset.all : names.join(", ");
  }

  /* `replacing`: the last answer, asked again by Regenerate. It and its question are
     hidden at once and go when the server says it deleted them (`start`'s replaced). */
  function ask(question, replacing) {
    if (current) return;
    const error = form.querySelector(".composer-error");
    error.hidden = true;
    if (!question.trim()) return;
    const data = new FormData(form);
    data.set("question", question);
    if (!data.getAll("knowledge_base").length) {
      showError(error, strings.chooseKb);
      return;
    }
    let replaced = null;
    if (replacing) {
      data.set("replace", replacing.dataset.messageId);
      const asked = replacing.previousElementSibling;
      replaced = asked && asked.classList.contains("question") ? [asked, replacing] : [replacing];
      replaced.forEach((node) => { node.hidden = true; });
    }
    const hint = document.getElementById("empty-hint");
    if (hint) hint.remove();
    const asked = element("article", "message question");
    asked.append(element("div", "bubble", question));
    const article = element("article", "message answer streaming");
    article.setAttribute("aria-busy", "true");
    const body = element("div", "answer-body live");
    article.append(element("p", "visually-hidden", strings.answering), body);
    messages.append(asked, article);
    following = true;
    followAnswer();
    current = { controller: new AbortController(), streamId: null, article: article, body: body,
                replaced: replaced, fromComposer: !replacing };
    setStreaming(true);
    stream(data, current).catch(function (failure) {
      if (failure.name !== "AbortError") fail(article, strings.network);
    }).finally(function () {
      const ended = current;
      current = null;
      if (ended && ended.stopTimer) window.clearTimeout(ended.stopTimer);
      if (ended && ended.replaced) ended.replaced.forEach((node) => { node.hidden = false; });
      if (ended && ended.article.isConnected && ended.article.classList.contains("streaming")) {
        markStopped(ended.article);
      }
      followAnswer();
      following = false;
      setStreaming(false);
    });
  }

  async function stream(data, state) {
    const response = await fetch(root.dataset.askUrl, {
      method: "POST", body: data, signal: state.controller.signal,
      headers: { "X-CSRFToken": csrfToken(), "Accept": "text/event-stream" },
      credentials: "same-origin",
    });
    if (!response.ok || !response.body) {
      const problem = await response.json().catch(() => ({}));
      state.article.previousElementSibling.remove();
      state.article.remove();
      if (state.fromComposer) form.querySelector("textarea").value = data.get("question");
      showError(form.querySelector(".composer-error"), problem.message || strings.failed,
                problem.login_url);
      return;
    }
    if (state.fromComposer) form.querySelector("textarea").value = "";
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        handle(parse(block), state);
      }
    }
  }

  function parse(block) {
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // heartbeat
      if (line.startsWith("event:")) type = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    return { type: type, data: data.length ? JSON.parse(data.join("\n")) : null };
  }

  function handle(event, state) {
    const data = event.data;
    if (!data) return;
    const article = state.article;
    switch (event.type) {
      case "start":
        state.streamId = data.stream_id;
        state.created = data.created && data.conversation_id;
        rememberConversation(data);
        (state.replaced || []).forEach(function (node) {
          if (data.replaced) node.remove();
          else node.hidden = false; // no longer the last answer: the new one follows it
        });
        state.replaced = null;
        break;
      case "end": // nothing was stored: a conversation made for this answer is gone again
        if (state.created) forgetConversation(state.created);
        break;
      case "notice":
        article.insertBefore(element("p", "notice", data.text), state.body);
        followAnswer();
        break;
      case "text":
        state.body.append(document.createTextNode(data.text));
        followAnswer();
        break;
      case "not_found":
        state.body.textContent = data.message;
        break;
      case "error":
        fail(article, data.text);
        break;
      case "done":
        finish(article, data);
        break;
      default:
        break; // citation: the done event's HTML shows them
    }
  }

  function rememberConversation(data) {
    let field = form.querySelector("input[name=conversation]");
    if (!field) {
      field = element("input");
      field.type = "hidden";
      field.name = "conversation";
      form.append(field);
    }
    field.value = data.conversation_id;
    if (data.created) {
      document.getElementById("thread-title").textContent = data.title;
      const list = document.getElementById("conversation-list");
      const empty = list.querySelector(".empty");
      if (empty) empty.remove();
      list.querySelectorAll("[aria-current]").forEach((n) => n.removeAttribute("aria-current"));
      list.querySelectorAll(".current").forEach((n) => n.classList.remove("current"));
      list.prepend(fromHtml(data.history_html));
      window.history.replaceState(null, "", data.url);
    }
  }

  function forgetConversation(id) {
    const field = form.querySelector("input[name=conversation]");
    if (field && field.value === String(id)) field.remove();
    const row = document.querySelector("#conversation-list a[href$='/c/" + id + "/']");
    if (row) row.closest("li").remove();
    window.history.replaceState(null, "", root.dataset.chatUrl);
  }

  function finish(article, data) {
    messages.querySelectorAll(".regenerate").forEach((button) => button.remove());
    const stored = fromHtml(data.html);
    article.replaceWith(stored);
    followAnswer();
    if (data.error_code) return; // the error event has announced why it failed
    announce(data.stopped ? strings.stopped : data.not_found ? strings.notFound : strings.complete);
  }

  function fail(article, text) {
    article.classList.remove("streaming");
    article.classList.add("failed");
    article.removeAttribute("aria-busy");
    article.append(element("p", "error", text));
    announce(text);
  }

  function markStopped(article) {
    article.classList.remove("streaming");
    article.classList.add("stopped");
    article.removeAttribute("aria-busy");
    article.append(element("p", "stopped-label", strings.stopped));
    announce(strings.stopped);
  }

  /* Stop: ask the server to close the answer (it stores the partial answer and sends its
     HTML), and drop the connection if that has not happened within a few seconds. The
     dropped connection alone also makes the server stop. */
  function stop() {
    if (!current) return;
    const state = current;
    if (!state.streamId) {
      state.controller.abort();
      return;
    }
    const data = new FormData();
    data.set("stream_id", state.streamId);
    fetch(root.dataset.stopUrl, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
    }).catch(() => state.controller.abort());
    state.stopTimer = window.setTimeout(() => state.controller.abort(), 4000);
  }

  /* --- Answer actions ----------------------------------------------------------------- */

  function copyText(article) {
    let text = article.dataset.copy || "";
    const sources = article.querySelectorAll(".sources li");
    if (sources.length) {
      text += "\n\n" + strings.sources + ":\n";
      sources.forEach(function (li) {
        const url = li.dataset.url ? new URL(li.dataset.url, window.location.href).href : "";
        const place = li.dataset.location ? ", " + li.dataset.location : "";
        text += "[" + li.dataset.n + "] " + li.dataset.title + place + (url ? " " + url : "") + "\n";
      });
    }
    return text.trim();
  }

  async function sendFeedback(feedbackForm, submitter) {
    const data = new FormData(feedbackForm);
    data.set("rating", submitter.value);
    const response = await fetch(feedbackForm.action, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    });
    const result = await response.json().catch(() => ({}));
    if (!response.ok) {
      announce(result.message || strings.failed);
      return;
    }
    feedbackForm.querySelectorAll(".rate").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.value === result.rating));
    });
    const comment = feedbackForm.querySelector(".comment");
    comment.hidden = false;
    comment.querySelector(".send-comment").value = result.rating;
    announce(result.text || strings.feedbackSaved);
  }

  /* --- The conversations' "⋯" menus ------------------------------------------------- */

  function closeMenu(menu) {
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  }

  /* Rename and delete stay on the page: the focus goes to the renamed conversation, or
     to a neighbour of the deleted one; deleting the one being read opens a new one. */
  async function manage(menuForm) {
    const response = await fetch(menuForm.action, {
      method: "POST", body: new FormData(menuForm), credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    });
    const result = await response.json().catch(() => ({}));
    if (!response.ok) announce(result.message || strings.failed);
    return response.ok ? result : null;
  }

  function renamed(row, title) {
    const shown = row.querySelector(".conversation-title");
    const old = shown.textContent;
    shown.textContent = title;
    const input = row.querySelector("input[name=title]");
    input.value = input.defaultValue = title;
    const label = row.querySelector("summary .visually-hidden");
    label.textContent = label.textContent.replace(old, title);
    if (row.classList.contains("current")) {
      document.getElementById("thread-title").textContent = title;
      document.title = document.title.replace(old, title);
    }
    row.querySelector("details").open = false;
    row.querySelector("a.open").focus();
    announce(strings.renamed);
  }

  function deleted(row) {
    if (row.classList.contains("current")) {
      window.location.assign(root.dataset.chatUrl + "#question");
      return;
    }
    const neighbour = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    (neighbour ? neighbour.querySelector("a.open") : document.querySelector(".new-conversation"))
      .focus();
    announce(strings.deleted);
  }

  /* --- Citation previews ------------------------------------------------------------ */
  // CSS shows a chip's preview on hover and focus; here it is kept inside the messages'
  // box (shifted left at the right edge, above the chip at the bottom) and Escape hides it.
  const EDGE = 8;

  function placePreview(chip) {
    const preview = chip.querySelector(".cite-preview");
    if (!preview) return;
    chip.classList.remove("preview-closed", "preview-above");
    chip.style.setProperty("--preview-shift", "0px");
    const bounds = messages.getBoundingClientRect();
    const box = preview.getBoundingClientRect();
    const over = box.right - (Math.min(bounds.right, document.documentElement.clientWidth) - EDGE);
    const room = box.left - Math.max(bounds.left, 0) - EDGE;
    if (over > 0) chip.style.setProperty("--preview-shift", -Math.min(over, room) + "px");
    const chipBox = chip.getBoundingClientRect();
    if (box.bottom > bounds.bottom && chipBox.top - bounds.top > bounds.bottom - chipBox.bottom) {
      chip.classList.add("preview-above");
    }
  }

  function onChip(handler) {
    return function (event) {
      const chip = event.target.closest && event.target.closest("a.cite");
      if (chip && !(event.relatedTarget && chip.contains(event.relatedTarget))) handler(chip);
    };
  }

  messages.addEventListener("mouseover", onChip(placePreview));
  messages.addEventListener("focusin", onChip(placePreview));
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    closeMenu(event.target.closest && event.target.closest("details.manage[open]"));
    messages.querySelectorAll("a.cite:hover, a.cite:focus").forEach(function (chip) {
      chip.classList.add("preview-closed");
    });
  });

  document.addEventListener("click", function (event) {
    const target = event.target.closest("button");
    if (!target) return;
    if (target.classList.contains("sidebar-toggle")) {
      const open = target.getAttribute("aria-expanded") !== "true";
      target.setAttribute("aria-expanded", String(open));
      document.getElementById("history").classList.toggle("open", open);
    } else if (target.classList.contains("stop")) {
      stop();
    } else if (target.classList.contains("copy")) {
      const article = target.closest(".answer");
      navigator.clipboard.writeText(copyText(article)).then(
        () => announce(strings.copied), () => announce(strings.copyFailed));
    } else if (target.classList.contains("regenerate")) {
      const answer = target.closest(".answer");
      ask(answer.dataset.question || "", answer);
    }
  });

  document.addEventListener("submit", function (event) {
    const target = event.target;
    if (target === form) {
      event.preventDefault();
      ask(form.querySelector("textarea").value);
    } else if (target.classList.contains("feedback")) {
      event.preventDefault();
      sendFeedback(target, event.submitter).catch(() => announce(strings.network));
    } else if (target.closest("details.manage")) {
      event.preventDefault();
      if (target.dataset.confirm && !window.confirm(target.dataset.confirm)) return;
      const row = target.closest("li");
      manage(target).then(function (result) {
        if (result && target.classList.contains("delete")) deleted(row);
        else if (result) renamed(row, result.title);
      }).catch(() => announce(strings.network));
    }
  });

  // "New conversation" and deleting the open one come here with #question: ready to type.
  function focusComposer() {
    if (window.location.hash !== "#question" || !form) return;
    form.querySelector("textarea").focus();
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  window.addEventListener("hashchange", focusComposer);
  focusComposer();
  showLatest();

  if (form) {
    const textarea = form.querySelector("textarea");
    textarea.addEventListener("keydown", function (event) {
      // Enter sends; Shift+Enter is a new line; Enter that ends a Korean (IME) syllable
      // composition only commits the syllable.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === "Escape" && current) {
        stop();
      }
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === "knowledge_base") updatePicked();
    });
  }
})();
