"""PyTorch's side of `make bench` (issue 25): the same shapes as crates/seqae/examples/bench.rs,
measured in the same run, so the Rust figures print as ratios against these.

- the machine's single-precision matrix peak: a 2048x2048 product (GFLOP/s);
- a training step of the original experiment's model (nn.LSTM(5, 256) encoder, its last state
  to a latent of 50, nn.LSTM(5 + 50, 256) decoder fed the latent at every step, a linear
  stroke-5 head, MSE, Adam), batch 100, 100 points;
- encoding that model's drawings (the encoder alone, no gradients), batch 1000, 100 points,
  and the default model's encoder (bidirectional nn.LSTM(7, 64)) on the same drawings;
- encoding drawings of real lengths, 20 to 200 points (`length(i)`, the same as bench.rs's),
  sorted by length and packed (`pack_padded_sequence`), so no work goes to padding.

Threads: PyTorch's default (every core), as the Rust stages use every core.

python bench_torch.py OUT.json [STEPS] [DEVICE]

DEVICE is cpu (the default) or cuda: there nn.LSTM is cuDNN's, the products single precision
without TF32 (as candle's), and every timing waits for the GPU (scripts/gpu-check.sh).
"""

import json
import sys
import time

import torch
from torch import nn

T, BATCH = 100, 100
DEV = torch.device(sys.argv[3] if len(sys.argv) > 3 else "cpu")


def sync():
    if DEV.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, reps):
    """The sorted times of `reps` calls after one warm-up."""
    fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return sorted(times)


def best(fn, reps):
    """The median time of `reps` calls."""
    times = timed(fn, reps)
    return times[len(times) // 2]


def matmul_peak():
    """The fastest of 30 products: a peak, so the best case, not the median."""
    a, b = torch.randn(2048, 2048, device=DEV), torch.randn(2048, 2048, device=DEV)
    s = timed(lambda: a @ b, 30)[0]
    return 2 * 2048**3 / s / 1e9


class Original(nn.Module):
    """The blog experiment's autoencoder, as datasets/original-experiment.toml configures ours."""

    def __init__(self, hidden=256, latent=50):
        super().__init__()
        self.enc = nn.LSTM(5, hidden, batch_first=False)
        self.to_z = nn.Linear(hidden, latent)
        self.dec = nn.LSTM(5 + latent, hidden, batch_first=False)
        self.out = nn.Linear(hidden, 5)

    def encode(self, x):
        _, (h, _) = self.enc(x)
        return self.to_z(h[-1])

    def forward(self, x):
        z = self.encode(x)
        # teacher forcing: the start token, then the drawing shifted by one, with z each step
        start = torch.zeros(1, x.shape[1], 5, device=x.device)
        inp = torch.cat([start, x], 0)
        zt = z.unsqueeze(0).expand(inp.shape[0], -1, -1)
        y, _ = self.dec(torch.cat([inp, zt], 2))
        return self.out(y)


def length(i):
    """The points of drawing i of the real-lengths set: 20 to 200, spread evenly (bench.rs)."""
    return 20 + (i * 7919) % 181


def drawings(n):
    g = torch.Generator().manual_seed(1)
    x = torch.zeros(T, n, 5)
    x[:, :, :2] = torch.rand(T, n, 2, generator=g) * 2 - 1
    x[:, :, 2] = 1
    return x.to(DEV)


def main():
    out = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    peak = matmul_peak()

    model = Original().to(DEV)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = drawings(BATCH)
    target = torch.cat([x, torch.zeros(1, BATCH, 5, device=DEV)], 0)

    def step():
        opt.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        opt.step()

    step_s = best(step, steps)

    xs = drawings(1000)

    def encode_with(f):
        with torch.no_grad():
            f(xs)

    enc_original = 1000 / best(lambda: encode_with(model.encode), 10)
    bi = nn.LSTM(7, 64, bidirectional=True).to(DEV)
    xs7 = torch.cat([xs, torch.zeros(T, 1000, 2, device=DEV)], 2)
    enc_default = 1000 / best(lambda: encode_with(lambda _: bi(xs7)), 10)

    # real lengths: sorted, in batches of 1000, each packed
    n = 10000
    lengths = sorted(length(i) for i in range(n))
    xr = drawings(n)[:, :, :]
    xr = torch.cat([xr, xr], 0)[: max(lengths)]

    def encode_real():
        with torch.no_grad():
            for b0 in range(0, n, 1000):
                ls = lengths[b0 : b0 + 1000]
                xb = xr[: max(ls), b0 : b0 + 1000]
                packed = nn.utils.rnn.pack_padded_sequence(xb, ls, enforce_sorted=False)
                _, (h, _) = model.enc(packed)
                model.to_z(h[-1])

    enc_real = n / best(encode_real, 3)

    figures = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if DEV.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "matmul_gflops": peak,
        "train_step_original_s": step_s,
        "encode_original_per_s": enc_original,
        "encode_default_lstm_per_s": enc_default,
        "encode_original_real_lengths_per_s": enc_real,
    }
    with open(out, "w") as f:
        json.dump(figures, f, indent=1)
    print(
        f"  PyTorch {torch.__version__} on {figures['device']}, {torch.get_num_threads()} threads: matrix peak "
        f"{peak:.0f} GFLOP/s (2048^2 sgemm); original model's training step {step_s:.3f} s; "
        f"encoding {enc_original:.0f} drawings/s (original), {enc_default:.0f}/s (default's "
        f"bidirectional LSTM alone); real lengths (20-200 points, packed) {enc_real:.0f}/s"
    )


if __name__ == "__main__":
    main()
