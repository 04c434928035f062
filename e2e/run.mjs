// Classmate's browser tests: every page of the web UI driven in Debian's chromium by
// playwright-core, each page checked by axe-core (no `serious` or `critical` violation) and
// photographed at desktop and phone width under reports/ui/<backend>/.
//
//   node e2e/run.mjs                # the embedded default, then PostgreSQL + Redis
//   node e2e/run.mjs embedded       # one backend
//
// It needs target/debug/classmate (cargo build -p classmate), /usr/bin/chromium and, for
// `postgres`, PostgreSQL on 127.0.0.1:5432 and Redis on 6379 (CLASSMATE_TEST_DATABASE_URL,
// CLASSMATE_TEST_REDIS_URL). A backend it cannot reach fails the run.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const bin = process.env.CLASSMATE_BIN || join(root, "target/debug/classmate");
const chromiumPath = process.env.CLASSMATE_CHROMIUM || "/usr/bin/chromium";
const password = "e2e-student-password";
const adminPassword = "e2e-admin-password";
// A listed course by its title alone (another course's clash warning may name it too).
const card = (page, title) => page.locator(".hit").filter({ has: page.locator(".title", { hasText: title }) }).first();
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });

const until = async (what, check, seconds = 30) => {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      if (await check()) return;
    } catch (_) {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

// 초성 of a Hangul text: what a student types to find 자료구조 as ㅈㄹㄱㅈ.
const CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ";
const choseong = (text) =>
  [...text]
    .map((c) => {
      const code = c.charCodeAt(0) - 0xac00;
      return code >= 0 && code < 11172 ? CHOSEONG[Math.floor(code / 588)] : "";
    })
    .join("");

/** The backend's environment, made fresh; and how to clean it up. */
function backend(name, work) {
  if (name === "embedded") {
    return { env: { CLASSMATE_DATABASE_URL: `sqlite://${work}/classmate.db` }, drop: () => {} };
  }
  const base = process.env.CLASSMATE_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
  const db = `classmate_e2e_${process.pid}_${Date.now()}`;
  execFileSync("psql", [base, "-q", "-c", `CREATE DATABASE ${db}`]);
  const url = new URL(base);
  url.pathname = `/${db}`;
  return {
    env: {
      CLASSMATE_DATABASE_URL: url.toString(),
      CLASSMATE_REDIS_URL: process.env.CLASSMATE_TEST_REDIS_URL || "redis://127.0.0.1:6379",
      CLASSMATE_LOCK_ENV: db,
    },
    drop: () => execFileSync("psql", [base, "-q", "-c", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]),
  };
}

async function checkPage(page, label, shots, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `axe on ${label}`
  );
  await page.screenshot({ path: join(shots, `${name}-desktop.png`), fullPage: true });
}

async function run(name) {
  const work = mkdtempSync(join(tmpdir(), "classmate-e2e-"));
  const shots = join(root, "reports/ui", name);
  mkdirSync(shots, { recursive: true });
  const { env: store, drop } = backend(name, work);
  const env = { ...process.env, ...store, CLASSMATE_LOG: "warn" };
  let server;
  let browser;
  try {
    execFileSync(bin, ["seed", "--courses", "300", "--students", "20", "--password", password, "--manifest", join(work, "manifest.json")], { env, stdio: "pipe" });
    const manifest = JSON.parse(readFileSync(join(work, "manifest.json"), "utf8"));
    const [number, studentName] = readFileSync(join(work, "seed-unclaimed.csv"), "utf8").split("\n")[1].split(",");
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = spawn(bin, ["serve"], {
      env: { ...env, CLASSMATE_BIND: `127.0.0.1:${port}`, CLASSMATE_ADMIN_USERNAME: "e2e-admin", CLASSMATE_ADMIN_PASSWORD: adminPassword },
      stdio: ["ignore", "inherit", "inherit"],
    });
    await until("the server", async () => (await fetch(`${base}/readyz`)).ok);

    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    });
    const student = await browser.newContext({ viewport: DESKTOP, locale: "ko-KR" });
    const admin = await browser.newContext({ viewport: DESKTOP, locale: "ko-KR" });
    const page = await student.newPage();
    const desk = await admin.newPage();
    const visited = [];
    const check = async (p, label, shot) => {
      await checkPage(p, label, shots, shot);
      visited.push({ context: p === page ? "student" : "admin", path: new URL(p.url()).pathname + new URL(p.url()).search, shot });
    };

    // 회원가입: the Korean messages beside the fields, then a roster student signs up.
    await page.goto(`${base}/signup`);
    await page.getByRole("button", { name: "가입하기" }).click();
    await page.waitForURL(`${base}/signup`);
    const summary = page.locator(".error-summary");
    await summary.waitFor();
    assert.match(await summary.innerText(), /학번/);
    assert.equal(await page.locator("#student_number").getAttribute("aria-invalid"), "true");
    await check(page, "sign-up errors", "signup-errors");
    await page.getByLabel("학번").fill(number);
    await page.getByLabel("이름").fill(studentName);
    await page.getByLabel("비밀번호", { exact: true }).fill(password);
    await page.getByLabel("비밀번호 확인").fill(password);
    await page.getByRole("button", { name: "가입하기" }).click();
    await page.waitForURL(`${base}/login`);
    assert.match(await page.locator(".notice").innerText(), /가입되었습니다/);
    await check(page, "log-in", "login");

    // 로그인: a wrong password first, then the right one.
    await page.getByLabel("학번").fill(number);
    await page.getByLabel("비밀번호").fill("not-the-password");
    await page.getByRole("button", { name: "로그인" }).click();
    assert.match(await page.locator(".error-summary").innerText(), /비밀번호가 올바르지 않습니다/);
    await page.getByLabel("비밀번호").fill(password);
    await page.getByRole("button", { name: "로그인" }).click();
    await page.waitForURL(`${base}/courses`);
    await check(page, "search", "courses");

    // 강의 검색: a word, 초성, a code typed loosely, and autocomplete.
    const hot = manifest.hot_courses[0];
    const word = hot.title.split(" ").find((w) => /[가-힣]{2,}/.test(w)) || hot.title;
    const search = async (text) => {
      await page.getByRole("combobox", { name: "검색어" }).fill(text);
      await page.getByRole("button", { name: "검색", exact: true }).click();
      await page.waitForURL(/\/courses\?/);
      return page.locator(".hit .title").allInnerTexts();
    };
    assert.ok((await search(word)).some((t) => t.includes(word)), `a word: ${word}`);
    assert.ok((await search(choseong(word))).some((t) => t.includes(word)), `초성: ${choseong(word)}`);
    const loose = hot.code.split("-")[0].toLowerCase();
    await search(loose);
    assert.ok((await page.locator(".hit .code").allInnerTexts()).some((c) => c.startsWith(hot.code.split("-")[0])), `code: ${loose}`);
    await page.getByRole("combobox", { name: "검색어" }).fill("");
    await page.getByRole("combobox", { name: "검색어" }).pressSequentially(word.slice(0, 2), { delay: 50 });
    await page.locator("#q-suggestions [role=option]").first().waitFor();
    assert.equal(await page.getByRole("combobox", { name: "검색어" }).getAttribute("aria-expanded"), "true");
    await page.keyboard.press("Escape");

    // 담기: the hot course, then a course that meets at the same time.
    await search(hot.code);
    const hit = card(page, hot.title);
    await hit.getByRole("button", { name: /담기/ }).click();
    await page.waitForURL(/\/courses/);
    assert.match(await page.locator(".notice").innerText(), /장바구니에 담았습니다/);
    const clashing = await page.evaluate(async (hotId) => {
      const one = await (await fetch(`/api/v1/courses/${hotId}`)).json();
      const overlaps = (a, b) => a.weekday === b.weekday && a.start_min < b.end_min && b.start_min < a.end_min;
      for (const m of one.meetings) {
        const found = await (await fetch(`/api/v1/courses/search?weekday=${m.weekday}&limit=100`)).json();
        const other = found.items.map((i) => i.course).find((c) => c.id !== one.id && c.is_open && c.meetings.some((n) => overlaps(m, n)));
        if (other) return other;
      }
      return null;
    }, hot.id);
    assert.ok(clashing, "a course meeting at the hot course's time");
    await search(clashing.code);
    await card(page, clashing.title).getByRole("button", { name: /담기/ }).click();
    await page.goto(`${base}/cart`);
    const warning = card(page, hot.title).locator(".clash-warning");
    assert.match(await warning.innerText(), /시간 중복/);
    assert.ok((await page.locator(".timetable .block.clash").count()) >= 2, "the clash on the timetable preview");
    await check(page, "cart", "cart");

    // 운영자: log in, set the opening a day ahead.
    await desk.goto(`${base}/admin`);
    await desk.waitForURL(/\/admin\/login/);
    await check(desk, "admin log-in", "admin-login");
    await desk.getByLabel("아이디").fill("e2e-admin");
    await desk.getByLabel("비밀번호").fill(adminPassword);
    await desk.getByRole("button", { name: "로그인" }).click();
    await desk.waitForURL(`${base}/admin`);
    const tomorrow = new Date(Date.now() + 9 * 3600e3 + 86400e3).toISOString().slice(0, 16);
    await desk.getByLabel("시작 시각 (한국 시간)").fill(tomorrow);
    await desk.getByRole("button", { name: "시작 시각 저장" }).click();
    assert.match(await desk.locator(".notice").innerText(), /시작 시각을 바꿨습니다/);

    // Before the opening, 신청 is refused in Korean.
    await card(page, clashing.title).getByRole("button", { name: /빼기/ }).click();
    await page.waitForURL(`${base}/cart`);
    await card(page, hot.title).getByRole("button", { name: /신청/ }).click();
    await page.waitForURL(`${base}/cart`);
    assert.match(await page.locator(".notice-error").innerText(), /수강신청 기간이 아닙니다/);

    // The administrator opens registration and pauses the drain.
    await desk.getByRole("button", { name: "지금 열기" }).click();
    assert.match(await desk.locator(".notice").innerText(), /열었습니다/);
    await desk.getByRole("button", { name: "처리 일시정지" }).click();
    assert.match(await desk.locator(".notice").innerText(), /일시정지했습니다/);
    assert.equal(await desk.locator('[data-field="paused"]').innerText(), "일시정지됨");
    await check(desk, "admin", "admin");

    // 신청 through the queue: the ticket waits while the drain is paused, then its result
    // arrives on the WebSocket without a reload.
    await card(page, hot.title).getByRole("button", { name: /신청/ }).click();
    await page.waitForURL(`${base}/queue`);
    const row = page.locator("tr[data-ticket]").first();
    assert.equal(await row.getAttribute("data-state"), "queued");
    await page.locator("#queue-live[data-live=websocket]").waitFor();
    await page.evaluate(() => (window.stayed = true));
    await check(page, "queue", "queue");
    await desk.getByRole("button", { name: "처리 재개" }).click();
    await until("the live result", async () => (await row.getAttribute("data-state")) === "enrolled", 20);
    assert.equal(await row.locator(".badge").innerText(), "신청 완료");
    assert.equal(await page.evaluate(() => window.stayed), true, "the result came without a reload");

    // 시간표, then 수강 취소 with its confirmation.
    await page.getByRole("link", { name: "시간표", exact: true }).click();
    await page.waitForURL(`${base}/timetable`);
    assert.ok(await page.locator(".timetable .block", { hasText: hot.title }).count(), "the course on the grid");
    await check(page, "timetable", "timetable");
    await page.getByRole("link", { name: new RegExp(`수강 취소\\s*:\\s*${hot.title}`) }).click();
    await page.waitForURL(/\/timetable\/cancel/);
    await check(page, "cancel confirmation", "cancel");
    await page.getByRole("button", { name: "수강 취소" }).click();
    await page.waitForURL(`${base}/timetable`);
    assert.match(await page.locator(".notice").innerText(), /수강 취소되었습니다/);
    assert.equal(await page.locator(".timetable .block", { hasText: hot.title }).count(), 0);

    // 강좌 관리: the administrator edits a course.
    await desk.goto(`${base}/admin/courses?q=${encodeURIComponent(hot.code)}`);
    await check(desk, "courses (admin)", "admin-courses");
    await desk.getByRole("link", { name: new RegExp(`수정\\s*:\\s*${hot.title}`) }).first().click();
    await desk.waitForURL(/\/admin\/courses\/\d+/);
    await check(desk, "course edit", "course-edit");
    await desk.getByLabel("정원").fill(String(hot.capacity + 5));
    await desk.getByRole("button", { name: "저장" }).click();
    assert.match(await desk.locator(".notice").innerText(), /저장했습니다/);
    assert.equal(await desk.getByLabel("정원").inputValue(), String(hot.capacity + 5));

    // Phone width: the same pages, checked and photographed again.
    const phones = {
      student: await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, locale: "ko-KR" }),
      admin: await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, locale: "ko-KR" }),
    };
    await phones.student.addCookies(await student.cookies());
    await phones.admin.addCookies(await admin.cookies());
    for (const { context, path, shot } of visited) {
      const p = await phones[context].newPage();
      await p.goto(`${base}${path}`);
      await p.evaluate(axeSource);
      const result = await p.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
      const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      assert.deepEqual(bad.map((v) => v.id), [], `axe on ${path} at phone width`);
      const wide = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide <= PHONE.width + 1, `${path} fits a phone (${wide}px)`);
      await p.screenshot({ path: join(shots, `${shot}-phone.png`), fullPage: true });
      await p.close();
    }

    // 로그아웃: the session ends; the cart asks for a log-in again.
    await page.getByRole("button", { name: "로그아웃" }).click();
    await page.waitForURL(`${base}/login`);
    assert.match(await page.locator(".notice").innerText(), /로그아웃되었습니다/);
    await page.goto(`${base}/cart`);
    await page.waitForURL(/\/login\?next=/);
    console.log(`e2e ${name}: passed (${visited.length} pages, screenshots in reports/ui/${name}/)`);
  } finally {
    if (browser) await browser.close();
    if (server) {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("exit", r));
    }
    drop();
    rmSync(work, { recursive: true, force: true });
  }
}

const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : ["embedded", "postgres"]) {
  await run(name);
}
