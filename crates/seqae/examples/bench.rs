//! Training and encoding throughput of the sequence autoencoder on the CPU.
//!
//! `cargo run --release -p seqae --example bench [-- STEPS [CANDLE_NN_STEPS]]`
//!
//! The original experiment's model (unidirectional encoder, hidden 256, latent 50, mse head),
//! batch 100, 100 points per drawing: training steps with this crate's fused LSTM and with a
//! loop over candle-nn's own LSTM, then encoder-only throughput at batch 1000; the default
//! model's steps and encoding beside them. First, on the CPU, one LSTM layer's op alone and the
//! mdn head's loss alone (its op against candle's operations). Prints figures; asserts nothing
//! about time.
//!
//! With `TORCH_BENCH=figures.json` (written by `scripts/bench_torch.py` in the same run, as
//! `make bench` does), every figure is also printed as a ratio against PyTorch's on the same
//! shapes, and the LSTM's GFLOP/s as a share of the matrix peak PyTorch measured.
//!
//! `BENCH_DEVICE=cuda` (a build with `--features cuda`) runs the training and encoding on the
//! GPU, where the LSTM is the gate-cell loop (`LstmImpl::Auto` there); the PyTorch figures to
//! compare with are then `bench_torch.py OUT.json STEPS cuda`'s (`scripts/gpu-check.sh`).

use std::time::Instant;

use candle_core::Device;
use drawing::Stroke3;
use rand::{RngExt, SeedableRng};
use seqae::{
    ContrastiveViews, Head, LstmImpl, ModelConfig, Optimiser, Pool, SeqAe, TrainConfig, TrainData,
    TrainOptions,
};

const T: usize = 100;
const BATCH: usize = 100;

/// PyTorch's figures of the same run (`scripts/bench_torch.py`).
#[derive(serde::Deserialize)]
struct Torch {
    matmul_gflops: f64,
    train_step_original_s: f64,
    encode_original_per_s: f64,
    encode_default_lstm_per_s: f64,
    encode_original_real_lengths_per_s: f64,
}

fn torch_figures() -> Option<Torch> {
    let path = std::env::var("TORCH_BENCH").ok()?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| eprintln!("TORCH_BENCH={path}: {e}"))
        .ok()?;
    serde_json::from_str(&text)
        .map_err(|e| eprintln!("TORCH_BENCH={path}: {e}"))
        .ok()
}

/// `  vs PyTorch …: 1.23x` when PyTorch was measured, else nothing.
fn versus(what: &str, ours: f64, theirs: Option<f64>) -> String {
    theirs.map_or(String::new(), |t| {
        format!("  vs PyTorch {what}: {:.2}x", ours / t)
    })
}

fn drawings(n: usize, seed: u64) -> Vec<Stroke3> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| Stroke3 {
            dx: (0..T).map(|_| rng.random_range(-30.0..30.0)).collect(),
            dy: (0..T).map(|_| rng.random_range(-30.0..30.0)).collect(),
            pen: (0..T).map(|i| u8::from(i % 10 == 9)).collect(),
        })
        .collect()
}

/// The points of drawing `i` of the real-lengths set: 20 to 200, spread evenly (the same rule
/// as `scripts/bench_torch.py`'s `length`).
fn length(i: usize) -> usize {
    20 + (i * 7919) % 181
}

/// Drawings of real lengths (20 to 200 points), not of one padded length.
fn drawings_of_real_lengths(n: usize, seed: u64) -> Vec<Stroke3> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let t = length(i);
            Stroke3 {
                dx: (0..t).map(|_| rng.random_range(-30.0..30.0)).collect(),
                dy: (0..t).map(|_| rng.random_range(-30.0..30.0)).collect(),
                pen: (0..t).map(|i| u8::from(i % 10 == 9)).collect(),
            }
        })
        .collect()
}

/// Multiply-adds ×2 in the LSTM products of one training step: the forward's (input and
/// state), and the backward's (the state's gradient, and the weights'; the input, data, needs
/// none).
fn lstm_gflop(m: &ModelConfig) -> f64 {
    let layer = |t: usize, i: usize, h: usize| 2.0 * (t * BATCH * 4 * h * (2 * i + 3 * h)) as f64;
    let dirs = if m.bidirectional { 2.0 } else { 1.0 };
    (dirs * layer(T, 5, m.enc_hidden) + layer(T + 1, 5 + m.latent, m.dec_hidden)) / 1e9
}

/// `BENCH_DEVICE`: cpu (the default) or cuda.
fn bench_device() -> Device {
    match std::env::var("BENCH_DEVICE").as_deref() {
        Err(_) | Ok("cpu") => Device::Cpu,
        Ok("cuda") => Device::new_cuda(0).expect("BENCH_DEVICE=cuda: a CUDA build and a GPU"),
        Ok(other) => panic!("BENCH_DEVICE={other}: use cpu or cuda"),
    }
}

/// Trains `m` for `steps` steps of the autoencoder alone (no contrastive views, no time
/// limit, batch [`BATCH`]) into a temporary run folder, kept while the returned dir lives.
fn train_run(
    dev: &Device,
    m: &ModelConfig,
    steps: u64,
    imp: LstmImpl,
    data: &[Stroke3],
) -> (tempfile::TempDir, seqae::TrainSummary) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = TrainConfig {
        max_steps: steps,
        max_minutes: 0.0,
        epochs: u32::MAX,
        checkpoint_every: 0,
        model: m.clone(),
        optimiser: Optimiser {
            batch_size: BATCH,
            ..Optimiser::default()
        },
        contrastive: ContrastiveViews {
            weight: 0.0,
            ..ContrastiveViews::default()
        },
        ..TrainConfig::default()
    };
    let td = TrainData {
        train: data,
        valid: &[],
        path: "synthetic".into(),
        rows: data.len(),
    };
    let opts = TrainOptions {
        run_dir: dir.path(),
        device: dev.clone(),
        resume: false,
        stop: None,
        lstm: imp,
    };
    let s = seqae::train(&cfg, &td, &opts, &mut |_| {}).expect("training");
    (dir, s)
}

fn train_bench(
    dev: &Device,
    name: &str,
    m: &ModelConfig,
    steps: u64,
    imp: LstmImpl,
    data: &[Stroke3],
    torch: Option<&Torch>,
) {
    if steps == 0 {
        return;
    }
    let t0 = Instant::now();
    let (_dir, s) = train_run(dev, m, steps, imp, data);
    let per_step = t0.elapsed().as_secs_f64() / steps as f64;
    let gflops = lstm_gflop(m) / per_step;
    // PyTorch's peak is f32's; bf16 products can pass it (their own is about twice)
    let of = if imp == LstmImpl::FusedBf16 {
        "the f32 matrix peak"
    } else {
        "the matrix peak"
    };
    let peak = torch.map_or(String::new(), |t| {
        format!(" = {:.0}% of {of}", 100.0 * gflops / t.matmul_gflops)
    });
    // PyTorch's step is of the original model only
    let vs = if m.head == Head::Mse && !m.bidirectional {
        // steps per second, ours over PyTorch's
        versus(
            "step",
            1.0 / per_step,
            torch.map(|t| 1.0 / t.train_step_original_s),
        )
    } else {
        String::new()
    };
    println!(
        "train {name:<28} {steps:>4} steps  {per_step:.3} s/step  {:>7.0} sequences/s  {gflops:>5.1} GFLOP/s{peak} (LSTM products, {:.1} GFLOP/step){}  loss {:.3}",
        s.sequences_per_s,
        lstm_gflop(m),
        vs,
        s.train_loss.unwrap_or(f32::NAN)
    );
}

fn encode_bench(
    dev: &Device,
    name: &str,
    (m, imp): (&ModelConfig, LstmImpl),
    data: &[Stroke3],
    torch: Option<f64>,
) {
    let model = SeqAe::new(m, 30.0, 0, imp, dev).expect("model");
    let refs: Vec<&Stroke3> = data.iter().collect();
    model.encode(&refs[..1000], 1000).expect("warm-up");
    let t0 = Instant::now();
    let z = model.encode(&refs, 1000).expect("encode");
    let s = t0.elapsed().as_secs_f64();
    let rate = z.len() as f64 / s;
    let points = if data.iter().all(|d| d.len() == T) {
        format!("{T} points")
    } else {
        "20-200 points".to_string()
    };
    println!(
        "encode {name:<27} {} drawings of {points} at batch 1000: {:.2} s, {rate:>6.0} drawings/s{}",
        z.len(),
        s,
        versus("drawings/s", rate, torch)
    );
}

/// On a GPU: trains `m` for `steps` steps there, then encodes the same drawings with the model
/// loaded on the GPU and on the CPU (the fused op), and prints the largest difference.
fn cross_device_check(dev: &Device, m: &ModelConfig, steps: u64, data: &[Stroke3]) {
    let (dir, _) = train_run(dev, m, steps, LstmImpl::Auto, data);
    let refs: Vec<&Stroke3> = data[..2000].iter().collect();
    let encode = |d: &Device| {
        let (model, _) = seqae::load(dir.path(), d).expect("load the run");
        model.encode(&refs, 500).expect("encode").concat()
    };
    let (gpu, cpu) = (encode(dev), encode(&Device::Cpu));
    let worst = gpu
        .iter()
        .zip(&cpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    println!(
        "check  the default model trained {steps} steps on {dev:?}: its vectors of {} drawings on the GPU and on the CPU differ by at most {worst:.2e} ({})",
        refs.len(),
        if worst <= 1e-4 { "within 1e-4" } else { "NOT within 1e-4" }
    );
}

/// The mdn head's loss alone at the default model's shapes (batch 100 of 100 points and the
/// end row, 20 components), forward and backward: the CPU's op (`seqae::mdn`) against the
/// same loss composed of candle's operations (what CUDA and Metal run). Best of 10 rounds of 5.
fn mdn_bench() {
    let (rows, m) = (BATCH * (T + 1), 20);
    let d = 6 * m + 3;
    let dev = Device::Cpu;
    let spread = |i: usize, k: usize| ((i * k) % 1000) as f32 / 500.0 - 1.0;
    let out = candle_core::Var::from_vec(
        (0..rows * d).map(|i| spread(i, 7919)).collect(),
        (rows, d),
        &dev,
    )
    .expect("outputs");
    let mut target = vec![0f32; rows * 5];
    for (r, t) in target.chunks_exact_mut(5).enumerate() {
        (t[0], t[1]) = (spread(r, 13), spread(r, 17));
        t[2 + r % 3] = 1.0;
    }
    let target = candle_core::Tensor::from_vec(target, (rows, 5), &dev).expect("targets");
    let mask = candle_core::Tensor::ones(rows, candle_core::DType::F32, &dev).expect("mask");
    type Loss = fn(
        &candle_core::Tensor,
        &candle_core::Tensor,
        &candle_core::Tensor,
        &candle_core::Tensor,
        usize,
    ) -> seqae::Result<candle_core::Tensor>;
    let time = |loss: Loss| {
        (0..10)
            .map(|_| {
                let t0 = Instant::now();
                for _ in 0..5 {
                    let l = loss(out.as_tensor(), &target, &mask, &mask, m).expect("loss");
                    let grads = l.backward().expect("backward");
                    std::hint::black_box(grads.get(&out).expect("gradient"));
                }
                t0.elapsed().as_secs_f64() / 5.0
            })
            .fold(f64::MAX, f64::min)
    };
    let (op, composed) = (
        time(seqae::model::mdn_loss),
        time(seqae::model::mdn_loss_composed),
    );
    println!(
        "loss   mdn head, {rows} rows, {m} components, forward + backward: one op {:.1} ms, candle's operations {:.1} ms: {:.1}x",
        op * 1e3,
        composed * 1e3,
        composed / op
    );
}

/// One layer's custom op alone (input projection and recurrence, forward + backward).
fn op_bench(h: usize, reps: usize, precision: seqae::Precision) {
    use candle_core::{Tensor, Var};
    let dev = Device::Cpu;
    // input width 5, as the model's stroke-5 input
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (T, BATCH, 5), &dev).unwrap()).unwrap();
    let w = Var::from_tensor(
        &(Tensor::randn(0f32, 1.0, (4 * h, 5 + h + 1), &dev).unwrap() * 0.05).unwrap(),
    )
    .unwrap();
    let s0 = Tensor::zeros((BATCH, 2 * h), candle_core::DType::F32, &dev).unwrap();
    let lengths = vec![T; BATCH];
    let (mut fwd, mut bwd) = (0.0, 0.0);
    for _ in 0..reps {
        let t0 = Instant::now();
        let y = seqae::lstm::fused(&x, &w, &s0, &lengths, seqae::kernel::Output::All, precision)
            .unwrap();
        let t1 = Instant::now();
        let _g = y.sum_all().unwrap().backward().unwrap();
        fwd += (t1 - t0).as_secs_f64();
        bwd += t1.elapsed().as_secs_f64();
    }
    let flop = 2.0 * (T * BATCH * 4 * h * (h + 5)) as f64;
    let (fwd, bwd) = (fwd / reps as f64, bwd / reps as f64);
    println!(
        "op     one LSTM layer H={h} I=5 T={T} B={BATCH} {precision:?}: forward {:.1} ms ({:.1} GFLOP/s), backward {:.1} ms ({:.1} GFLOP/s)",
        fwd * 1e3,
        flop / fwd / 1e9,
        bwd * 1e3,
        2.0 * flop / bwd / 1e9
    );
}

fn main() {
    // the stages' allocator and its settings
    stage::init();
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("STEPS must be a number"))
        .collect();
    let steps = args.first().copied().unwrap_or(100);
    let nn_steps = args.get(1).copied().unwrap_or(steps);
    let dev = bench_device();
    println!(
        "threads: {} (RAYON_NUM_THREADS), device: {dev:?}",
        rayon::current_num_threads()
    );
    // bf16 products where the CPU has them (AVX512-BF16)
    let bf16 = dev.is_cpu() && seqae::bf16::available();
    if let Some(note) = seqae::Precision::Bf16.fallback_note(dev.is_cpu()) {
        println!("bf16 rows left out: {note}");
    }
    if dev.is_cpu() {
        op_bench(256, 10, seqae::Precision::F32);
    }
    if bf16 {
        op_bench(256, 10, seqae::Precision::Bf16);
    }
    if dev.is_cpu() {
        mdn_bench();
    }
    // the blog post's model (datasets/original-experiment.toml)
    let original = ModelConfig {
        enc_hidden: 256,
        dec_hidden: 256,
        latent: 50,
        bidirectional: false,
        encoder_pool: Pool::Last,
        encoder_positions: false,
        encoder_raster: 0,
        decoder_positions: false,
        canonical_order: false,
        canonical_loop_start: false,
        head: Head::Mse,
        vae: false,
        ..ModelConfig::default()
    };
    let default = ModelConfig::default();
    let data = drawings(10_000, 1);
    let torch = torch_figures();
    if torch.is_none() {
        println!("(PyTorch not measured: no TORCH_BENCH figures; `make bench` measures them)");
    }
    let torch = torch.as_ref();
    let fused = if dev.is_cpu() {
        "original, fused LSTM"
    } else {
        "original, gate-cell loop"
    };
    // each model as it runs by default, then with bf16 products where the CPU has them
    let precisions = |name: &str| {
        let bf16_name = format!("{name}, bf16");
        std::iter::once((name.to_string(), LstmImpl::Auto))
            .chain(bf16.then_some((bf16_name, LstmImpl::FusedBf16)))
    };
    for (name, m) in [(fused, &original), ("default (make all's model)", &default)] {
        for (name, imp) in precisions(name) {
            train_bench(&dev, &name, m, steps, imp, &data, torch);
        }
    }
    if dev.is_cpu() {
        // what CUDA runs, here for its cost on the CPU
        train_bench(
            &dev,
            "original, gate-cell loop",
            &original,
            nn_steps,
            LstmImpl::GateCell,
            &data,
            torch,
        );
    }
    train_bench(
        &dev,
        "original, candle-nn LSTM",
        &original,
        nn_steps,
        LstmImpl::CandleNn,
        &data,
        torch,
    );
    let real_lengths = drawings_of_real_lengths(10_000, 2);
    let encodings = [
        (
            "original (1 direction)",
            &original,
            &data,
            torch.map(|t| t.encode_original_per_s),
        ),
        // sorted by length (as embed does, and PyTorch's figure packs them): no padding work
        (
            "original, real lengths",
            &original,
            &real_lengths,
            torch.map(|t| t.encode_original_real_lengths_per_s),
        ),
        // PyTorch's figure for the default model is its bidirectional LSTM alone: ours also
        // runs the raster branch and the pooling, so this ratio understates ours
        (
            "default (2 directions)",
            &default,
            &data,
            torch.map(|t| t.encode_default_lstm_per_s),
        ),
    ];
    for (name, m, drawings, theirs) in encodings {
        for (name, imp) in precisions(name) {
            encode_bench(&dev, &name, (m, imp), drawings, theirs);
        }
    }
    if !dev.is_cpu() {
        cross_device_check(&dev, &default, steps, &data);
    }
}
