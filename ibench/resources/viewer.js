// The ibench sample viewer: filters and pages the records of #samples-data (no network, no library).
(function () {
  "use strict";
  const PER_PAGE = 40;
  const data = JSON.parse(document.getElementById("samples-data").textContent);
  const all = data.samples;
  const $ = (id) => document.getElementById(id);
  const state = { page: 0 };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  function fmt(v) { return v === null || v === undefined ? "—" : Number(v).toFixed(4); }
  function options(select, values) {
    for (const v of values) select.append(el("option", { value: v, text: v }));
  }
  options($("f-task"), [...new Set(all.map((s) => s.task))].sort());
  options($("f-model"), [...new Set(all.map((s) => s.model))].sort());
  options($("f-metric"), data.metrics);

  function chosen() {
    const task = $("f-task").value, model = $("f-model").value, metric = $("f-metric").value;
    const sort = $("f-sort").value, text = $("f-text").value.toLowerCase();
    let rows = all.filter((s) => (!task || s.task === task) && (!model || s.model === model)
      && (!metric || metric in s.scores) && (!text || s.text.toLowerCase().includes(text)));
    if (metric && sort) {
      const v = (s) => (s.scores[metric] && s.scores[metric].value !== null ? s.scores[metric].value : NaN);
      rows = rows.slice().sort((a, b) => (sort === "asc" ? v(a) - v(b) : v(b) - v(a)));
    }
    return rows;
  }

  function card(s) {
    const refs = el("div", { class: "refs" });
    for (const r of s.references) {
      const box = el("div", { class: "ref" }, el("small", { text: `[${r.marker}] ${r.kind}` }));
      for (const src of r.images) {
        if (src) {
          const img = el("img", { src, alt: `${r.marker} ${r.caption}`, loading: "lazy" });
          img.addEventListener("click", () => window.open(src, "_blank"));
          box.append(img);
        } else box.append(el("div", { class: "missing", text: "missing" }));
      }
      box.append(el("small", { text: r.caption }));
      refs.append(box);
    }
    const left = el("div", {}, el("h3", { class: "title", text: `${s.task} · ${s.model} · ${s.instance_id} #${s.sample}` }),
      el("p", { text: s.text }), el("small", { class: "target", text: `target: ${s.target}` }), refs);
    const out = el("div", { class: "out" }, s.image ? el("img", { src: s.image, alt: `output ${s.instance_id} #${s.sample}`, loading: "lazy" })
      : el("div", { class: "missing error", text: s.error || "no image" }));
    const scores = el("table", {}, el("tr", {}, el("th", { class: "l", text: "metric" }), el("th", { text: "value" }),
      el("th", { class: "l", text: "per condition" })));
    for (const [m, v] of Object.entries(s.scores)) {
      const conds = Object.entries(v.conditions).map(([c, x]) => `${c} ${fmt(x)}`).join(", ");
      scores.append(el("tr", { "data-metric": m }, el("td", { class: "l", text: m }), el("td", { text: fmt(v.value) }),
        el("td", { class: "l", text: conds })));
    }
    const right = el("div", {}, scores);
    if (s.ratings.length) {
      const t = el("table", {}, el("tr", {}, ...["rater", "SC", "PQ", "O"].map((h) => el("th", { text: h }))));
      for (const r of s.ratings) t.append(el("tr", {}, el("td", { text: r.rater }), el("td", { text: r.SC }),
        el("td", { text: r.PQ }), el("td", { text: Number(r.O).toFixed(3) })));
      right.append(el("h3", { text: "ratings" }), t);
    }
    return el("article", { class: "card", "data-run": s.run_id, "data-instance": s.instance_id,
      "data-sample": String(s.sample) }, left, out, right);
  }

  function show() {
    const rows = chosen();
    const pages = Math.max(1, Math.ceil(rows.length / PER_PAGE));
    state.page = Math.min(state.page, pages - 1);
    const box = $("cards");
    box.replaceChildren(...rows.slice(state.page * PER_PAGE, (state.page + 1) * PER_PAGE).map(card));
    $("count").textContent = `${rows.length} of ${all.length} samples`;
    $("page").textContent = `page ${state.page + 1} of ${pages}`;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
  }
  for (const id of ["f-task", "f-model", "f-metric", "f-sort", "f-text"])
    $(id).addEventListener("input", () => { state.page = 0; show(); });
  $("prev").addEventListener("click", () => { state.page -= 1; show(); window.scrollTo(0, 0); });
  $("next").addEventListener("click", () => { state.page += 1; show(); window.scrollTo(0, 0); });
  show();
})();
