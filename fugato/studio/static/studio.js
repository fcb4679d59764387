// fugato studio: the page. Plain JavaScript over the JSON API (fugato/studio/app.py).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const state = { session: null, models: [], tune: null, selected: [], anchor: null,
                pending: null, inFlight: false, dance: null };

// -- the API ----------------------------------------------------------------------------------
function status(text, error = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
}

const sessionPath = (tail) => `/api/sessions/${state.session}/${tail}`;
const fileUrl = (id, download = false) => `/api/files/${id}${download ? "?download=1" : ""}`;

async function guarded(label, fn) {
  status(`${label}…`);
  try {
    await fn();
    status("");
  } catch (error) {
    status(error.message, true);
  }
}

function modelOf(view) {
  const select = $(`${view === "attributes" ? "arvae" : view}-model`);
  return select && select.value ? select.value : null;
}

// -- piano rolls --------------------------------------------------------------------------------
function pitchSpan(notes) {
  if (!notes.length) return [60, 72];
  const pitches = notes.map((n) => n[0]);
  return [Math.min(...pitches) - 2, Math.max(...pitches) + 2];
}

function drawNotes(svg, notes, x0, quarterWidth, height, span) {
  const [low, high] = span;
  const row = height / (high - low + 1);
  for (const [pitch, onset, duration] of notes) {
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("class", "note");
    rect.setAttribute("x", x0 + onset * quarterWidth);
    rect.setAttribute("y", (high - pitch) * row);
    rect.setAttribute("width", Math.max(2, duration * quarterWidth - 1));
    rect.setAttribute("height", Math.max(2, row - 1));
    rect.dataset.pitch = pitch;
    rect.dataset.onset = onset;
    rect.dataset.duration = duration;
    svg.appendChild(rect);
  }
}

function miniRoll(notes) {
  const svg = document.createElementNS(SVG, "svg");
  const end = Math.max(4, ...notes.map((n) => n[1] + n[2]));
  svg.setAttribute("viewBox", `0 0 ${end * 20} 90`);
  svg.setAttribute("preserveAspectRatio", "none");
  drawNotes(svg, notes, 0, 20, 90, pitchSpan(notes));
  return svg;
}

const BAR_WIDTH = 150;
const ROLL_HEIGHT = 180;

function drawTune() {
  const svg = $("tune-pianoroll");
  svg.replaceChildren();
  const tune = state.tune;
  if (!tune) return;
  const quarters = tune.bar_quarters;
  const width = tune.bars.length * BAR_WIDTH;
  svg.setAttribute("width", width);
  svg.setAttribute("viewBox", `0 0 ${width} 220`);
  tune.bars.forEach((bar, i) => {
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("class", "bar" + (state.selected.includes(i) ? " selected" : ""));
    rect.setAttribute("x", i * BAR_WIDTH);
    rect.setAttribute("y", 0);
    rect.setAttribute("width", BAR_WIDTH);
    rect.setAttribute("height", ROLL_HEIGHT);
    rect.setAttribute("data-testid", `bar-${i}`);
    rect.addEventListener("click", (event) => selectBar(i, event.shiftKey));
    svg.appendChild(rect);
    const short = Object.entries(bar.attributes)
      .map(([k, v]) => `${k.split("_").map((w) => w[0]).join("")} ${v.toFixed(2)}`);
    [`bar ${i + 1}`, short.slice(0, 2).join("  "), short.slice(2).join("  ")].forEach((text, k) => {
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("class", "label");
      label.setAttribute("x", i * BAR_WIDTH + 4);
      label.setAttribute("y", k === 0 ? 11 : ROLL_HEIGHT + 2 + 13 * k);
      label.textContent = text;
      svg.appendChild(label);
    });
  });
  drawNotes(svg, tune.notes, 0, BAR_WIDTH / quarters, ROLL_HEIGHT, pitchSpan(tune.notes));
  const cursor = document.createElementNS(SVG, "line");
  cursor.setAttribute("id", "cursor");
  cursor.setAttribute("class", "cursor");
  cursor.setAttribute("y1", 0);
  cursor.setAttribute("y2", ROLL_HEIGHT);
  cursor.setAttribute("visibility", "hidden");
  svg.appendChild(cursor);
}

// -- the Attributes view ------------------------------------------------------------------------
function sliderNames() {
  const model = state.models.find((m) => m.name === modelOf("attributes"));
  return model ? model.sliders : [];
}

function buildSliders() {
  const box = $("sliders");
  box.replaceChildren();
  const model = state.models.find((m) => m.name === modelOf("attributes"));
  for (const name of sliderNames()) {
    const row = document.createElement("div");
    row.className = "slider";
    const regularised = model.attributes.includes(name);
    const decoded = el("span", { class: "decoded", id: `attr-value-${name}` }, regularised ? "–" : "");
    if (regularised) decoded.setAttribute("data-testid", `attr-value-${name}`);
    row.append(el("label", { for: `slider-${name}` }, name.replaceAll("_", " ")),
      el("input", { type: "range", id: `slider-${name}`, "data-testid": `slider-${name}`,
                    min: "-4", max: "4", step: "0.05", value: "0" }),
      el("span", { class: "value", id: `offset-${name}` }, "0.00"), decoded);
    box.appendChild(row);
    row.querySelector("input").addEventListener("input", (event) => {
      $(`offset-${name}`).textContent = Number(event.target.value).toFixed(2);
      queueEdit({ [name]: Number(event.target.value) });
    });
  }
}

function showSelection() {
  const tune = state.tune;
  if (!tune) return;
  const chosen = state.selected.length ? state.selected : tune.bars.map((_, i) => i);
  for (const name of sliderNames()) {
    const first = tune.bars[chosen[0]];
    const input = $(`slider-${name}`);
    if (document.activeElement !== input) input.value = first.offsets[name];
    $(`offset-${name}`).textContent = Number(input.value).toFixed(2);
    if (name in first.attributes) {
      const mean = chosen.reduce((s, i) => s + tune.bars[i].attributes[name], 0) / chosen.length;
      $(`attr-value-${name}`).textContent = mean.toFixed(3);
    }
  }
}

function showTune(tune) {
  const audio = $("audio");
  const playing = !audio.paused;
  const at = audio.currentTime;
  state.tune = tune;
  state.selected = state.selected.filter((i) => i < tune.bars.length);
  $("tune-title").textContent = `${tune.title}: ${tune.bars.length} bars, ${tune.seconds.toFixed(1)} s`;
  drawTune();
  showSelection();
  audio.src = fileUrl(tune.wav);
  if (playing) {
    audio.addEventListener("loadedmetadata", () => {
      audio.currentTime = Math.min(at, audio.duration || at);
      audio.play();
    }, { once: true });
  }
  for (const [id, file] of [["download-midi", tune.midi], ["download-wav", tune.wav]]) {
    $(id).href = fileUrl(file, true);
    $(id).classList.remove("disabled");
  }
  $("undo").disabled = !tune.undo;
  $("redo").disabled = !tune.redo;
  $("kept").textContent = tune.kept ? `B: ${tune.kept}` : "";
  $("tempo").value = Math.round(tune.tempo);
  $("key").value = tune.key || "";
}

function selectBar(i, range) {
  if (range && state.anchor !== null) {
    const [a, b] = [Math.min(state.anchor, i), Math.max(state.anchor, i)];
    state.selected = Array.from({ length: b - a + 1 }, (_, k) => a + k);
  } else {
    state.selected = state.selected.length === 1 && state.selected[0] === i ? [] : [i];
    state.anchor = i;
  }
  drawTune();
  showSelection();
}

// slider moves: one request in flight, the newest value waits (older ones are dropped)
function queueEdit(offsets) {
  state.pending = { ...(state.pending || {}), ...offsets };
  if (!state.inFlight) sendEdit();
}

async function sendEdit() {
  if (!state.pending || !state.tune) return;
  const offsets = state.pending;
  state.pending = null;
  state.inFlight = true;
  try {
    const tune = await request(sessionPath("tune/edit"), { model: modelOf("attributes"),
      bars: state.selected, offsets });
    showTune(tune);
    status("");
  } catch (error) {
    status(error.message, true);
  } finally {
    state.inFlight = false;
    if (state.pending) sendEdit();
  }
}

async function tuneAction(label, tail, body = {}) {
  await guarded(label, async () => {
    showTune(await request(sessionPath(tail), { model: modelOf("attributes"), ...body }));
  });
}

function initAttributes() {
  $("upload").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    await guarded(`Reading ${file.name}`, async () => {
      const query = `?filename=${encodeURIComponent(file.name)}&model=${encodeURIComponent(modelOf("attributes"))}`;
      state.selected = [];
      showTune(await request(sessionPath("tune/upload") + query, file));
    });
    event.target.value = "";
  });
  $("draw").addEventListener("click", () => {
    state.selected = [];
    tuneAction("Drawing", "tune/load", { source: "prior", bars: Number($("prior-bars").value),
      temperature: Number($("prior-temperature").value), seed: Number($("prior-seed").value) });
  });
  $("load-corpus").addEventListener("click", () => {
    state.selected = [];
    tuneAction("Loading the corpus (the first time parses it)", "tune/load",
      { source: "corpus", corpus: $("corpus").value, index: Number($("corpus-index").value) });
  });
  $("select-all").addEventListener("click", () => {
    state.selected = state.tune ? state.tune.bars.map((_, i) => i) : [];
    drawTune();
    showSelection();
  });
  $("reset-sliders").addEventListener("click", () => {
    const zero = Object.fromEntries(sliderNames().map((n) => [n, 0]));
    queueEdit(zero);
  });
  $("undo").addEventListener("click", () => tuneAction("Undo", "tune/undo"));
  $("redo").addEventListener("click", () => tuneAction("Redo", "tune/redo"));
  $("keep").addEventListener("click", () => tuneAction("Keeping", "tune/keep"));
  $("interpolate").addEventListener("click", () => {
    const chosen = [...state.selected].sort((a, b) => a - b);
    if (chosen.length < 2) {
      status("select two bars (shift-click for a range) to interpolate between", true);
      return;
    }
    state.selected = [];
    tuneAction("Interpolating", "tune/interpolate", { between: "bars",
      bars: [chosen[0], chosen[chosen.length - 1]], steps: Number($("interp-steps").value) });
  });
  $("interpolate-tunes").addEventListener("click", () => {
    state.selected = [];
    tuneAction("Interpolating", "tune/interpolate", { between: "tunes",
      steps: Number($("interp-steps").value) });
  });
  const tonics = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
  for (const mode of ["major", "minor"]) {
    for (const tonic of tonics) $("key").appendChild(new Option(`${tonic} ${mode}`, `${tonic} ${mode}`));
  }
  $("key").addEventListener("change", () =>
    tuneAction("Key", "tune/key", { key: $("key").value }));
  $("tempo").addEventListener("change", () =>
    tuneAction("Tempo", "tune/tempo", { tempo: Number($("tempo").value) }));
  $("download-musicxml").addEventListener("click", () => guarded("Writing MusicXML", async () => {
    const { file } = await request(sessionPath("tune/export"), { model: modelOf("attributes") });
    window.location.href = fileUrl(file, true);
  }));
  const audio = $("audio");
  $("play").addEventListener("click", () => audio.play());
  $("stop").addEventListener("click", () => { audio.pause(); audio.currentTime = 0; });
  $("loop").addEventListener("change", (event) => { audio.loop = event.target.checked; });
  $("arvae-model").addEventListener("change", () => { buildSliders(); state.tune = null;
    drawTune(); });
  audio.addEventListener("timeupdate", moveCursor);
}

function moveCursor() {
  const cursor = $("cursor");
  const tune = state.tune;
  if (!cursor || !tune) return;
  const quarters = $("audio").currentTime * tune.tempo / 60;
  const x = quarters * BAR_WIDTH / tune.bar_quarters;
  cursor.setAttribute("x1", x);
  cursor.setAttribute("x2", x);
  cursor.setAttribute("visibility", "visible");
}

// -- Fusion and Sequences -----------------------------------------------------------------------
function melodyCard(melody, ...extra) {
  const card = el("div", { class: "card" }, el("h4", {}, melody.title), ...extra);
  card.appendChild(miniRoll(melody.notes));
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "auto";
  audio.src = fileUrl(melody.wav);
  card.appendChild(audio);
  const link = document.createElement("a");
  link.className = "button";
  link.href = fileUrl(melody.midi, true);
  link.textContent = "MIDI";
  card.appendChild(link);
  return card;
}

function initFusion() {
  $("fusion-sample").addEventListener("click", () => guarded("Sampling", async () => {
    const result = await request(sessionPath("fusion"), { model: modelOf("fusion"),
      generator: $("fusion-generator").value, n: Number($("fusion-n").value),
      temperature: Number($("fusion-temperature").value), seed: Number($("fusion-seed").value) });
    const [a] = result.genres;
    $("fusion-list").replaceChildren(...result.melodies.map((m) => {
      const p = m.p_genre_a;
      const filled = el("div");
      filled.style.width = `${(100 * p).toFixed(1)}%`;  // a style property: the CSP allows it
      const card = melodyCard(m, el("div", { class: "muted", "data-testid": "p-genre-a" },
        `P(${a}) = ${p.toFixed(3)}`), el("div", { class: "meter" }, filled));
      card.setAttribute("data-testid", "fusion-melody");
      return card;
    }));
  }));
}

function initSequences() {
  $("sequences-sample").addEventListener("click", () => guarded("Drawing", async () => {
    const result = await request(sessionPath("sequences"), { model: modelOf("sequences"),
      n: Number($("sequences-n").value), seed: Number($("sequences-seed").value) });
    $("sequences-hmm").replaceChildren(...result.hmm.map((m) => melodyCard(m)));
    $("sequences-gmm").replaceChildren(...result.gmm.map((m) => melodyCard(m)));
  }));
}

// -- Dance: a stick figure in sync with the song ----------------------------------------------
function drawDance() {
  const canvas = $("dance-canvas");
  const dance = state.dance;
  requestAnimationFrame(drawDance);
  if (!dance) return;
  const audio = $("dance-audio");
  const frame = Math.min(dance.positions.length - 1, Math.floor(audio.currentTime * dance.fps));
  if (canvas.dataset.frame === String(frame)) return;
  canvas.dataset.frame = frame;
  const ctx = canvas.getContext("2d");
  const joints = dance.positions[frame];
  const [cx, cz] = [dance.center[0], dance.center[2]];
  const [yaw, pitch] = [0.6, 0.3];  // a three-quarter view from a little above
  const project = ([x, y, z]) => {
    const [dx, dz] = [x - cx, z - cz];
    const rx = dx * Math.cos(yaw) - dz * Math.sin(yaw);
    const rz = dx * Math.sin(yaw) + dz * Math.cos(yaw);
    const ry = y * Math.cos(pitch) - rz * Math.sin(pitch);
    const depth = y * Math.sin(pitch) + rz * Math.cos(pitch);
    const scale = 140 / (1 + 0.12 * depth);
    return [canvas.width / 2 + rx * scale, canvas.height - 110 - ry * scale];
  };
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#ced4da";
  ctx.beginPath();
  for (let k = -1; k <= 1; k += 0.5) {  // a 2 m floor grid under the dancer's mean place
    for (const [a, b] of [[[k, 0, -1], [k, 0, 1]], [[-1, 0, k], [1, 0, k]]]) {
      const p = project([a[0] + cx, 0, a[2] + cz]);
      const q = project([b[0] + cx, 0, b[2] + cz]);
      ctx.moveTo(...p);
      ctx.lineTo(...q);
    }
  }
  ctx.stroke();
  ctx.strokeStyle = "#364fc7";
  ctx.lineWidth = 4;
  ctx.lineCap = "round";
  ctx.beginPath();
  dance.parents.forEach((parent, j) => {
    if (parent < 0) return;
    ctx.moveTo(...project(joints[parent]));
    ctx.lineTo(...project(joints[j]));
  });
  ctx.stroke();
  ctx.fillStyle = "#6b7280";
  ctx.font = "12px system-ui";
  ctx.fillText(`${(frame / dance.fps).toFixed(2)} s, frame ${frame}`, 8, 16);
}

function initDance() {
  $("dance-upload").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    await guarded(`Choreographing ${file.name}`, async () => {
      const query = `?filename=${encodeURIComponent(file.name)}&seconds=${$("dance-seconds").value}` +
        `&seed=${$("dance-seed").value}` + (modelOf("dance") ? `&model=${encodeURIComponent(modelOf("dance"))}` : "");
      const dance = await request(sessionPath("dance/choreograph") + query, file);
      const all = dance.positions.flat();
      dance.center = [0, 1, 2].map((k) => all.reduce((s, p) => s + p[k], 0) / all.length);
      state.dance = dance;
      $("dance-canvas").dataset.frame = "";
      $("dance-audio").src = fileUrl(dance.wav);
      $("download-bvh").href = fileUrl(dance.bvh, true);
      $("download-bvh").classList.remove("disabled");
    });
    event.target.value = "";
  });
  $("motion-upload").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    await guarded(`Composing for ${file.name}`, async () => {
      const query = `?filename=${encodeURIComponent(file.name)}&seed=${$("dance-seed").value}` +
        (modelOf("dance") ? `&model=${encodeURIComponent(modelOf("dance"))}` : "");
      $("composed").replaceChildren(melodyCard(await request(sessionPath("dance/compose") + query, file)));
    });
    event.target.value = "";
  });
  requestAnimationFrame(drawDance);
}

// -- Separate ---------------------------------------------------------------------------------
function initSeparate() {
  $("separate-upload").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    await guarded(`Separating ${file.name}`, async () => {
      const query = `?filename=${encodeURIComponent(file.name)}` +
        (modelOf("separate") ? `&model=${encodeURIComponent(modelOf("separate"))}` : "");
      const result = await request(sessionPath("separate") + query, file);
      $("stems").replaceChildren(...["vocals", "accompaniment"].map((label) => {
        return el("div", { class: "card" }, el("h4", {}, label),
          el("audio", { controls: "", preload: "auto", "data-testid": `stem-${label}`,
                        src: fileUrl(result[label]) }),
          el("a", { class: "button", "data-testid": `download-${label}`,
                    href: fileUrl(result[label], true) }, "WAV"));
      }));
    });
    event.target.value = "";
  });
}

// -- start --------------------------------------------------------------------------------------
function showView(view) {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.view === view);
  }
  for (const section of document.querySelectorAll(".view")) {
    section.classList.toggle("active", section.id === `view-${view}`);
  }
}

function fillModels() {
  const hints = { dance: "No dance model is loaded: start the studio with a dualdance run, " +
    "e.g. fugato studio runs/dualdance-quick (none ships: the dance data may not be redistributed)." };
  for (const view of ["attributes", "fusion", "sequences", "dance", "separate"]) {
    const models = state.models.filter((m) => m.view === view);
    const select = $(`${view === "attributes" ? "arvae" : view}-model`);
    select.replaceChildren(...models.map((m) => new Option(m.name, m.name)));
    document.querySelector(`#tabs button[data-view="${view}"]`).classList.toggle("empty", !models.length);
    if (!models.length && hints[view]) $(`${view}-hint`).textContent = hints[view];
  }
  const fusion = state.models.find((m) => m.view === "fusion");
  if (fusion) {
    $("fusion-generator").replaceChildren(...fusion.generators.map((g) => new Option(g, g)));
    $("fusion-generator").value = "F";
  }
}

async function start() {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => showView(button.dataset.view));
  }
  initAttributes();
  initFusion();
  initSequences();
  initDance();
  initSeparate();
  await guarded("Starting", async () => {
    const served = await request("/api/models");
    state.models = served.models;
    $("corpora").replaceChildren(...served.corpora.map((name) => new Option(name, name)));
    state.session = (await request("/api/sessions", {})).session;
    // an open tab touches its session every minute: the studio evicts idle sessions only
    setInterval(() => request(`/api/sessions/${state.session}`)
      .catch((error) => status(error.message, true)), 60_000);
    fillModels();
    buildSliders();
  });
  document.body.dataset.ready = "true";
}

start();
