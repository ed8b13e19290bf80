// explorer.html's script: decodes the packed data (see explorer.rs), draws every drawing as a
// point on a canvas, and shows a point's drawing on hover. No library; runs from file://.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const status = (s) => { $("status").textContent = s; };
  const header = JSON.parse($("header").textContent);
  const n = header.n;
  // the test hook: a headless browser reads these
  const api = (window.explorer = {
    ready: false, error: null, n, drawn: 0, hovered: null, hoveredKey: null,
    panelStrokes: 0, reconShown: false, timings: {},
  });
  const t0 = performance.now();

  async function inflate() {
    const bin = atob($("data").textContent);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser cannot inflate the page's data (no DecompressionStream); " +
        "open the page in a current Chrome, Firefox or Safari");
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return await new Response(stream).arrayBuffer();
  }

  function sections(buf) {
    const out = {};
    for (const [name, s] of Object.entries(header.sections)) {
      const { type, offset, length } = s;
      if (type === "f32") out[name] = new Float32Array(buf, offset, length / 4);
      else if (type === "u32") out[name] = new Uint32Array(buf, offset, length / 4);
      else if (type === "u16") out[name] = new Uint16Array(buf, offset, length / 2);
      else if (type === "u8") out[name] = new Uint8Array(buf, offset, length);
      else if (type === "utf8") out[name] = new TextDecoder().decode(new Uint8Array(buf, offset, length));
    }
    return out;
  }

  function rgb(hex) {
    const v = parseInt(hex.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }

  // coordinates travel as steps modulo 256 from the point before: summed back in place
  function positions(offsets, coords) {
    for (let i = 0; i + 1 < offsets.length; i++) {
      let x = 0, y = 0;
      for (let p = offsets[i]; p < offsets[i + 1]; p++) {
        x = (x + coords[2 * p]) & 255; coords[2 * p] = x;
        y = (y + coords[2 * p + 1]) & 255; coords[2 * p + 1] = y;
      }
    }
  }

  function start(d) {
    positions(d.offsets, d.coords);
    positions(d.recon_offsets, d.recon_coords);
    const xy = d.xy;
    const keys = n ? d.keys.split("\n") : [];
    const recon = new Map();
    d.recon_index.forEach((i, r) => recon.set(i, r));
    api.withReconstruction = Array.from(recon.keys()).slice(0, 20);
    const bg = rgb(header.background);
    const colourings = header.colourings.map((c) => ({
      name: c.name, categories: c.categories, colours: c.colours.map(rgb),
      codes: d["colour:" + c.name],
    }));
    // a fixed shuffled order, so that no category is always drawn on top
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    let seed = 12345;
    for (let i = n - 1; i > 0; i--) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const j = seed % (i + 1);
      const t = order[i]; order[i] = order[j]; order[j] = t;
    }

    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = xy[2 * i], y = xy[2 * i + 1];
      if (x < minX) minX = x; if (x > maxX) maxX = x;
      if (y < minY) minY = y; if (y > maxY) maxY = y;
    }
    if (!n) { minX = minY = 0; maxX = maxY = 1; }
    const spanX = Math.max(maxX - minX, 1e-9), spanY = Math.max(maxY - minY, 1e-9);

    // a grid over the data for the hover search
    const G = Math.max(1, Math.min(1024, Math.ceil(Math.sqrt(n / 4))));
    const cellOf = (x, y) => {
      const cx = Math.min(G - 1, Math.floor(((x - minX) / spanX) * G));
      const cy = Math.min(G - 1, Math.floor(((y - minY) / spanY) * G));
      return cy * G + cx;
    };
    const cellStart = new Uint32Array(G * G + 1);
    for (let i = 0; i < n; i++) cellStart[cellOf(xy[2 * i], xy[2 * i + 1]) + 1]++;
    for (let c = 0; c < G * G; c++) cellStart[c + 1] += cellStart[c];
    const cellItems = new Uint32Array(n);
    const fill = cellStart.slice(0, G * G);
    for (let i = 0; i < n; i++) cellItems[fill[cellOf(xy[2 * i], xy[2 * i + 1])]++] = i;

    const map = $("map"), overlay = $("overlay");
    const ctx = map.getContext("2d"), octx = overlay.getContext("2d");
    let W = 0, H = 0, dpr = 1;
    // view: screen x = (x - centre) * scale + W / 2, screen y = H / 2 - (y - centre) * scale:
    // y grows upward, as on the report's map
    const view = { cx: 0, cy: 0, scale: 1 };
    let colouring = colourings[0] || null;
    let solo = -1; // a category shown alone, or -1
    let pinned = null;

    function fitView() {
      view.cx = (minX + maxX) / 2;
      view.cy = (minY + maxY) / 2;
      view.scale = 0.92 * Math.min(W / spanX, H / spanY);
    }
    function resize() {
      const r = map.getBoundingClientRect();
      dpr = window.devicePixelRatio || 1;
      W = Math.max(1, Math.round(r.width * dpr));
      H = Math.max(1, Math.round(r.height * dpr));
      for (const c of [map, overlay]) { c.width = W; c.height = H; }
    }
    const toScreen = (x, y) => [(x - view.cx) * view.scale + W / 2, H / 2 - (y - view.cy) * view.scale];
    const toData = (sx, sy) => [(sx - W / 2) / view.scale + view.cx, view.cy - (sy - H / 2) / view.scale];
    const visible = (i) => !colouring || solo < 0 || colouring.codes[i] === solo;

    const grey = [190, 190, 190];
    function colourOf(i) {
      if (!colouring) return [31, 59, 115];
      const c = colouring.codes[i];
      return c === 65535 ? grey : colouring.colours[c];
    }

    let frame = 0;
    function render() {
      frame = 0;
      const img = ctx.createImageData(W, H);
      const px = img.data;
      for (let p = 0; p < px.length; p += 4) {
        px[p] = bg[0]; px[p + 1] = bg[1]; px[p + 2] = bg[2]; px[p + 3] = 255;
      }
      // the point's side grows a little as one zooms in
      const zoom = view.scale / (0.92 * Math.min(W / spanX, H / spanY));
      const side = Math.max(1, Math.min(6, Math.round((n > 50000 ? 1.5 : 2.5) * dpr * Math.sqrt(zoom))));
      const half = side >> 1;
      let drawn = 0;
      for (let o = 0; o < n; o++) {
        const i = order[o];
        if (!visible(i)) continue;
        const sx = Math.round((xy[2 * i] - view.cx) * view.scale + W / 2) - half;
        const sy = Math.round(H / 2 - (xy[2 * i + 1] - view.cy) * view.scale) - half;
        if (sx + side <= 0 || sy + side <= 0 || sx >= W || sy >= H) continue;
        drawn++;
        const [r, g, b] = colourOf(i);
        for (let yy = Math.max(0, sy); yy < Math.min(H, sy + side); yy++) {
          let p = (yy * W + Math.max(0, sx)) * 4;
          for (let xx = Math.max(0, sx); xx < Math.min(W, sx + side); xx++, p += 4) {
            px[p] = r; px[p + 1] = g; px[p + 2] = b;
          }
        }
      }
      ctx.putImageData(img, 0, 0);
      api.drawn = drawn;
      const shown = colouring && solo >= 0 ? `${colouring.categories[solo]}: ` : "";
      status(`${shown}${drawn.toLocaleString()} of ${n.toLocaleString()} drawings shown`);
      drawOverlay();
    }
    const later = () => { if (!frame) frame = requestAnimationFrame(render); };

    function drawOverlay() {
      octx.clearRect(0, 0, W, H);
      for (const i of [api.hovered, pinned]) {
        if (i === null) continue;
        const [sx, sy] = toScreen(xy[2 * i], xy[2 * i + 1]);
        octx.beginPath();
        octx.arc(sx, sy, 7 * dpr, 0, 2 * Math.PI);
        octx.lineWidth = 2 * dpr;
        octx.strokeStyle = i === pinned ? "#d9480f" : "#111";
        octx.stroke();
      }
    }

    function nearest(sx, sy, radiusPx) {
      const [x, y] = toData(sx, sy);
      const r = radiusPx / view.scale;
      const c0 = cellOf(x - r, y - r), c1 = cellOf(x + r, y + r);
      const x0 = c0 % G, y0 = (c0 / G) | 0, x1 = c1 % G, y1 = (c1 / G) | 0;
      let best = null, bestD = r * r;
      for (let cy = y0; cy <= y1; cy++) {
        for (let cx = x0; cx <= x1; cx++) {
          const c = cy * G + cx;
          for (let k = cellStart[c]; k < cellStart[c + 1]; k++) {
            const i = cellItems[k];
            if (!visible(i)) continue;
            const dx = xy[2 * i] - x, dy = xy[2 * i + 1] - y;
            const dd = dx * dx + dy * dy;
            if (dd <= bestD) { bestD = dd; best = i; }
          }
        }
      }
      return best;
    }

    // draws drawing `i` of a packed set into a canvas; returns the strokes drawn
    function paint(canvas, offsets, coords, pen, i, ink) {
      const c = canvas.getContext("2d");
      c.fillStyle = header.background;
      c.fillRect(0, 0, canvas.width, canvas.height);
      const a = offsets[i], b = offsets[i + 1];
      const pad = 12, s = (canvas.width - 2 * pad) / 255;
      c.strokeStyle = ink; c.fillStyle = ink;
      c.lineWidth = 2; c.lineCap = "round"; c.lineJoin = "round";
      let strokes = 0, startP = a;
      for (let p = a; p < b; p++) {
        if (pen[p] || p === b - 1) {
          c.beginPath();
          c.moveTo(pad + coords[2 * startP] * s, pad + coords[2 * startP + 1] * s);
          if (p === startP) {
            c.arc(pad + coords[2 * p] * s, pad + coords[2 * p + 1] * s, 1.5, 0, 2 * Math.PI);
            c.fill();
          } else {
            for (let q = startP + 1; q <= p; q++) c.lineTo(pad + coords[2 * q] * s, pad + coords[2 * q + 1] * s);
            c.stroke();
          }
          strokes++;
          startP = p + 1;
        }
      }
      if (a === b) {
        c.fillStyle = "#999"; c.font = "14px sans-serif"; c.textAlign = "center";
        c.fillText("no drawing in the data", canvas.width / 2, canvas.height / 2);
      }
      return strokes;
    }

    function show(i) {
      api.hovered = i;
      api.hoveredKey = i === null ? null : keys[i];
      drawOverlay();
      if (i === null) return;
      api.panelStrokes = paint($("drawing"), d.offsets, d.coords, d.pen, i, header.ink);
      const r = recon.get(i);
      $("recon-fig").hidden = r === undefined;
      api.reconShown = r !== undefined;
      if (r !== undefined) paint($("recon"), d.recon_offsets, d.recon_coords, d.recon_pen, r, header.model_ink);
      const lines = [`<b>${esc(keys[i])}</b>`];
      for (const c of colourings) {
        const code = c.codes[i];
        lines.push(`${esc(c.name)}: ${code === 65535 ? "–" : esc(c.categories[code])}`);
      }
      $("hover-text").innerHTML = lines.join("<br>");
    }
    const esc = (s) => String(s).replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[ch]));

    function legend() {
      const ul = $("legend");
      ul.textContent = "";
      $("legend-title").textContent = colouring ? `${colouring.name} (${colouring.categories.length})` : "";
      if (!colouring) return;
      const counts = new Uint32Array(colouring.categories.length);
      let none = 0;
      for (let i = 0; i < n; i++) {
        const c = colouring.codes[i];
        if (c === 65535) none++; else counts[c]++;
      }
      const max = 400;
      colouring.categories.slice(0, max).forEach((name, k) => {
        const li = document.createElement("li");
        const [r, g, b] = colouring.colours[k];
        li.innerHTML = `<span class="swatch" style="background:rgb(${r},${g},${b})"></span>${esc(name)}<span class="count">${counts[k]}</span>`;
        li.title = name;
        li.dataset.category = k;
        if (solo === k) li.classList.add("solo");
        else if (solo >= 0) li.classList.add("off");
        li.onclick = () => api.solo(solo === k ? null : name);
        ul.appendChild(li);
      });
      if (colouring.categories.length > max) {
        const li = document.createElement("li");
        li.textContent = `… and ${colouring.categories.length - max} more`;
        ul.appendChild(li);
      }
      if (none) {
        const li = document.createElement("li");
        li.innerHTML = `<span class="swatch" style="background:rgb(190,190,190)"></span>none<span class="count">${none}</span>`;
        ul.appendChild(li);
      }
    }

    // controls
    const select = $("colour-by");
    for (const c of colourings) {
      const o = document.createElement("option");
      o.value = o.textContent = c.name;
      select.appendChild(o);
    }
    select.onchange = () => api.colourBy(select.value);

    let drag = null;
    overlay.addEventListener("mousemove", (ev) => {
      const r = overlay.getBoundingClientRect();
      const sx = (ev.clientX - r.left) * dpr, sy = (ev.clientY - r.top) * dpr;
      if (drag) {
        view.cx = drag.cx - (sx - drag.sx) / view.scale;
        view.cy = drag.cy + (sy - drag.sy) / view.scale;
        drag.moved = true;
        later();
        return;
      }
      const i = nearest(sx, sy, 8 * dpr);
      if (i !== null && i !== api.hovered) show(i);
    });
    overlay.addEventListener("mousedown", (ev) => {
      const r = overlay.getBoundingClientRect();
      drag = { sx: (ev.clientX - r.left) * dpr, sy: (ev.clientY - r.top) * dpr, cx: view.cx, cy: view.cy, moved: false };
      overlay.classList.add("dragging");
    });
    window.addEventListener("mouseup", () => { drag = null; overlay.classList.remove("dragging"); });
    overlay.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const r = overlay.getBoundingClientRect();
      const sx = (ev.clientX - r.left) * dpr, sy = (ev.clientY - r.top) * dpr;
      const [x, y] = toData(sx, sy);
      view.scale *= Math.exp(-ev.deltaY * 0.0015);
      // keep the point under the pointer where it is
      view.cx = x - (sx - W / 2) / view.scale;
      view.cy = y + (sy - H / 2) / view.scale;
      later();
    }, { passive: false });
    overlay.addEventListener("dblclick", () => { fitView(); later(); });
    $("reset").onclick = () => { fitView(); later(); };
    $("search").onsubmit = (ev) => {
      ev.preventDefault();
      const q = $("search-key").value.trim();
      if (!api.search(q)) status(`no key_id ${q}`);
    };
    window.addEventListener("resize", () => { resize(); fitView(); render(); });

    let index = null;
    Object.assign(api, {
      // page coordinates (CSS pixels) of point i, for a test to move the pointer there
      screenOf(i) {
        const r = overlay.getBoundingClientRect();
        const [sx, sy] = toScreen(xy[2 * i], xy[2 * i + 1]);
        return { x: r.left + sx / dpr, y: r.top + sy / dpr };
      },
      keyOf(i) { return keys[i]; },
      resetView() { fitView(); render(); },
      colourBy(name) {
        const c = colourings.find((c) => c.name === name);
        if (!c) return false;
        colouring = c; solo = -1; select.value = name;
        legend(); render();
        return true;
      },
      // shows one category alone (by name), or all (null)
      solo(name) {
        solo = name === null ? -1 : colouring.categories.indexOf(String(name));
        legend(); render();
        return solo;
      },
      search(key) {
        if (!index) { index = new Map(); keys.forEach((k, i) => index.set(k, i)); }
        let i = index.get(key);
        if (i === undefined && key) i = keys.findIndex((k) => k.startsWith(key));
        if (i === undefined || i < 0) return false;
        if (!visible(i)) { solo = -1; legend(); }
        pinned = i;
        view.cx = xy[2 * i]; view.cy = xy[2 * i + 1];
        view.scale = Math.max(view.scale, 4 * 0.92 * Math.min(W / spanX, H / spanY));
        render();
        show(i);
        return true;
      },
      render,
    });

    resize();
    fitView();
    legend();
    render();
    api.timings.interactive = performance.now() - t0;
    api.ready = true;
    status(`${api.drawn.toLocaleString()} drawings · ready in ${(api.timings.interactive / 1000).toFixed(1)} s`);
  }

  inflate()
    .then((buf) => {
      api.timings.inflate = performance.now() - t0;
      start(sections(buf));
    })
    .catch((e) => {
      api.error = String(e && e.message || e);
      status("could not load the data: " + api.error);
      console.error(e);
    });
})();
