// The ibench rating component: one item, the rubric and keyboard shortcuts; sends one `action`.
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".rater");
  const started = performance.now();
  const pairwise = data.kind === "pairwise";
  const rows = pairwise ? data.questions.map((q) => q.aspect) : [...data.checklist.map((_, i) => i), "pq"];
  const own = data.own || {};
  const values = pairwise ? rows.map((a) => (own.choice || {})[a] ?? null)
    : [...data.checklist.map((_, i) => (own.conditions || [])[i] ?? null), own.pq ?? null];
  let active = Math.max(0, values.indexOf(null));
  let busy = false;

  const el = (tag, attrs = {}, ...kids) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") n.className = v;
      else if (k === "text") n.textContent = v;
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v);
    }
    for (const c of kids) if (c !== null && c !== undefined && c !== false) n.append(c);
    return n;
  };
  const send = (action) => {
    if (busy) return;
    busy = true;
    setTriggerValue("action", { ...action, ms: Math.round(performance.now() - started) });
  };

  // -- overlays: an enlarged reference, the full rubric --------------------------------------------------
  const overlay = el("div", { class: "overlay", onclick: () => overlay.classList.remove("open") });
  const enlarge = (src) => { overlay.replaceChildren(el("img", { src, alt: "enlarged reference" })); overlay.classList.add("open"); };
  const guide = () => {
    const g = data.guide;
    const box = el("div", { class: "guide", onclick: (e) => e.stopPropagation() },
      el("h3", { text: "Rating guide (ImagenHub)" }), el("p", { text: g.sc }),
      el("ul", {}, ...g.sc_levels.map((t) => el("li", { text: t }))), el("p", { text: g.pq }),
      el("ul", {}, ...g.pq_levels.map((t) => el("li", { text: t }))), ...g.notes.map((t) => el("p", { text: t })),
      el("p", { class: "hint", text: "Esc or a click outside closes this." }));
    overlay.replaceChildren(box);
    overlay.classList.add("open");
  };

  // -- the three panels -----------------------------------------------------------------------------------
  const refs = data.refs.map((r) => el("div", { class: "ref" },
    el("div", { class: "head", text: `[${r.marker}] ${r.kind}${r.caption ? " · " + r.caption : ""}` }),
    ...r.images.map((src, k) => (src ? el("img", { src, alt: `${r.marker} view ${k + 1}`, onclick: () => enlarge(src) })
      : el("span", { class: "missing", text: "missing image" })))));
  const instr = el("div", { class: "instr" },
    data.notice ? el("div", { class: "notice", text: data.notice }) : null,
    el("p", { class: "text", text: data.text }), el("div", { class: "target", text: `plain prompt: ${data.target}` }),
    ...refs);
  const sides = pairwise ? ["Left", "Right"] : ["Output"];
  const outs = el("div", { class: "outs" }, ...data.images.map((src, k) => el("div", { class: "out" },
    el("div", { class: "side", text: sides[k] }),
    src ? el("img", { src, alt: `${sides[k].toLowerCase()} output` }) : el("span", { class: "missing", text: "image missing: skip or flag this item" }))));

  const qBoxes = [];
  const choiceSets = pairwise
    ? rows.map(() => [["left", "A", "◀ Left"], ["tie", "T", "= Tie"], ["right", "B", "Right ▶"]])
    : rows.map((r) => data.levels.map((v, i) => [v, String(v === 0.5 ? 5 : v), r === "pq" ? data.pq_levels[i] : data.condition_levels[i]]));
  const labels = pairwise ? data.questions.map((q) => q.text)
    : [...data.checklist, "Perceptual quality of the output"];
  rows.forEach((_, r) => {
    const buttons = choiceSets[r].map(([v, key, text]) => el("button", {
      type: "button", "data-value": String(v), title: text,
      onclick: () => { set(r, v); }
    }, el("kbd", { text: key }), text.split(" · ")[0]));
    const q = el("div", { class: "q", "data-row": String(r), onclick: () => { active = r; paint(); } },
      el("div", { class: "label", text: `${r + 1}. ${labels[r]}` }), el("div", { class: "choices" }, ...buttons));
    qBoxes.push([q, buttons]);
  });
  const reason = el("input", { type: "text", placeholder: "why flag this item? (Enter to flag, Esc to cancel)" });
  const flagbox = el("div", { class: "flagbox" }, reason,
    el("button", { type: "button", text: "Flag", onclick: () => send({ type: "flag", reason: reason.value }) }));
  const feedback = data.expected ? el("div", { class: "feedback" }, pairwise
    ? `Expected: ${Object.entries(data.expected.choice).map(([a, v]) => `${a.toUpperCase()} ${v}`).join(", ")}`
    : `Expected: ${data.expected.conditions.map((v, i) => `${i + 1}. ${v}`).join(", ")}, quality ${data.expected.pq}`) : null;
  const rubric = el("div", { class: "rubric" },
    el("h4", { text: pairwise ? "Which is better?" : "Semantic consistency: each condition" }),
    el("div", { class: "hint", text: pairwise ? "Compare the two outputs of the same instruction; ties allowed."
      : "SC is the minimum over the conditions. Then rate the perceptual quality." }),
    ...qBoxes.map(([q]) => q), feedback,
    el("div", { class: "actions" },
      el("button", { type: "button", class: "save", text: "Save ⏎", onclick: () => save() }),
      el("button", { type: "button", text: "Skip (S)", onclick: () => send({ type: "skip" }) }),
      el("button", { type: "button", text: "Flag (F)", onclick: () => openFlag() }),
      el("button", { type: "button", text: "←", title: "previous item", onclick: () => send({ type: "go", to: "prev" }) }),
      el("button", { type: "button", text: "→", title: "next item", onclick: () => send({ type: "go", to: "next" }) })),
    flagbox,
    el("div", { class: "keys" }, ...data.shortcuts.map(([k, t]) => el("div", {}, el("kbd", { text: k }), ` ${t}`))));

  const flash = el("div", { class: "flash" + (data.flash && data.flash.error ? " error" : ""), role: "status",
    text: data.flash ? data.flash.text : "" });
  const top = el("div", { class: "top" },
    el("span", { class: "where", text: `Item ${data.pos + 1} of ${data.total}${data.role === "practice" ? " · practice" : ""}` }),
    el("span", { class: "state", text: data.status }),
    el("progress", { max: String(data.total), value: String(data.done), title: `${data.done} of ${data.total} done` }),
    el("span", { class: "state", text: `${data.done} done${data.skipped ? ` · ${data.skipped} skipped` : ""}` }),
    flash, el("button", { type: "button", text: "Rubric (?)", onclick: () => guide() }),
    el("button", { type: "button", text: "Sign out", onclick: () => send({ type: "signout" }) }));
  root.replaceChildren(top, el("div", { class: "body" }, instr, outs, rubric), overlay);

  function paint() {
    qBoxes.forEach(([q, buttons], r) => {
      q.classList.toggle("active", r === active);
      buttons.forEach((b) => b.classList.toggle("on", values[r] !== null && b.dataset.value === String(values[r])));
    });
  }
  function set(r, v) {
    values[r] = v;
    active = values.indexOf(null, r + 1) >= 0 ? values.indexOf(null, r + 1) : Math.min(r + 1, rows.length - 1);
    qBoxes.forEach(([q]) => q.classList.remove("missing"));
    paint();
  }
  function save() {
    const missing = values.map((v, r) => (v === null ? r : -1)).filter((r) => r >= 0);
    if (missing.length) {
      missing.forEach((r) => qBoxes[r][0].classList.add("missing"));
      active = missing[0];
      paint();
      flash.className = "flash error";
      flash.textContent = "Answer every question before saving.";
      return;
    }
    if (pairwise) send({ type: "save", choice: Object.fromEntries(rows.map((a, r) => [a, values[r]])) });
    else send({ type: "save", conditions: values.slice(0, -1), pq: values[values.length - 1] });
  }
  function openFlag() { flagbox.classList.add("open"); reason.focus(); }

  const KEYS_ABS = { "0": 0, "5": 0.5, "1": 1 };
  const KEYS_PAIR = { a: "left", "1": "left", b: "right", "2": "right", t: "tie", "0": "tie", "=": "tie" };
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = e.target && (e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA");
    const inReason = e.composedPath && e.composedPath().includes(reason);
    if (inReason) {
      if (e.key === "Enter") { e.preventDefault(); send({ type: "flag", reason: reason.value }); }
      else if (e.key === "Escape") { e.preventDefault(); flagbox.classList.remove("open"); root.focus(); }
      return;
    }
    if (typing) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    let handled = true;
    if (overlay.classList.contains("open") && (key === "Escape" || key === "Enter")) overlay.classList.remove("open");
    else if (!pairwise && key in KEYS_ABS) set(active, KEYS_ABS[key]);
    else if (pairwise && key in KEYS_PAIR) set(active, KEYS_PAIR[key]);
    else if (key === "ArrowUp") { active = Math.max(0, active - 1); paint(); }
    else if (key === "ArrowDown") { active = Math.min(rows.length - 1, active + 1); paint(); }
    else if (key === "Enter") save();
    else if (key === "ArrowLeft") send({ type: "go", to: "prev" });
    else if (key === "ArrowRight") send({ type: "go", to: "next" });
    else if (key === "s") send({ type: "skip" });
    else if (key === "f") openFlag();
    else if (key === "?" || key === "h") guide();
    else if (key === "Escape") overlay.classList.remove("open");
    else handled = false;
    if (handled) e.preventDefault();
  }
  if (window.__ibenchRaterKeys) document.removeEventListener("keydown", window.__ibenchRaterKeys);
  window.__ibenchRaterKeys = onKey;
  document.addEventListener("keydown", onKey);
  paint();
  if (document.activeElement && document.activeElement.tagName === "INPUT") document.activeElement.blur();
  return () => {
    document.removeEventListener("keydown", onKey);
    if (window.__ibenchRaterKeys === onKey) window.__ibenchRaterKeys = null;
  };
}
