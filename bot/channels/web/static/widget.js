/* The clinic's chat widget. Plain JavaScript, no build step, no CDN.
 * <script src="https://bot.example.ru/widget.js" data-color="#0a7d5a" data-title="Клиника"
 *         data-position="right" async></script>
 * Optional: data-transport="http" (no WebSocket), data-launcher="text of the button".
 */
(function () {
  "use strict";
  if (window.__clinicChatLoaded) return;
  window.__clinicChatLoaded = true;

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll('script[src*="widget.js"]');
    return all[all.length - 1];
  })();
  var base = new URL(script.src, location.href);
  var origin = base.origin;
  var ds = script.dataset || {};
  var opts = {
    color: ds.color || "#0b6e4f",
    title: ds.title || "Чат с клиникой",
    position: ds.position === "left" ? "left" : "right",
    launcher: ds.launcher || "Ответим за 10 секунд — напишите нам!",
    transport: ds.transport === "http" ? "http" : "ws"
  };
  var STORE = "clinicChat:" + origin;
  var store = {
    get: function (k) { try { return localStorage.getItem(STORE + ":" + k); } catch (e) { return null; } },
    set: function (k, v) { try { localStorage.setItem(STORE + ":" + k, v); } catch (e) { /* private mode */ } }
  };

  var state = {
    token: store.get("token"), session: null, lastSeq: 0, seen: {}, config: null,
    ws: null, mode: null, connected: false, connecting: false, refused: false,
    open: false, started: false, queue: [], pending: null, retry: 0, polling: false
  };

  /** Black or white text, whichever reads better on the site's colour (WCAG relative luminance). */
  function readableOn(color) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(color).trim());
    if (!m) return "#ffffff";
    var hex = m[1].length === 3 ? m[1].replace(/(.)/g, "$1$1") : m[1];
    var lum = [0, 2, 4].map(function (i) {
      var c = parseInt(hex.substr(i, 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var l = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    return (l + 0.05) / 0.05 > 1.05 / (l + 0.05) ? "#111111" : "#ffffff";
  }

  // ---- DOM -------------------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    if (text) node.textContent = text;
    return node;
  }
  var css = el("link", { rel: "stylesheet", href: origin + "/widget.css" });
  document.head.appendChild(css);

  var uid = "cw" + Math.random().toString(36).slice(2, 8);
  var root = el("div", { "class": "cw-root", "data-position": opts.position, "data-clinic-chat": "" });
  root.style.setProperty("--cw-color", opts.color);
  root.style.setProperty("--cw-on-color", readableOn(opts.color));
  var launcher = el("button", {
    type: "button", "class": "cw-launcher", "data-role": "launcher", "aria-expanded": "false",
    "aria-controls": uid + "-panel", "aria-label": opts.launcher + " Открыть чат"
  });
  launcher.appendChild(el("span", { "class": "cw-launcher-icon", "aria-hidden": "true" }, "💬"));
  launcher.appendChild(el("span", { "class": "cw-launcher-text" }, opts.launcher));
  var badge = el("span", { "class": "cw-badge", hidden: "", "aria-label": "Новое сообщение" }, "1");
  launcher.appendChild(badge);

  var panel = el("section", {
    id: uid + "-panel", "class": "cw-panel", "data-role": "panel", role: "dialog",
    "aria-label": opts.title, "aria-modal": "false", hidden: ""
  });
  var header = el("header", { "class": "cw-header" });
  var titleEl = el("h2", { "class": "cw-title", id: uid + "-title" }, opts.title);
  var closeBtn = el("button", { type: "button", "class": "cw-close", "aria-label": "Закрыть чат" }, "×");
  header.appendChild(titleEl);
  header.appendChild(closeBtn);
  var log = el("div", { "class": "cw-log", role: "log", "aria-live": "polite", "aria-label": "Переписка", tabindex: "0" });
  var typing = el("div", { "class": "cw-typing", hidden: "", "aria-live": "polite" }, "печатает…");
  var notice = el("div", { "class": "cw-notice", role: "alert", hidden: "" });
  var form = el("form", { "class": "cw-form" });
  var inputId = uid + "-input";
  var label = el("label", { "for": inputId, "class": "cw-sr" }, "Ваше сообщение");
  var input = el("textarea", {
    id: inputId, "class": "cw-input", "data-role": "input", rows: "1", placeholder: "Напишите сообщение…",
    "aria-label": "Ваше сообщение", autocomplete: "off"
  });
  var send = el("button", { type: "submit", "class": "cw-send", "data-role": "send", "aria-label": "Отправить" });
  send.appendChild(el("span", { "aria-hidden": "true" }, "➤"));
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(send);
  var links = el("div", { "class": "cw-links", hidden: "" });
  var consent = el("p", { "class": "cw-consent" });
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(notice);
  panel.appendChild(form);
  panel.appendChild(links);
  panel.appendChild(consent);
  root.appendChild(panel);
  root.appendChild(launcher);

  function mount() { document.body.appendChild(root); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  // ---- rendering ---------------------------------------------------------------------------
  var URL_RE = /(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)])/g;
  function rich(node, text) {
    var last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      if (m.index > last) node.appendChild(document.createTextNode(text.slice(last, m.index)));
      node.appendChild(el("a", { href: m[0], target: "_blank", rel: "noopener noreferrer" }, m[0]));
      last = m.index + m[0].length;
    }
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }

  function clearChoices() {
    var old = log.querySelectorAll(".cw-choices");
    for (var i = 0; i < old.length; i++) old[i].parentNode.removeChild(old[i]);
  }

  function render(messages, quiet) {
    var added = false, fromBot = false;
    for (var i = 0; i < messages.length; i++) {
      var m = messages[i];
      if (state.seen[m.seq]) continue;
      state.seen[m.seq] = true;
      if (m.seq > state.lastSeq) state.lastSeq = m.seq;
      clearChoices();
      var who = m.from === "patient" ? "patient" : "bot";
      var item = el("div", { "class": "cw-msg cw-" + who, "data-role": "message", "data-from": who, "data-author": m.author });
      var bubble = el("div", { "class": "cw-bubble" });
      bubble.appendChild(el("span", { "class": "cw-sr" }, who === "patient" ? "Вы: " : "Клиника: "));
      rich(bubble, m.text);
      item.appendChild(bubble);
      if (who === "bot" && m.buttons && m.buttons.length) {
        var box = el("div", { "class": "cw-choices", role: "group", "aria-label": "Варианты ответа" });
        for (var j = 0; j < m.buttons.length; j++) box.appendChild(choice(m.buttons[j]));
        item.appendChild(box);
      }
      log.appendChild(item);
      added = true;
      if (who === "bot") { fromBot = true; setTyping(false); }
    }
    if (added) {
      log.scrollTop = log.scrollHeight;
      if (fromBot && !state.open && !quiet) badge.hidden = false;
    }
  }

  function choice(button) {
    var b = el("button", { type: "button", "class": "cw-choice", "data-role": "choice" }, button.label);
    b.addEventListener("click", function () {
      submit({ type: "choice", data: button.data, label: button.label });
    });
    return b;
  }

  function setTyping(on) { typing.hidden = !on; if (on) log.scrollTop = log.scrollHeight; }
  function showNotice(text) { notice.textContent = text || ""; notice.hidden = !text; }

  function applyConfig(config) {
    state.config = config;
    links.textContent = "";
    var any = false;
    if (config.telegram) { links.appendChild(el("a", { href: config.telegram, target: "_blank", rel: "noopener", "class": "cw-link-telegram" }, "Продолжить в Telegram")); any = true; }
    if (config.whatsapp) { links.appendChild(el("a", { href: config.whatsapp, target: "_blank", rel: "noopener", "class": "cw-link-whatsapp" }, "Продолжить в WhatsApp")); any = true; }
    links.hidden = !any;
    consent.textContent = "";
    var url = config.privacy_url || config.consent_url;
    if (url) {
      consent.appendChild(document.createTextNode("Отправляя сообщения, вы соглашаетесь с "));
      consent.appendChild(el("a", { href: url, target: "_blank", rel: "noopener" }, "политикой обработки персональных данных"));
      consent.appendChild(document.createTextNode("."));
    }
  }

  // ---- connection ----------------------------------------------------------------------------
  function welcome(data) {
    state.token = data.token;
    state.session = data.session;
    store.set("token", data.token);
    root.setAttribute("data-session", data.session);
    applyConfig(data.config);
    render(data.messages || [], true);  // the history: no "new message" badge for it
    state.connected = true;
    state.connecting = false;
    state.retry = 0;
    showNotice("");
    if (state.open) startConversation();
    var queued = state.queue; state.queue = [];
    for (var i = 0; i < queued.length; i++) transmit(queued[i]);
  }

  function refused(text) {
    state.refused = true;
    state.connecting = false;
    showNotice(text || "Чат не подключён на этом сайте.");
    input.disabled = true;
    send.disabled = true;
    root.setAttribute("data-refused", "");
  }

  function handleError(data) {
    setTyping(false);
    if (data.code === "too_long" || data.code === "rate_limited") {
      if (state.pending && state.pending.type === "message" && !input.value) input.value = state.pending.text;
    }
    if (data.code === "origin") { refused(data.text); return; }
    if (data.code === "bad_token") { state.token = null; store.set("token", ""); }
    showNotice(data.text || "Не получилось отправить сообщение.");
  }

  function connect() {
    if (state.connecting || state.connected || state.refused) return;
    state.connecting = true;
    if (opts.transport === "ws" && "WebSocket" in window && state.mode !== "http") connectWs();
    else connectHttp();
  }

  function connectWs() {
    var opened = false, welcomed = false;
    var ws;
    try { ws = new WebSocket(origin.replace(/^http/, "ws") + "/ws"); } catch (e) { state.mode = "http"; connectHttp(); return; }
    state.ws = ws;
    ws.onopen = function () { opened = true; ws.send(JSON.stringify({ type: "hello", token: state.token, after: state.lastSeq })); };
    ws.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "session") { welcomed = true; state.mode = "ws"; welcome(data); }
      else if (data.type === "messages") render(data.messages);
      else if (data.type === "typing") setTyping(true);
      else if (data.type === "error") handleError(data);
    };
    ws.onclose = function () {
      state.ws = null;
      var was = state.connected;
      state.connected = false;
      state.connecting = false;
      if (state.refused) return;
      if (!opened || !welcomed) { state.mode = "http"; connect(); return; }  // refused or blocked: the fallback
      if (was) setTimeout(connect, backoff());
    };
  }

  function backoff() { state.retry = Math.min(state.retry + 1, 6); return 500 * Math.pow(2, state.retry - 1); }

  function post(path, body) {
    return fetch(origin + path, {
      method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { data.httpStatus = response.status; return data; });
    });
  }

  function connectHttp() {
    state.mode = "http";
    post("/web/session", { token: state.token, after: state.lastSeq, start: state.open }).then(function (data) {
      if (data.type === "session") { welcome(data); poll(); }
      else { state.connecting = false; handleError(data); }
    }, function () {
      state.connecting = false;
      showNotice("Нет связи с чатом. Пробуем подключиться снова…");
      setTimeout(connect, backoff());
    });
  }

  function poll() {
    if (state.polling || state.mode !== "http" || state.refused) return;
    state.polling = true;
    post("/web/poll", { token: state.token, after: state.lastSeq }).then(function (data) {
      state.polling = false;
      if (data.type === "messages") { render(data.messages); poll(); }
      else { handleError(data); setTimeout(poll, backoff()); }
    }, function () { state.polling = false; setTimeout(poll, backoff()); });
  }

  function startConversation() {
    if (state.started || !state.connected) return;
    state.started = true;
    if (log.querySelector('[data-role="message"]')) return;
    if (state.mode === "ws" && state.ws) state.ws.send(JSON.stringify({ type: "start" }));
    else post("/web/session", { token: state.token, after: state.lastSeq, start: true }).then(function (d) {
      if (d.type === "session") render(d.messages || []);
    });
  }

  function transmit(message) {
    state.pending = message;
    showNotice("");
    if (state.mode === "ws" && state.ws && state.ws.readyState === 1) {
      state.ws.send(JSON.stringify(message));
      return;
    }
    setTyping(true);
    var body = { token: state.token };
    for (var k in message) body[k] = message[k];
    post("/web/message", body).then(function (data) {
      if (data.type === "messages") render(data.messages);
      else handleError(data);
      setTyping(false);
    }, function () { setTyping(false); showNotice("Сообщение не отправлено: нет связи. Попробуйте ещё раз."); if (message.type === "message" && !input.value) input.value = message.text; });
  }

  function submit(message) {
    if (state.refused) return;
    if (!state.connected) { state.queue.push(message); connect(); return; }
    transmit(message);
  }

  // ---- behaviour -----------------------------------------------------------------------------
  function setOpen(open) {
    state.open = open;
    panel.hidden = !open;
    root.setAttribute("data-open", open ? "true" : "false");
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    try { sessionStorage.setItem(STORE + ":open", open ? "1" : ""); } catch (e) { /* private mode */ }
    if (open) {
      badge.hidden = true;
      connect();
      startConversation();
      setTimeout(function () { input.focus(); }, 0);
    } else {
      launcher.focus();
    }
  }

  launcher.addEventListener("click", function () { setOpen(!state.open); });
  closeBtn.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); setOpen(false); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    submit({ type: "message", text: text });
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else send.click();
    }
  });
  window.addEventListener("storage", function (event) {
    if (event.key === STORE + ":token" && event.newValue && event.newValue !== state.token) {
      state.token = event.newValue;  // another tab started the conversation: join it
      if (state.ws) state.ws.close(); else { state.connected = false; connect(); }
    }
  });

  var wasOpen = false;
  try { wasOpen = sessionStorage.getItem(STORE + ":open") === "1"; } catch (e) { /* private mode */ }
  if (wasOpen) { if (document.body) setOpen(true); else document.addEventListener("DOMContentLoaded", function () { setOpen(true); }); }
  else if (state.token) connect();  // a returning patient: their history and any administrator's answer
})();
