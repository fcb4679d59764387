// A listener's page: one item at a time, answers sent as they are given. The token lives in
// localStorage, so closing the tab and coming back continues where the listener stopped. The
// answers open only once the clip (a ranking's song) has played for the test's share of it.
"use strict";

const name = decodeURIComponent(location.pathname.split("/")[2]);
const api = `/api/listen/${encodeURIComponent(name)}`;
const tokenKey = `fugato-listen-${name}`;
let current = null;
let chosen = {};

const call = (path, body) => request(api + path, body);

function status(text) { $("status").textContent = text; }

function choiceButtons(question) {
  const box = document.createElement("div");
  box.className = "row";
  const [a, b] = question.choices;
  const shown = question.name === "recognition"  // the paper's wording of the choices
    ? { [a]: `pure ${a}`, [b]: `pure ${b}`, mixture: `mixture of ${a} and ${b}` } : {};
  for (const choice of question.choices) {
    const button = document.createElement("button");
    button.textContent = shown[choice] || choice;
    button.dataset.choice = choice;
    button.setAttribute("data-testid", `answer-${choice}`);
    button.addEventListener("click", () => {
      chosen[question.name] = choice;
      for (const b of box.querySelectorAll("button")) b.classList.toggle("chosen", b === button);
      button.setAttribute("aria-pressed", "true");
      ready();
    });
    box.appendChild(button);
  }
  return box;
}

function rankSelects(question, clips) {
  const box = document.createElement("div");
  box.className = "row";
  clips.forEach((clip, k) => {
    const label = document.createElement("label");
    label.textContent = `Dance ${k + 1}: rank `;
    const select = document.createElement("select");
    select.setAttribute("data-testid", `rank-${question.name}-${k}`);
    select.append(new Option("–", ""), ...clips.map((_, r) => new Option(String(r + 1), String(r + 1))));
    select.addEventListener("change", () => {
      const ranks = [...box.querySelectorAll("select")].map((s) => Number(s.value));
      const complete = ranks.every((r) => r > 0) && new Set(ranks).size === ranks.length;
      if (complete) {
        chosen[question.name] = ranks.map((r, i) => [r, clips[i].id]).sort((a, b) => a[0] - b[0])
          .map(([, id]) => id);
      } else {
        delete chosen[question.name];
      }
      ready();
    });
    label.appendChild(select);
    box.appendChild(label);
  });
  return box;
}

function ready() {
  $("next").disabled = !current || current.questions.some((q) => !(q.name in chosen));
}

function drawStick(canvas, dance, time) {
  const frame = Math.min(dance.positions.length - 1, Math.floor(time * dance.fps));
  const ctx = canvas.getContext("2d");
  const all = dance.positions[0];
  const cx = all.reduce((s, p) => s + p[0], 0) / all.length;
  const cz = all.reduce((s, p) => s + p[2], 0) / all.length;
  const project = ([x, y, z]) => [canvas.width / 2 + (x - cx) * 110 + (z - cz) * 30,
                                  canvas.height - 20 - y * 110 - (z - cz) * 20];
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#364fc7";
  ctx.lineWidth = 3;
  ctx.beginPath();
  dance.parents.forEach((parent, j) => {
    if (parent < 0) return;
    ctx.moveTo(...project(dance.positions[frame][parent]));
    ctx.lineTo(...project(dance.positions[frame][j]));
  });
  ctx.stroke();
}

// Seconds of `audio` played: what its `played` ranges cover, so skipping ahead adds nothing.
function playedSeconds(audio) {
  let seconds = 0;
  for (let i = 0; i < audio.played.length; i += 1) seconds += audio.played.end(i) - audio.played.start(i);
  return seconds;
}

// The answers stay closed until `audio` has played for `share` of its length (0: at once).
function openWhenHeard(item, audio, share) {
  const questions = $("questions");
  const check = () => {
    const heard = share <= 0 || (audio.duration > 0
      && playedSeconds(audio) + 0.25 >= share * audio.duration);  // events come every 250 ms
    if (current !== item || !heard || !questions.disabled) return;
    questions.disabled = false;
    $("play-first").textContent = "";
  };
  questions.disabled = true;
  $("play-first").textContent = share >= 1 ? "Play the clip to its end, then answer."
    : `Play at least ${Math.round(100 * share)}% of the clip, then answer.`;
  for (const event of ["timeupdate", "ended", "pause"]) audio.addEventListener(event, check);
  check();
}

async function showClips(item) {
  const box = $("clips");
  box.replaceChildren();
  delete box.dataset.loaded;
  const audio = el("audio", { controls: "", preload: "auto", "data-testid": "listen-audio",
                              src: item.kind === "genre" ? item.clips[0].url : item.song });
  box.appendChild(audio);
  openWhenHeard(item, audio, item.min_played);
  if (item.kind === "genre") return;
  const row = document.createElement("div");
  row.className = "cards";
  box.appendChild(row);
  // The cards come first, so the page has its shape before the dances arrive.
  const canvases = item.clips.map((clip, k) => {
    const card = el("div", { class: "card" }, el("h4", {}, `Dance ${k + 1}`));
    const canvas = document.createElement("canvas");
    canvas.width = 260;
    canvas.height = 260;
    card.appendChild(canvas);
    row.appendChild(card);
    return canvas;
  });
  const dances = await Promise.all(item.clips.map((c) => fetch(c.url).then((r) => r.json())));
  box.dataset.loaded = "true";
  const tick = () => {
    if (current !== item) return;
    dances.forEach((d, k) => drawStick(canvases[k], d, audio.currentTime));
    requestAnimationFrame(tick);
  };
  tick();
}

function show(state) {
  $("progress").textContent = `${state.progress.answered} of ${state.progress.total} answered`;
  if (state.done) {
    current = null;
    $("item").hidden = true;
    $("done").hidden = false;
    return;
  }
  current = state;
  chosen = {};
  $("item").hidden = false;
  $("stage").textContent = state.stage === "qualify" ? "First, a few genre questions"
    : "Listen, then answer";
  showClips(state);
  const questions = $("questions");
  questions.replaceChildren();
  for (const q of state.questions) {
    const block = el("div", {}, el("p", {}, el("strong", {}, q.prompt)));
    block.appendChild(q.choices.length ? choiceButtons(q) : rankSelects(q, state.clips));
    questions.appendChild(block);
  }
  ready();
}

async function start() {
  try {
    let token = localStorage.getItem(tokenKey);
    let state = null;
    if (token) state = await call(`/next?token=${token}`).catch(() => null);
    if (!state) {
      token = (await call("/listeners", {})).token;
      localStorage.setItem(tokenKey, token);
      state = await call(`/next?token=${token}`);
    }
    $("next").addEventListener("click", async () => {
      $("next").disabled = true;
      try {
        show(await call("/answers", { token, item: current.item, answers: chosen }));
        status("");
      } catch (error) {
        status(error.message);
        ready();
      }
    });
    show(state);
  } catch (error) {
    status(error.message);
  }
  document.body.dataset.ready = "true";
}

start();
