// Classmate 수강신청: what makes the server-rendered pages live. Every page works without it.
// Written for this project; no library. The session cookie is HttpOnly: this script never sees
// a token, the browser sends the cookie with each same-origin request and WebSocket.
"use strict";

(function () {
  // An error summary takes the focus, so a screen reader reads it first.
  const summary = document.querySelector("[data-focus]");
  if (summary) summary.focus();

  const getJson = async (url) => {
    const response = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    return response.json();
  };

  const waitWords = (seconds) => {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "계산 중";
    if (seconds < 1) return "곧";
    const s = Math.ceil(seconds);
    return s < 60 ? `약 ${s}초` : `약 ${Math.floor(s / 60)}분 ${s % 60}초`;
  };

  // 강의 검색: autocomplete on the search box (the ARIA combobox pattern).
  const box = document.querySelector("input[data-suggest]");
  if (box) {
    const list = document.getElementById(box.getAttribute("aria-controls"));
    let items = [];
    let active = -1;
    let timer = 0;
    let asked = 0;
    const close = () => {
      list.hidden = true;
      box.setAttribute("aria-expanded", "false");
      box.removeAttribute("aria-activedescendant");
      active = -1;
    };
    const mark = () => {
      [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
      if (active >= 0) box.setAttribute("aria-activedescendant", list.children[active].id);
      else box.removeAttribute("aria-activedescendant");
    };
    const kinds = { title: "과목", code: "코드", professor: "교수" };
    const show = (found) => {
      items = found;
      list.replaceChildren(
        ...found.map((item, i) => {
          const li = document.createElement("li");
          li.id = `q-option-${i}`;
          li.setAttribute("role", "option");
          li.textContent = item.text;
          const kind = document.createElement("span");
          kind.className = "kind";
          kind.textContent = kinds[item.kind] || "";
          li.append(kind);
          li.addEventListener("mousedown", (event) => {
            event.preventDefault();
            choose(i);
          });
          return li;
        })
      );
      active = -1;
      list.hidden = found.length === 0;
      box.setAttribute("aria-expanded", String(found.length > 0));
    };
    const choose = (i) => {
      box.value = items[i].text;
      close();
      box.form.submit();
    };
    box.addEventListener("input", () => {
      clearTimeout(timer);
      const text = box.value.trim();
      if (!text) return close();
      timer = setTimeout(async () => {
        const mine = ++asked;
        try {
          const found = await getJson(`/api/v1/courses/suggest?q=${encodeURIComponent(text)}`);
          if (mine === asked) show(found.items || []);
        } catch (_) {
          close();
        }
      }, 150);
    });
    box.addEventListener("keydown", (event) => {
      if (list.hidden) return;
      if (event.key === "ArrowDown") {
        active = (active + 1) % items.length;
        mark();
        event.preventDefault();
      } else if (event.key === "ArrowUp") {
        active = (active - 1 + items.length) % items.length;
        mark();
        event.preventDefault();
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape") {
        close();
      }
    });
    box.addEventListener("blur", () => setTimeout(close, 100));
  }

  // 대기열: positions from the shared status frame, my results as the drain decides them.
  const queue = document.getElementById("queue-live");
  if (queue) {
    const say = (text) => {
      queue.querySelector("[data-connection]").textContent = text;
    };
    const field = (name) => queue.querySelector(`[data-field="${name}"]`);
    const rows = () => [...document.querySelectorAll("tr[data-ticket]")];
    let status = null;
    const place = () => {
      if (!status) return;
      for (const row of rows()) {
        if (row.dataset.state !== "queued") continue;
        const same = String(status.generation) === row.dataset.generation;
        const ahead = same ? Math.max(0, Number(row.dataset.seq) - status.serving_seq - 1) : null;
        row.querySelector('[data-field="position"]').textContent = ahead === null ? "-" : `${ahead}명`;
        const wait = ahead !== null && status.drain_rate > 0 ? (ahead + 1) / status.drain_rate : null;
        row.querySelector('[data-field="wait"]').textContent = waitWords(wait);
      }
    };
    const onStatus = (frame) => {
      status = frame;
      field("serving_seq").textContent = frame.serving_seq;
      field("depth").textContent = frame.depth;
      field("drain_rate").textContent = Math.round(frame.drain_rate);
      place();
    };
    const onTicket = (ticket) => {
      const row = rows().find((r) => r.dataset.ticket === ticket.id);
      if (!row) {
        location.reload();
        return;
      }
      row.dataset.state = ticket.state;
      const badge = document.createElement("span");
      badge.className = `badge badge-${ticket.state}`;
      badge.textContent = ticket.label;
      const message = document.createElement("span");
      message.className = "muted";
      message.textContent = ticket.message;
      row.querySelector('[data-field="result"]').replaceChildren(badge, " ", message);
      row.querySelector('[data-field="position"]').textContent = "-";
      row.querySelector('[data-field="wait"]').textContent = "-";
      row.querySelector('[data-field="action"]').replaceChildren();
    };
    // Without a socket: the shared frame every few seconds, and my tickets again only once the
    // frame has reached one of my waiting tickets.
    let polling = 0;
    const poll = async () => {
      try {
        onStatus(await getJson("/api/v1/queue/status"));
        const reached = rows().some(
          (r) => r.dataset.state === "queued" && String(status.generation) === r.dataset.generation && Number(r.dataset.seq) <= status.serving_seq
        );
        if (reached) {
          const mine = await getJson("/api/v1/tickets?limit=30");
          for (const ticket of mine.items) if (ticket.state !== "queued") onTicket(ticket);
        }
      } catch (_) {
        say("서버에 연결할 수 없습니다. 잠시 후 다시 시도합니다.");
      }
    };
    const startPolling = () => {
      if (polling) return;
      say("실시간 연결이 끊겨 3초마다 확인합니다.");
      polling = setInterval(poll, 3000);
      poll();
    };
    const connect = () => {
      let socket;
      try {
        socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/queue/ws`);
      } catch (_) {
        return startPolling();
      }
      socket.addEventListener("open", () => {
        if (polling) {
          clearInterval(polling);
          polling = 0;
        }
        say("실시간으로 연결되었습니다.");
        queue.dataset.live = "websocket";
      });
      socket.addEventListener("message", (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (_) {
          return;
        }
        if (message.type === "status") onStatus(message);
        else if (message.type === "ticket") onTicket(message);
      });
      socket.addEventListener("close", (event) => {
        queue.dataset.live = "polling";
        if (event.code === 4001 || event.code === 4003) {
          say("로그인이 만료되었습니다. 다시 로그인해 주세요.");
          return;
        }
        startPolling();
        setTimeout(connect, 15000);
      });
    };
    if ("WebSocket" in window) connect();
    else startPolling();
  }

  // 운영: the queue's figures every two seconds.
  const admin = document.getElementById("admin-live");
  if (admin) {
    const set = (name, value) => {
      const el = admin.querySelector(`[data-field="${name}"]`);
      if (el) el.textContent = value;
    };
    const refresh = async () => {
      try {
        const overview = await getJson("/api/v1/admin/queue");
        const q = overview.queue;
        set("depth", q.depth);
        set("drain_rate", q.drain_rate.toFixed(1));
        set("oldest_wait", q.oldest_wait_seconds === null ? "-" : waitWords(q.oldest_wait_seconds));
        set("serving_seq", q.serving_seq);
        set("last_seq", q.last_seq);
        set("paused", overview.settings.paused ? "일시정지됨" : "진행 중");
        admin.querySelector("[data-connection]").textContent = "2초마다 갱신";
      } catch (_) {
        admin.querySelector("[data-connection]").textContent = "갱신 실패";
      }
    };
    setInterval(refresh, 2000);
  }
})();
