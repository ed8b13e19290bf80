"""Loads a doodle-clusters run folder (``model.safetensors`` + ``model.json``, written by
``train``) into PyTorch modules named as in ``model.safetensors``, and computes the vectors
``embed`` writes from a drawings table (``drawings.parquet``, written by ``ingest``).

    import doodle_torch as dt
    model = dt.load_run("work/run")                    # an nn.Module, weights loaded strictly
    table = dt.read_drawings("work/drawings.parquet")
    z = dt.embed(model, table["drawings"])             # [N, latent], as embeddings.parquet's
    parts = dt.embed_parts(model, table["drawings"])   # {"inside": [...], ...}, None where absent

Every step a reimplementation needs is here, in the order ``embed`` takes it (see the README's
"The model files" section): the canonical stroke order, the encoder's rows (p_end always 0),
the positions, the pooling weights, the picture, the LSTMs, the latent layer, and the unit
length. The geometry is computed in float32 with the same operations in the same order as the
Rust code, so that a pixel or a stroke order never differs by a rounding.

Needs numpy, torch and (for ``read_drawings``) pyarrow.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn

F32 = np.float32
FORMAT = 2


# --- model files -----------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "U8": np.uint8}


def read_safetensors(path) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file (the format is an 8-byte header length, a JSON header
    and the raw little-endian data)."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = memoryview(data)[8 + n :]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        arr = np.frombuffer(body[a:b], dtype=_DTYPES[t["dtype"]]).reshape(t["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


class Encoder(nn.Module):
    """``encoder.*``: the LSTM (both directions in one ``nn.LSTM`` when bidirectional), the
    picture's dense layer, and the latent layer (``to_mu`` and ``to_logsigma`` for a VAE)."""

    def __init__(self, cfg: dict):
        super().__init__()
        width = 7 if cfg["encoder_positions"] else 5
        e = cfg["enc_hidden"]
        self.lstm = nn.LSTM(width, e, bidirectional=cfg["bidirectional"], batch_first=True)
        dirs = 2 if cfg["bidirectional"] else 1
        k = summaries(cfg)
        hidden = dirs * k * e
        if cfg["encoder_raster"] > 0:
            r = cfg["encoder_raster_width"]
            self.raster = nn.Linear(cfg["encoder_raster"] ** 2, r)
            hidden += r
        if cfg["vae"]:
            self.to_mu = nn.Linear(hidden, cfg["latent"])
            self.to_logsigma = nn.Linear(hidden, cfg["latent"])
        else:
            self.to_latent = nn.Linear(hidden, cfg["latent"])


class Decoder(nn.Module):
    """``decoder.*``: (h0, c0) from z, the LSTM, and the output head (not needed for vectors;
    here so that the whole file loads strictly)."""

    def __init__(self, cfg: dict):
        super().__init__()
        h = cfg["dec_hidden"]
        width = (7 if cfg["decoder_positions"] else 5) + cfg["latent"]
        self.init = nn.Linear(cfg["latent"], 2 * h)
        self.lstm = nn.LSTM(width, h, batch_first=True)
        out = 6 * cfg["mixtures"] + 3 if cfg["head"] == "mdn" else 3
        self.head = nn.Linear(h, out)


class Model(nn.Module):
    def __init__(self, info: dict):
        super().__init__()
        self.info = info
        self.cfg = info["model"]
        self.scale = F32(info["scale"])
        self.encoder = Encoder(self.cfg)
        self.decoder = Decoder(self.cfg)


def summaries(cfg: dict) -> int:
    """Summaries per direction: 1 for "last" and "mean", G*G for "grid"."""
    pool = cfg["encoder_pool"]
    return cfg["encoder_grid"] ** 2 if pool == "grid" else 1


def load_run(run_dir) -> Model:
    run_dir = Path(run_dir)
    info = json.loads((run_dir / "model.json").read_text())
    if info.get("format") != FORMAT:
        raise ValueError(f"{run_dir / 'model.json'}: run folder format {info.get('format')}, "
                         f"this module reads {FORMAT}")
    model = Model(info)
    state = read_safetensors(run_dir / "model.safetensors")
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


# --- drawings --------------------------------------------------------------------------------


class Drawing:
    """A stroke-3 drawing: offsets ``dx``, ``dy`` (float32) and ``pen`` (1 where the pen lifts
    after the point)."""

    __slots__ = ("dx", "dy", "pen")

    def __init__(self, dx, dy, pen):
        self.dx = np.asarray(dx, dtype=F32)
        self.dy = np.asarray(dy, dtype=F32)
        self.pen = np.asarray(pen, dtype=np.uint8)

    def __len__(self):
        return len(self.dx)


def read_drawings(path) -> dict:
    """``key_id``, ``split`` and ``drawings`` of a drawings table."""
    import pyarrow.parquet as pq

    t = pq.read_table(path, columns=["key_id", "split", "dx", "dy", "pen"])
    cols = t.to_pydict()
    drawings = [Drawing(dx, dy, pen) for dx, dy, pen in zip(cols["dx"], cols["dy"], cols["pen"])]
    return {"key_id": cols["key_id"], "split": cols["split"], "drawings": drawings}


def _cumsum(v):
    # sequential float32 sums, as the Rust loops (numpy's accumulate is sequential)
    return np.add.accumulate(v, dtype=F32) if len(v) else np.zeros(0, F32)


def _sum(v):
    return _cumsum(v)[-1] if len(v) else F32(0)


def to_strokes(d: Drawing) -> list[tuple[np.ndarray, np.ndarray]]:
    """Absolute strokes: running sums of the offsets, split after each point that lifts the pen;
    a last point that does not lift it still ends the last stroke."""
    x, y = _cumsum(d.dx), _cumsum(d.dy)
    out, start = [], 0
    for i in range(len(d)):
        if d.pen[i] != 0:
            out.append((x[start : i + 1].copy(), y[start : i + 1].copy()))
            start = i + 1
    if start < len(d):
        out.append((x[start:].copy(), y[start:].copy()))
    return out


def from_strokes(strokes) -> Drawing:
    dx, dy, pen = [], [], []
    px, py = F32(0), F32(0)
    for x, y in strokes:
        if len(x) == 0:
            continue
        for a, b in zip(x, y):
            dx.append(F32(a) - px)
            dy.append(F32(b) - py)
            pen.append(0)
            px, py = F32(a), F32(b)
        pen[-1] = 1
    return Drawing(dx, dy, pen)


def _box(x, y):
    return F32(x.max() - x.min()), F32(y.max() - y.min())


def _twice_signed_area(x, y) -> np.float32:
    xj, yj = np.roll(x, -1), np.roll(y, -1)
    return _sum(x * yj - xj * y)


def _orient(x, y):
    """The canonical direction of one stroke (an open stroke from its left end, upper on a tie;
    a closed one, ends closer than a fifth of its size, clockwise on screen: y down). Returns
    (x, y, closed)."""
    n = len(x)
    if n < 2:
        return x, y, False
    w, h = _box(x, y)
    size = max(w, h, F32(0))
    ex, ey = x[-1] - x[0], y[-1] - y[0]
    gap = np.sqrt(F32(ex * ex + ey * ey), dtype=F32)
    closed = bool(gap < F32(0.2) * size)
    if closed:
        reverse = bool(_twice_signed_area(x, y) < 0)
    else:
        reverse = (x[-1], y[-1]) < (x[0], y[0])
    if reverse:
        x, y = x[::-1].copy(), y[::-1].copy()
    return x, y, closed


def _start_at_top(x, y):
    """A closed stroke turned to start at its point nearest the top centre of its box."""
    n = len(x)
    if n < 3:
        return x, y
    repeats = x[-1] == x[0] and y[-1] == y[0]
    m = n - 1 if repeats else n
    top = (F32((x[:m].min() + x[:m].max()) / F32(2)), y[:m].min())
    ddx, ddy = x[:m] - top[0], y[:m] - top[1]
    k = int(np.argmin(ddx * ddx + ddy * ddy))  # first of equals
    if k == 0:
        return x, y
    x, y = np.roll(x[:m], -k), np.roll(y[:m], -k)
    if repeats:
        x, y = np.append(x, x[0]), np.append(y, y[0])
    return x, y


def canonical(d: Drawing, loops_from_top: bool) -> Drawing:
    """The strokes in canonical order and direction (``drawing::Stroke3::canonical_with``): each
    stroke oriented (closed ones started at their top with ``loops_from_top``), the largest by
    its box's longest side first (the first drawn of equals), then the others top to bottom in
    bands a tenth of the drawing's longest side high (by their mean y), left to right within a
    band (by their mean x), stably."""
    strokes = [s for s in to_strokes(d) if len(s[0])]
    if not strokes:
        return d
    ax, ay = _cumsum(d.dx), _cumsum(d.dy)
    side = max(max(_box(ax, ay)), F32(np.finfo(F32).eps))
    oriented = []
    for x, y in strokes:
        x, y, closed = _orient(x, y)
        if closed and loops_from_top:
            x, y = _start_at_top(x, y)
        oriented.append((x, y))
    extent = [max(_box(x, y)) for x, y in oriented]
    largest = int(np.argmax(np.array(extent, dtype=F32)))
    first = oriented.pop(largest)
    band = F32(side / F32(10))

    def key(s):
        n = F32(len(s[0]))
        cx, cy = F32(_sum(s[0]) / n), F32(_sum(s[1]) / n)
        return (math.floor(F32(cy / band)), cx)

    oriented.sort(key=key)  # Python's sort is stable too
    return from_strokes([first] + oriented)


def _in_polygon(px, py, poly_x, poly_y) -> np.ndarray:
    """Even-odd rule for each point (px, py) against the polygon through the stroke's points;
    a polygon of fewer than three points has no inside."""
    n = len(poly_x)
    inside = np.zeros(len(px), dtype=bool)
    if n < 3:
        return inside
    j = n - 1
    for i in range(n):
        xi, yi, xj, yj = poly_x[i], poly_y[i], poly_x[j], poly_y[j]
        crosses = (yi > py) != (yj > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = xi + (py - yi) * F32(xj - xi) / F32(yj - yi)
        inside ^= crosses & (px < at)
        j = i
    return inside


def parts(d: Drawing) -> dict | None:
    """The drawing cut by its largest stroke (``drawing::Stroke3::parts``): the outline is the
    stroke enclosing the largest area (each stroke a polygon closed by joining its ends; the
    first drawn of equals), the inside the strokes more than half of whose points lie inside it
    (even-odd rule), the outside the rest; each part keeps its strokes' order."""
    strokes = [s for s in to_strokes(d) if len(s[0])]
    if not strokes:
        return None
    area = np.array([abs(_twice_signed_area(x, y)) for x, y in strokes], dtype=F32)
    largest = int(np.argmax(area))
    ox, oy = strokes[largest]
    inside, outside = [], []
    for i, (x, y) in enumerate(strokes):
        if i == largest:
            continue
        n_in = int(_in_polygon(x, y, ox, oy).sum())
        (inside if 2 * n_in > len(x) else outside).append((x, y))
    return {
        "outline": from_strokes([(ox, oy)]),
        "inside": from_strokes(inside) if inside else None,
        "outside": from_strokes(outside) if outside else None,
    }


# --- what the encoder reads ------------------------------------------------------------------


def _frame(d: Drawing):
    """The box positions are measured in: the bounding box of the pen's positions."""
    x, y = _cumsum(d.dx), _cumsum(d.dy)
    return (x.min(), y.min()), (x.max(), y.max())


def encoder_rows(d: Drawing, frame, scale, positions: bool) -> np.ndarray:
    """[L, 5 or 7]: the stroke-5 row (dx/scale, dy/scale, p_draw, p_lift, p_end) with p_end
    always 0 and the last point always lifting the pen; then, with positions, the pen's place
    after the point in the frame scaled to a longest side of 1 and centred on 0."""
    n = len(d)
    lift = (d.pen != 0) | (np.arange(n) == n - 1)
    rows = [
        (d.dx * F32(1)) / scale,
        (d.dy * F32(1)) / scale,
        (~lift).astype(F32),
        lift.astype(F32),
        np.zeros(n, F32),
    ]
    if positions:
        (lx, ly), (hx, hy) = frame
        side = max(F32(hx - lx), F32(hy - ly))
        inv = F32(1) / side if side > 0 else F32(0)
        mx, my = F32((lx + hx) / F32(2)), F32((ly + hy) / F32(2))
        rows += [(_cumsum(d.dx) - mx) * inv, (_cumsum(d.dy) - my) * inv]
    return np.stack(rows, axis=1).astype(F32)


def _tent(u, g):
    lo = min(int(max(math.floor(u), 0.0)), max(g - 2, 0))
    f = F32(min(max(F32(u - F32(lo)), F32(0)), F32(1)))
    pair = [(0, F32(1)), (0, F32(0))] if g == 1 else [(lo, F32(1) - f), (lo + 1, f)]
    return [(i, w) for i, w in pair if w > 0]


def pool_weights(d: Drawing, frame, cfg) -> np.ndarray | None:
    """[L, K]: how much each point counts in each summary (None for "last"). "mean": 1/L each.
    "grid": the frame stretched to the unit square (an axis without extent at 0.5), a G x G grid
    of nodes at 0, 1/(G-1), ..., 1; each point's position after its move shared between its
    nearest nodes by bilinear weights; each node's column divided by its sum, or by 1 where the
    sum is smaller; node (row j, column i) is summary j*G + i."""
    pool = cfg["encoder_pool"]
    if pool == "last":
        return None
    n = len(d)
    pw = np.ones(n, F32)
    if pool == "mean":
        return (pw / F32(n)).reshape(n, 1).astype(F32)
    g = cfg["encoder_grid"]
    span = F32(g - 1)
    (lx, ly), (hx, hy) = frame

    def norm(v, lo, hi):
        side = F32(hi - lo)
        return (v - lo) / side if side > 0 else np.full(len(v), F32(0.5), F32)

    ux, uy = norm(_cumsum(d.dx), lx, hx), norm(_cumsum(d.dy), ly, hy)
    w = np.zeros((n, g * g), F32)
    for s in range(n):
        u, v = F32(ux[s] * span), F32(uy[s] * span)
        for j, wy in _tent(v, g):
            for i, wx in _tent(u, g):
                w[s, j * g + i] += F32(F32(pw[s] * wx) * wy)
    total = _cumsum_columns(w)
    return (w / np.maximum(total, F32(1))).astype(F32)


def _cumsum_columns(w):
    return np.add.accumulate(w, axis=0, dtype=F32)[-1] if len(w) else np.zeros(w.shape[1], F32)


def _round(v):
    # Rust's f32::round: half away from zero
    return int(math.copysign(math.floor(abs(float(v)) + 0.5), float(v)))


def rasterise_unit(strokes, size: int) -> np.ndarray:
    """One-pixel lines of strokes placed in the unit box (``drawing::rasterise_unit``): a point
    (x, y) lands on pixel (1 + x (S - 3), 1 + y (S - 3)), rounded half away from zero, y down;
    each segment is drawn as ceil(its longest side in pixels) + 1 evenly spaced points; a
    stroke of one point is one pixel; ink outside the picture is clipped."""
    img = np.zeros((size, size), F32)
    margin = F32(1)
    scale = F32(max(F32(size) - F32(1) - F32(2) * margin, F32(0)))
    for x, y in strokes:
        px, py = margin + x * scale, margin + y * scale

        def plot(a, b):
            ix, iy = _round(a), _round(b)
            if 0 <= ix < size and 0 <= iy < size:
                img[iy, ix] = 1

        if len(px) == 1:
            plot(px[0], py[0])
        for k in range(len(px) - 1):
            x0, y0, x1, y1 = px[k], py[k], px[k + 1], py[k + 1]
            steps = max(int(math.ceil(max(abs(F32(x1 - x0)), abs(F32(y1 - y0))))), 1)
            t = np.arange(steps + 1, dtype=F32) / F32(steps)
            xs = x0 + F32(x1 - x0) * t
            ys = y0 + F32(y1 - y0) * t
            for a, b in zip(xs, ys):
                plot(a, b)
    return img


def soften(img: np.ndarray) -> np.ndarray:
    """The 3 x 3 binomial blur (1 2 1)^T (1 2 1) / 16, zero outside the picture, then divided
    by its largest value."""
    def blur(src, axis):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (1, 1)
        p = np.pad(src, pad)
        lo = p[:, :-2] if axis == 1 else p[:-2, :]
        mid = p[:, 1:-1] if axis == 1 else p[1:-1, :]
        hi = p[:, 2:] if axis == 1 else p[2:, :]
        return ((F32(0.25) * lo + F32(0.5) * mid) + F32(0.25) * hi).astype(F32)

    out = blur(blur(img, 1), 0)
    m = out.max()
    return (out / m).astype(F32) if m > 0 else out


def picture(d: Drawing, frame, side: int) -> np.ndarray:
    """[S*S]: the drawing in its frame scaled to the square of its longest side, centred, as
    the positions are ((v - mid) / longest side + 1/2), drawn, softened, flattened row by
    row."""
    (lx, ly), (hx, hy) = frame
    extent = max(F32(hx - lx), F32(hy - ly))
    inv = F32(1) / extent if extent > 0 else F32(0)
    mx, my = F32((lx + hx) / F32(2)), F32((ly + hy) / F32(2))
    unit = [((x - mx) * inv + F32(0.5), (y - my) * inv + F32(0.5)) for x, y in to_strokes(d)]
    return soften(rasterise_unit(unit, side)).reshape(-1)


# --- the vectors -----------------------------------------------------------------------------


@torch.no_grad()
def encode_framed(model: Model, d: Drawing, frame) -> torch.Tensor:
    """The latent vector (mu for a VAE) of one prepared drawing whose positions are measured in
    `frame`."""
    cfg, enc = model.cfg, model.encoder
    x = torch.from_numpy(encoder_rows(d, frame, model.scale, cfg["encoder_positions"]))
    out, (h_n, _) = enc.lstm(x.unsqueeze(0))
    out = out[0]  # [L, dirs*E]; PyTorch puts the backward outputs back in the drawing's order
    e = cfg["enc_hidden"]
    dirs = 2 if cfg["bidirectional"] else 1
    w = pool_weights(d, frame, cfg)
    pieces = []
    for k in range(dirs):
        o = out[:, k * e : (k + 1) * e]
        if w is None:
            pieces.append(h_n[k, 0])
        else:
            pieces.append((torch.from_numpy(w).T @ o).flatten())
    if cfg["encoder_raster"] > 0:
        pic = torch.from_numpy(picture(d, frame, cfg["encoder_raster"]))
        pieces.append(torch.tanh(enc.raster(pic)))
    hidden = torch.cat(pieces)
    layer = enc.to_mu if cfg["vae"] else enc.to_latent
    return layer(hidden)


def prepare(model: Model, d: Drawing) -> Drawing:
    cfg = model.cfg
    return canonical(d, cfg["canonical_loop_start"]) if cfg["canonical_order"] else d


def unit_length(z: torch.Tensor) -> torch.Tensor:
    """embed's `unit_length`: each row divided by its norm (a zero row stays zero)."""
    norm = z.pow(2).sum(-1, keepdim=True).sqrt()
    return torch.where(norm > 0, z * (1 / norm), torch.zeros_like(z))


def embed(model: Model, drawings, unit: bool = True) -> torch.Tensor:
    """[N, latent]: embeddings.parquet's `embedding` column (unit length, embed's default)."""
    rows = []
    for d in drawings:
        p = prepare(model, d)
        rows.append(encode_framed(model, p, _frame(p)))
    z = torch.stack(rows)
    return unit_length(z) if unit else z


def embed_parts(model: Model, drawings, names=("inside", "outline", "outside"),
                own_box: bool = True, unit: bool = True) -> dict:
    """The part columns: each part of each prepared drawing encoded alone, its positions in its
    own box (part_box = "own", the default) or the whole drawing's; None where a drawing lacks
    the part."""
    out = {n: [] for n in names}
    for d in drawings:
        whole = prepare(model, d)
        cut = parts(whole)
        for n in names:
            piece = cut[n] if cut else None
            if piece is None:
                out[n].append(None)
                continue
            z = encode_framed(model, piece, _frame(piece if own_box else whole)).unsqueeze(0)
            out[n].append((unit_length(z) if unit else z)[0])
    return out
