//! Tests of the whole model: losses, training, checkpoints, run folders.

use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, Tensor, Var};
use drawing::{Part, Stroke, Stroke3};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::kernel::Output;
use crate::lstm::reverse_within;
use crate::model::{info_nce, mdn_loss, mse_loss};
use crate::*;

/// Little closed polygons and zig-zags of varied size and length.
fn shapes(n: usize, seed: u64) -> Vec<Stroke3> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let k = rng.random_range(4..12usize);
            let r = rng.random_range(10.0..60.0f32);
            let (cx, cy) = (
                rng.random_range(60.0..190.0f32),
                rng.random_range(60.0..190.0f32),
            );
            let mut strokes = vec![Stroke::new(
                (0..=k)
                    .map(|j| cx + r * (j as f32 / k as f32 * std::f32::consts::TAU).cos())
                    .collect(),
                (0..=k)
                    .map(|j| cy + r * (j as f32 / k as f32 * std::f32::consts::TAU).sin())
                    .collect(),
            )];
            if i % 2 == 0 {
                strokes.push(Stroke::new(
                    vec![cx - 5.0, cx, cx + 5.0],
                    vec![cy, cy + 5.0, cy],
                ));
            }
            Stroke3::from_strokes(&strokes)
        })
        .collect()
}

fn tiny(head: Head, vae: bool, bidirectional: bool) -> ModelConfig {
    ModelConfig {
        enc_hidden: 16,
        dec_hidden: 24,
        latent: 8,
        bidirectional,
        // the bidirectional tiny models also cover the grid pool, the position inputs and the
        // raster branch
        encoder_pool: if bidirectional {
            Pool::Grid
        } else {
            Pool::Last
        },
        encoder_grid: 2,
        encoder_positions: bidirectional,
        encoder_raster: if bidirectional { 8 } else { 0 },
        encoder_raster_width: 6,
        decoder_positions: bidirectional,
        canonical_order: bidirectional,
        canonical_loop_start: false,
        head,
        mixtures: 3,
        vae,
    }
}

/// Plain training for `steps` steps: no augmentation, no contrastive term, no time limit.
fn quick(steps: u64) -> TrainConfig {
    TrainConfig {
        epochs: 1000,
        max_steps: steps,
        max_minutes: 0.0,
        augment: 0.0,
        checkpoint_every: 0,
        optimiser: Optimiser {
            batch_size: 4,
            learning_rate: 1e-2,
            ..Optimiser::default()
        },
        contrastive: ContrastiveViews {
            weight: 0.0,
            ..ContrastiveViews::default()
        },
        ..TrainConfig::default()
    }
}

fn with_batch(cfg: TrainConfig, batch_size: usize) -> TrainConfig {
    TrainConfig {
        optimiser: Optimiser {
            batch_size,
            ..cfg.optimiser.clone()
        },
        ..cfg
    }
}

fn run(
    model: &ModelConfig,
    cfg: &TrainConfig,
    train: &[Stroke3],
    valid: &[Stroke3],
    dir: &std::path::Path,
    resume: bool,
    stop: Option<&AtomicBool>,
) -> crate::Result<TrainSummary> {
    run_with(LstmImpl::Auto, model, cfg, train, valid, dir, resume, stop)
}

#[allow(clippy::too_many_arguments)]
fn run_with(
    lstm: LstmImpl,
    model: &ModelConfig,
    cfg: &TrainConfig,
    train: &[Stroke3],
    valid: &[Stroke3],
    dir: &std::path::Path,
    resume: bool,
    stop: Option<&AtomicBool>,
) -> crate::Result<TrainSummary> {
    let data = TrainData {
        train,
        valid,
        path: "memory".into(),
        rows: train.len() + valid.len(),
    };
    let opts = TrainOptions {
        run_dir: dir,
        device: Device::Cpu,
        resume,
        stop,
        lstm,
    };
    let cfg = TrainConfig {
        model: model.clone(),
        ..cfg.clone()
    };
    crate::train(&cfg, &data, &opts, &mut |_| {})
}

fn weights(dir: &std::path::Path) -> Vec<(String, Vec<f32>)> {
    let t = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
    let mut v: Vec<_> = t
        .into_iter()
        .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn variables_keep_the_names_and_shapes_saved_files_use() {
    // model.safetensors files and python/doodle_torch.py read the variables by these names
    let names = |cfg: &ModelConfig| -> Vec<(String, Vec<usize>)> {
        let model = SeqAe::new(cfg, 3.0, 1, LstmImpl::Auto, &Device::Cpu).unwrap();
        model
            .named_vars()
            .into_iter()
            .map(|(n, v)| (n, v.dims().to_vec()))
            .collect()
    };
    let want = |list: &[(&str, &[usize])]| -> Vec<(String, Vec<usize>)> {
        list.iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect()
    };
    // bidirectional, 7-wide rows, a 2 × 2 grid pool (4 summaries of 16 per direction) and an
    // 8 × 8 picture branch 6 wide: 2·4·16 + 6 = 134 into the VAE's heads; the decoder reads
    // 7-wide rows and the latent (8), its mdn head 6·3 + 3 wide
    assert_eq!(
        names(&tiny(Head::Mdn, true, true)),
        want(&[
            ("decoder.head.bias", &[21]),
            ("decoder.head.weight", &[21, 24]),
            ("decoder.init.bias", &[48]),
            ("decoder.init.weight", &[48, 8]),
            ("decoder.lstm.bias_hh_l0", &[96]),
            ("decoder.lstm.bias_ih_l0", &[96]),
            ("decoder.lstm.weight_hh_l0", &[96, 24]),
            ("decoder.lstm.weight_ih_l0", &[96, 15]),
            ("encoder.lstm.bias_hh_l0", &[64]),
            ("encoder.lstm.bias_hh_l0_reverse", &[64]),
            ("encoder.lstm.bias_ih_l0", &[64]),
            ("encoder.lstm.bias_ih_l0_reverse", &[64]),
            ("encoder.lstm.weight_hh_l0", &[64, 16]),
            ("encoder.lstm.weight_hh_l0_reverse", &[64, 16]),
            ("encoder.lstm.weight_ih_l0", &[64, 7]),
            ("encoder.lstm.weight_ih_l0_reverse", &[64, 7]),
            ("encoder.raster.bias", &[6]),
            ("encoder.raster.weight", &[6, 64]),
            ("encoder.to_logsigma.bias", &[8]),
            ("encoder.to_logsigma.weight", &[8, 134]),
            ("encoder.to_mu.bias", &[8]),
            ("encoder.to_mu.weight", &[8, 134]),
        ])
    );
    assert_eq!(
        names(&tiny(Head::Mse, false, false)),
        want(&[
            ("decoder.head.bias", &[3]),
            ("decoder.head.weight", &[3, 24]),
            ("decoder.init.bias", &[48]),
            ("decoder.init.weight", &[48, 8]),
            ("decoder.lstm.bias_hh_l0", &[96]),
            ("decoder.lstm.bias_ih_l0", &[96]),
            ("decoder.lstm.weight_hh_l0", &[96, 24]),
            ("decoder.lstm.weight_ih_l0", &[96, 13]),
            ("encoder.lstm.bias_hh_l0", &[64]),
            ("encoder.lstm.bias_ih_l0", &[64]),
            ("encoder.lstm.weight_hh_l0", &[64, 16]),
            ("encoder.lstm.weight_ih_l0", &[64, 5]),
            ("encoder.to_latent.bias", &[8]),
            ("encoder.to_latent.weight", &[8, 16]),
        ])
    );
}

#[test]
fn tiny_model_overfits_a_handful_of_drawings() {
    let data = shapes(4, 1);
    for (head, factor) in [(Head::Mse, 5.0f32), (Head::Mdn, 0.0)] {
        let dir = tempfile::tempdir().unwrap();
        let s = run(
            &tiny(head, false, true),
            &quick(300),
            &data,
            &[],
            dir.path(),
            false,
            None,
        )
        .unwrap();
        let first = s.log[0].train_loss;
        let last = s.log.last().unwrap().train_loss;
        if head == Head::Mse {
            assert!(last * factor < first, "{head:?}: loss {first} -> {last}");
        } else {
            // the NLL has no floor at zero: it must fall by several nats
            assert!(first - last > 3.0, "{head:?}: loss {first} -> {last}");
        }
        assert_eq!(s.stop, StopReason::MaxSteps);
        assert_eq!(s.steps, 300);
    }
}

/// The gate-cell loop (what CUDA runs) trains the model that the CPU's fused op trains: both
/// runs' models, loaded on the CPU, encode within 1e-4 of each other. (Across devices,
/// `scripts/gpu-check.sh` checks the same on a GPU.)
#[test]
fn a_model_trained_through_the_gate_cell_encodes_like_one_trained_on_the_fused_op() {
    let data = shapes(12, 6);
    let refs: Vec<&Stroke3> = data.iter().collect();
    let model_cfg = tiny(Head::Mdn, true, true);
    let mut runs = Vec::new();
    for imp in [LstmImpl::Auto, LstmImpl::GateCell] {
        let dir = tempfile::tempdir().unwrap();
        let s = run_with(
            imp,
            &model_cfg,
            &quick(10),
            &data,
            &[],
            dir.path(),
            false,
            None,
        )
        .unwrap();
        let (m, _) = crate::load(dir.path(), &Device::Cpu).unwrap();
        runs.push((
            s.log.last().unwrap().train_loss,
            m.encode(&refs, 5).unwrap(),
        ));
    }
    let (a, b) = (&runs[0], &runs[1]);
    assert!((a.0 - b.0).abs() < 1e-4, "last loss {} vs {}", a.0, b.0);
    let d =
        a.1.concat()
            .iter()
            .zip(b.1.concat())
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
    assert!(d < 1e-4, "the two models' vectors differ by {d}");
}

/// A stage asked for bf16 where it cannot run says so: on a GPU always, on a CPU when it lacks
/// AVX512-BF16; f32 never needs a word.
#[test]
fn bf16_says_when_it_falls_back_to_f32() {
    use crate::Precision::{Bf16, F32};
    assert_eq!(F32.fallback_note(true), None);
    assert_eq!(F32.fallback_note(false), None);
    assert!(Bf16
        .fallback_note(false)
        .is_some_and(|n| n.contains("device")));
    assert_eq!(
        Bf16.fallback_note(true).is_some(),
        !crate::bf16::available(),
        "{:?}",
        Bf16.fallback_note(true)
    );
}

/// `precision = "bf16"` reaches the LSTM's products: trained from the same seed, the loss
/// follows f32's to within bf16's rounding, and differs from it (the bf16 products ran).
#[test]
fn bf16_precision_trains_like_f32() {
    if !crate::bf16::available() {
        eprintln!("no AVX512-BF16 here: bf16 training is not run");
        return;
    }
    let data = shapes(12, 6);
    // wide enough for bf16 products (kernel::BF16_MIN_K)
    let model_cfg = ModelConfig {
        enc_hidden: 32,
        dec_hidden: 48,
        ..tiny(Head::Mdn, false, true)
    };
    let mut losses = Vec::new();
    for precision in [crate::Precision::F32, crate::Precision::Bf16] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = TrainConfig {
            precision,
            ..quick(10)
        };
        let s = run(&model_cfg, &cfg, &data, &[], dir.path(), false, None).unwrap();
        losses.push(s.log.last().unwrap().train_loss);
    }
    let (f32_loss, bf16_loss) = (losses[0], losses[1]);
    assert_ne!(f32_loss, bf16_loss, "bf16 gave f32's loss to the bit");
    assert!(
        (f32_loss - bf16_loss).abs() <= 0.02 * f32_loss.abs().max(1.0),
        "last loss {f32_loss} (f32) against {bf16_loss} (bf16)"
    );
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let data = shapes(12, 2);
    let dir = tempfile::tempdir().unwrap();
    let model_cfg = tiny(Head::Mdn, true, true);
    run(
        &model_cfg,
        &quick(5),
        &data[..8],
        &data[8..],
        dir.path(),
        false,
        None,
    )
    .unwrap();
    let (a, info) = crate::load(dir.path(), &Device::Cpu).unwrap();
    let (b, _) = crate::load(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(info.model, model_cfg);
    assert_eq!(info.data.train_rows, 8);
    assert_eq!(info.losses.steps, 5);
    assert!(info.losses.valid_loss.is_some());
    let refs: Vec<&Stroke3> = data.iter().collect();
    let za = a.encode(&refs, 5).unwrap();
    let zb = b.encode(&refs, 1000).unwrap();
    assert_eq!(za.len(), 12);
    assert!(za.iter().all(|z| z.len() == 8));
    for (x, y) in za.iter().zip(&zb) {
        for (p, q) in x.iter().zip(y) {
            assert!(
                (p - q).abs() < 1e-5,
                "batching changes the encoding: {p} vs {q}"
            );
        }
    }
    let flat: Vec<f32> = za.concat();
    let mode = DecodeMode::Sample {
        temperature: 0.5,
        seed: 9,
    };
    assert_eq!(
        a.decode(&flat, 30, mode).unwrap(),
        b.decode(&flat, 30, mode).unwrap()
    );
    let greedy = a.decode(&flat, 30, DecodeMode::Greedy).unwrap();
    assert_eq!(greedy.len(), 12);
    assert!(greedy
        .iter()
        .all(|d| d.len() <= 30 && d.pen.last().is_none_or(|&p| p == 1)));
}

#[test]
fn resume_ends_where_an_uninterrupted_run_would() {
    let data = shapes(20, 3);
    let model_cfg = tiny(Head::Mdn, true, true);
    let cfg = TrainConfig {
        augment: 0.15,
        // the contrastive views are drawn at random too
        contrastive: ContrastiveViews {
            weight: 0.5,
            stroke_drop: 0.3,
            ..ContrastiveViews::default()
        },
        checkpoint_every: 4,
        ..with_batch(quick(13), 6)
    };
    let whole = tempfile::tempdir().unwrap();
    let s1 = run(
        &model_cfg,
        &cfg,
        &data[..16],
        &data[16..],
        whole.path(),
        false,
        None,
    )
    .unwrap();
    let parts = tempfile::tempdir().unwrap();
    let first = TrainConfig {
        max_steps: 7,
        ..cfg.clone()
    };
    run(
        &model_cfg,
        &first,
        &data[..16],
        &data[16..],
        parts.path(),
        false,
        None,
    )
    .unwrap();
    // a fresh run may not overwrite a checkpoint
    assert!(run(
        &model_cfg,
        &cfg,
        &data[..16],
        &data[16..],
        parts.path(),
        false,
        None
    )
    .is_err());
    // nor resume with settings that change the weights
    let other = TrainConfig {
        optimiser: Optimiser {
            learning_rate: 0.5,
            ..cfg.optimiser.clone()
        },
        ..cfg.clone()
    };
    let e = run(
        &model_cfg,
        &other,
        &data[..16],
        &data[16..],
        parts.path(),
        true,
        None,
    )
    .unwrap_err();
    assert!(matches!(e, Error::ResumeMismatch { .. }), "{e}");
    let s2 = run(
        &model_cfg,
        &cfg,
        &data[..16],
        &data[16..],
        parts.path(),
        true,
        None,
    )
    .unwrap();
    assert_eq!(s2.steps, 13);
    assert_eq!(weights(whole.path()), weights(parts.path()));
    let losses = |s: &TrainSummary| {
        s.log
            .iter()
            .map(|r| (r.step, r.train_loss, r.valid_loss))
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(&s1), losses(&s2));
}

#[test]
fn stop_flag_writes_a_checkpoint_and_returns() {
    let data = shapes(6, 4);
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(true);
    let s = run(
        &tiny(Head::Mse, false, false),
        &quick(50),
        &data,
        &[],
        dir.path(),
        false,
        Some(&stop),
    )
    .unwrap();
    assert_eq!(s.stop, StopReason::Interrupted);
    assert_eq!(s.steps, 0);
    assert!(dir.path().join("checkpoint.safetensors").exists());
    assert!(dir.path().join("model.json").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_input_gives_clear_errors() {
    let mut data = shapes(5, 5);
    let dir = tempfile::tempdir().unwrap();
    data[3].dx[1] = f32::NAN;
    let e = run(
        &tiny(Head::Mse, false, false),
        &quick(2),
        &data,
        &[],
        dir.path(),
        false,
        None,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("train split") && msg.contains("drawing 3") && msg.contains("point 1"),
        "{msg}"
    );
    let e = run(
        &tiny(Head::Mse, false, false),
        &quick(2),
        &[],
        &[],
        dir.path(),
        false,
        None,
    )
    .unwrap_err();
    assert!(matches!(e, Error::NoTrainingData { .. }), "{e}");

    let m = SeqAe::new(
        &tiny(Head::Mdn, false, false),
        10.0,
        0,
        LstmImpl::Auto,
        &Device::Cpu,
    )
    .unwrap();
    let good = shapes(1, 6).remove(0);
    let empty = Stroke3::default();
    let e = m.encode(&[&good, &empty], 10).unwrap_err();
    assert!(matches!(e, Error::EmptyDrawing { index: 1 }), "{e}");
    assert!(matches!(
        m.decode(&[0.0; 7], 5, DecodeMode::Greedy),
        Err(Error::LatentWidth { .. })
    ));
    let mut z = vec![0.0; 16];
    z[9] = f32::INFINITY;
    assert!(matches!(
        m.decode(&z, 5, DecodeMode::Greedy),
        Err(Error::LatentNonFinite {
            index: 1,
            position: 1
        })
    ));
    assert!(m
        .decode(
            &[0.0; 8],
            5,
            DecodeMode::Sample {
                temperature: 0.0,
                seed: 0
            }
        )
        .is_err());
    assert!(crate::load(dir.path().join("nothing").as_path(), &Device::Cpu).is_err());
    let bad = ModelConfig {
        latent: 0,
        ..tiny(Head::Mse, false, false)
    };
    assert!(matches!(
        SeqAe::new(&bad, 1.0, 0, LstmImpl::Auto, &Device::Cpu),
        Err(Error::Config(_))
    ));
}

/// Random stroke-5 targets and masks for the loss checks.
pub(crate) fn loss_inputs(
    n: usize,
    d: usize,
    rng: &mut ChaCha8Rng,
) -> (Var, Tensor, Tensor, Tensor) {
    let out: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut target = vec![0f64; n * 5];
    let mut mxy = vec![0f64; n];
    let mut mpen = vec![0f64; n];
    for r in 0..n {
        target[r * 5] = rng.random_range(-2.0..2.0);
        target[r * 5 + 1] = rng.random_range(-2.0..2.0);
        target[r * 5 + 2 + rng.random_range(0..3usize)] = 1.0;
        mpen[r] = f64::from(r % 4 != 3);
        mxy[r] = f64::from(r % 4 < 2);
    }
    let dev = Device::Cpu;
    (
        Var::from_vec(out, (n, d), &dev).unwrap(),
        Tensor::from_vec(target, (n, 5), &dev).unwrap(),
        Tensor::from_vec(mxy, n, &dev).unwrap(),
        Tensor::from_vec(mpen, n, &dev).unwrap(),
    )
}

fn check_gradient(out: &Var, f: &dyn Fn(&Tensor) -> f64, grad: &Tensor) {
    let base = out.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let g = grad.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let eps = 1e-6;
    for k in 0..base.len() {
        let at = |delta: f64| {
            let mut p = base.clone();
            p[k] += delta;
            f(&Tensor::from_vec(p, out.dims(), &Device::Cpu).unwrap())
        };
        let fd = (at(eps) - at(-eps)) / (2.0 * eps);
        assert!(
            (fd - g[k]).abs() < 1e-6 + 1e-5 * fd.abs(),
            "[{k}] fd {fd} vs {}",
            g[k]
        );
    }
}

#[test]
fn mdn_loss_value_and_gradient() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let m = 2;
    let (out, target, mxy, mpen) = loss_inputs(8, 6 * m + 3, &mut rng);
    let f = |o: &Tensor| {
        mdn_loss(o, &target, &mxy, &mpen, m)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    // value against a direct evaluation of the mixture density
    let o = out.to_vec2::<f64>().unwrap();
    let t = target.to_vec2::<f64>().unwrap();
    let (mx, mp) = (
        mxy.to_vec1::<f64>().unwrap(),
        mpen.to_vec1::<f64>().unwrap(),
    );
    let (mut nll_xy, mut nll_pen) = (0.0, 0.0);
    for r in 0..8 {
        let row = &o[r];
        let zpi: f64 = (0..m).map(|k| row[k].exp()).sum();
        let mut density = 0.0;
        for k in 0..m {
            let (pi, mux, muy) = (row[k].exp() / zpi, row[m + k], row[2 * m + k]);
            let (sx, sy, rho) = (
                row[3 * m + k].exp(),
                row[4 * m + k].exp(),
                row[5 * m + k].tanh(),
            );
            let (zx, zy) = ((t[r][0] - mux) / sx, (t[r][1] - muy) / sy);
            let q = zx * zx + zy * zy - 2.0 * rho * zx * zy;
            let one = 1.0 - rho * rho;
            density +=
                pi * (-q / (2.0 * one)).exp() / (2.0 * std::f64::consts::PI * sx * sy * one.sqrt());
        }
        nll_xy -= mx[r] * density.ln();
        let zp: f64 = (0..3).map(|j| row[6 * m + j].exp()).sum();
        let p: f64 = (0..3)
            .map(|j| t[r][2 + j] * row[6 * m + j].exp() / zp)
            .sum();
        nll_pen -= mp[r] * p.ln();
    }
    let expect = nll_xy / mx.iter().sum::<f64>() + nll_pen / mp.iter().sum::<f64>();
    assert!(
        (f(out.as_tensor()) - expect).abs() < 1e-5,
        "{} vs {expect}",
        f(out.as_tensor())
    );
    let grads = mdn_loss(&out, &target, &mxy, &mpen, m)
        .unwrap()
        .backward()
        .unwrap();
    check_gradient(&out, &f, grads.get(&out).unwrap());
}

#[test]
fn mse_loss_value_and_gradient() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (out, target, mxy, _) = loss_inputs(8, 3, &mut rng);
    let f = |o: &Tensor| {
        mse_loss(o, &target, &mxy)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let o = out.to_vec2::<f64>().unwrap();
    let t = target.to_vec2::<f64>().unwrap();
    let mx = mxy.to_vec1::<f64>().unwrap();
    let se: f64 = (0..8)
        .map(|r| {
            mx[r]
                * ((o[r][0] - t[r][0]).powi(2)
                    + (o[r][1] - t[r][1]).powi(2)
                    + (o[r][2] - t[r][3]).powi(2))
        })
        .sum();
    let expect = se / (3.0 * mx.iter().sum::<f64>());
    assert!((f(out.as_tensor()) - expect).abs() < 1e-12);
    let grads = mse_loss(&out, &target, &mxy).unwrap().backward().unwrap();
    check_gradient(&out, &f, grads.get(&out).unwrap());
    let _ = DType::F64;
}

#[test]
fn schedules_follow_sketch_rnn() {
    let c = TrainConfig::default();
    let o = &c.optimiser;
    assert!((o.lr_at(0) - 5e-3).abs() < 1e-12);
    assert!((o.lr_at(1) - ((5e-3 - 1e-5) * 0.9999 + 1e-5)).abs() < 1e-12);
    assert!((c.vae.weight_at(0) - 0.5 * 0.01).abs() < 1e-12);
    assert!((c.vae.weight_at(10_000_000) - 0.5).abs() < 1e-6);
}

#[test]
fn grid_pool_weighs_each_direction_by_its_own_points() {
    // the backward LSTM reads the drawing reversed: its summary must be its outputs, put back
    // in the drawing's order, weighed by the same per-point weights as the forward one's (the
    // batch pads the shorter drawings: their padding must not count, whichever LSTM runs them)
    for imp in [LstmImpl::Auto, LstmImpl::CandleNn, LstmImpl::GateCell] {
        let cfg = tiny(Head::Mdn, false, true);
        let model = SeqAe::new(&cfg, 3.0, 5, imp, &Device::Cpu).unwrap();
        let data = shapes(3, 4);
        let refs: Vec<&Stroke3> = data.iter().collect();
        let input = data::encoder_input(&refs, 3.0, &cfg, &Device::Cpu).unwrap();
        let (x, lengths, pool) = (input.x, input.lengths, input.pool.unwrap());
        let got = model
            .encoder()
            .forward(&x, &lengths, Some(&pool), false)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let h = cfg.enc_hidden;
        let k = cfg.encoder_pool.slots(cfg.encoder_grid);
        let per_direction = cfg.summaries() * h;
        assert_eq!(got[0].len(), 2 * per_direction);
        let (fwd, bwd) = model.encoder().lstms();
        for (r, d) in data.iter().enumerate() {
            // this drawing alone, so no padding is involved
            let one = data::encoder_input(&[d], 3.0, &cfg, &Device::Cpu).unwrap();
            let (x1, l1) = (one.x, one.lengths);
            let w = data::pool_weights(&[d], &cfg, &Device::Cpu)
                .unwrap()
                .unwrap()
                .to_vec3::<f32>()
                .unwrap();
            let out_f = fwd
                .forward(&x1, &l1, None, Output::All, false)
                .unwrap()
                .to_vec3::<f32>()
                .unwrap();
            let out_b = bwd
                .forward(
                    &reverse_within(&x1, &l1).unwrap(),
                    &l1,
                    None,
                    Output::All,
                    false,
                )
                .unwrap()
                .to_vec3::<f32>()
                .unwrap();
            let n = d.len();
            for slot in 0..k {
                for j in 0..h {
                    let f: f32 = (0..n).map(|s| w[s][0][slot] * out_f[s][0][j]).sum();
                    let b: f32 = (0..n).map(|s| w[s][0][slot] * out_b[n - 1 - s][0][j]).sum();
                    let (gf, gb) = (got[r][slot * h + j], got[r][per_direction + slot * h + j]);
                    assert!((f - gf).abs() < 1e-5, "forward slot {slot}: {f} vs {gf}");
                    assert!((b - gb).abs() < 1e-5, "backward slot {slot}: {b} vs {gb}");
                }
            }
        }
    }
}

#[test]
fn info_nce_rewards_matching_rows() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let v: Vec<f32> = (0..6 * 4).map(|_| rng.random_range(-1.0..1.0)).collect();
    let a = Tensor::from_vec(v, (6, 4), &Device::Cpu).unwrap();
    let matched = info_nce(&a, &(&a * 2.0).unwrap(), 0.05)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    // rows paired with the wrong partner: a cyclic shift
    let shifted = Tensor::cat(
        &[&a.narrow(0, 1, 5).unwrap(), &a.narrow(0, 0, 1).unwrap()],
        0,
    )
    .unwrap();
    let wrong = info_nce(&a, &shifted, 0.05)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    // cosine similarity: scaling a row changes nothing, so matched rows are near certain
    assert!(matched < 0.5, "matched {matched}");
    assert!(wrong > 3.0, "wrong {wrong}");
}

/// The unweighted contrastive term of `model` on `drawings` and their views drawn from `seed`.
fn contrastive_term(model: &SeqAe, drawings: &[&Stroke3], seed: u64) -> f32 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let views = ContrastiveViews {
        weight: 1.0,
        temperature: 0.2,
        stroke_drop: 0.2,
        drop_by_ink: false,
        stretch: 0.1,
        jitter: 0.01,
        stroke_scale: 0.0,
        resimplify: 0.0,
        zoom: 0.5,
        raster_dropout: 0.0,
    };
    let aug = data::Augment {
        amount: 0.0,
        contrastive: Some(&views),
        rng: &mut rng,
    };
    let b = data::make_batch(
        drawings,
        model.scale(),
        model.config(),
        Some(aug),
        &Device::Cpu,
    )
    .unwrap();
    model
        .loss(&b, None, 0.0, 0.0, Some(&views))
        .unwrap()
        .contrastive
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn contrastive_training_learns_to_pair_the_views() {
    let data = shapes(8, 6);
    let refs: Vec<&Stroke3> = data.iter().collect();
    let model_cfg = tiny(Head::Mdn, false, true);
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        contrastive: ContrastiveViews {
            weight: 1.0,
            temperature: 0.2,
            ..ContrastiveViews::default()
        },
        ..with_batch(quick(150), 8)
    };
    let s = run(&model_cfg, &cfg, &data, &[], dir.path(), false, None).unwrap();
    assert_eq!(s.steps, 150);
    let (trained, _) = crate::load(dir.path(), &Device::Cpu).unwrap();
    let fresh = SeqAe::new(&model_cfg, trained.scale(), 0, LstmImpl::Auto, &Device::Cpu).unwrap();
    // views drawn afresh, not the ones trained on
    let (before, after) = (
        contrastive_term(&fresh, &refs, 99),
        contrastive_term(&trained, &refs, 99),
    );
    // chance is ln 8 = 2.08: the two views of a drawing end up closest to each other
    assert!(after < 0.5 * before, "contrastive term {before} -> {after}");
}

#[test]
fn drawing_feeds_the_decoder_the_rows_it_was_trained_on() {
    // decode greedily, then teacher-force the decoder with what it drew: if generation builds
    // its inputs (offsets, pen, positions) as training does, every step picks the same point
    let data = shapes(6, 8);
    let dir = tempfile::tempdir().unwrap();
    let model_cfg = tiny(Head::Mdn, false, true);
    run(&model_cfg, &quick(20), &data, &[], dir.path(), false, None).unwrap();
    let (model, _) = crate::load(dir.path(), &Device::Cpu).unwrap();
    let refs: Vec<&Stroke3> = data.iter().collect();
    let z = model.encode(&refs, 8).unwrap();
    for zi in &z {
        let drawn = model.decode(zi, 12, DecodeMode::Greedy).unwrap().remove(0);
        let batch =
            data::make_batch(&[&drawn], model.scale(), &model_cfg, None, &Device::Cpu).unwrap();
        let zt = Tensor::from_vec(zi.clone(), (1, zi.len()), &Device::Cpu).unwrap();
        let out = model
            .decoder()
            .forward(&batch.dec_in, &zt, &batch.dec_lengths())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for (s, row) in out.iter().take(drawn.len()).enumerate() {
            let (dx, dy, state) = crate::model::sample_mdn(row, 3, None, &mut rng);
            let tol = 1e-3 * (1.0 + drawn.dx[s].abs());
            assert!(
                (dx * model.scale() - drawn.dx[s]).abs() < tol,
                "step {s} dx"
            );
            assert!((dy * model.scale() - drawn.dy[s]).abs() < 1e-3 * (1.0 + drawn.dy[s].abs()));
            // the last point is forced to lift the pen, whatever was chosen there
            if s + 1 < drawn.len() {
                assert_eq!(state as u8, drawn.pen[s], "step {s} pen");
            }
        }
    }
}

#[test]
fn part_vectors_encode_each_part_alone_in_the_box_asked() {
    let model = SeqAe::new(
        &tiny(Head::Mdn, false, true),
        20.0,
        3,
        LstmImpl::Auto,
        &Device::Cpu,
    )
    .unwrap();
    let max_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    };
    // a triangle outline, a mouth inside it, and a mark outside it but within its box
    let outline = Stroke::new(vec![0.0, 100.0, 50.0, 0.0], vec![0.0, 0.0, 100.0, 0.0]);
    let mouth = Stroke::new(vec![40.0, 50.0, 60.0], vec![30.0, 35.0, 30.0]);
    let mark = Stroke::new(vec![5.0, 10.0, 8.0], vec![90.0, 95.0, 99.0]);
    let face = Stroke3::from_strokes(&[outline.clone(), mouth.clone()]);
    let marked = Stroke3::from_strokes(&[outline.clone(), mark.clone(), mouth.clone()]);
    let bare = Stroke3::from_strokes(std::slice::from_ref(&outline));
    let inside: Vec<Option<Vec<f32>>> = model
        .encode_parts(&[&face, &marked, &bare], &[Part::Inside], 2, false)
        .unwrap()
        .into_iter()
        .map(|mut v| v.remove(0))
        .collect();
    let (a, b) = (inside[0].clone().unwrap(), inside[1].clone().unwrap());
    assert!(inside[2].is_none(), "nothing inside the bare outline");
    // what is outside the outline does not count
    let diff = max_diff(&a, &b);
    assert!(diff < 1e-5, "inside vectors differ by {diff}");
    // the mouth is placed in the whole face's box, not in its own
    let alone = |s: &Stroke| {
        model
            .encode(&[&Stroke3::from_strokes(std::slice::from_ref(s))], 1)
            .unwrap()
            .remove(0)
    };
    let moved = max_diff(&a, &alone(&mouth));
    assert!(
        moved > 1e-4,
        "the inside vector should know where the mouth is"
    );
    // and the whole drawings' vectors do see the mark
    let whole = model.encode(&[&face, &marked], 2).unwrap();
    assert_ne!(whole[0], whole[1]);
    // in their own box, the parts are encoded as if drawn alone, in the order asked
    let own = model
        .encode_parts(
            &[&marked, &bare],
            &[Part::Outside, Part::Inside, Part::Outline],
            2,
            true,
        )
        .unwrap();
    for (part, stroke) in [(0, &mark), (1, &mouth), (2, &outline)] {
        let diff = max_diff(own[0][part].as_ref().unwrap(), &alone(stroke));
        assert!(
            diff < 1e-5,
            "part {part} and its stroke alone differ by {diff}"
        );
    }
    // a lone outline has only its outline
    assert!(own[1][0].is_none() && own[1][1].is_none());
    let diff = max_diff(own[1][2].as_ref().unwrap(), &alone(&outline));
    assert!(diff < 1e-5, "the bare outline differs by {diff}");
}

#[test]
fn the_network_sees_drawings_as_its_config_says() {
    let d = &shapes(1, 4)[0];
    let cfg = |order: bool, loops: bool| ModelConfig {
        canonical_order: order,
        canonical_loop_start: loops,
        ..tiny(Head::Mdn, false, true)
    };
    assert_eq!(
        *cfg(false, true).prepare(d),
        *d,
        "loop start needs canonical_order"
    );
    assert_eq!(*cfg(true, false).prepare(d), d.canonical());
    assert_eq!(*cfg(true, true).prepare(d), d.canonical_with(true));
    assert_ne!(
        d.canonical(),
        d.canonical_with(true),
        "the ring starts elsewhere"
    );
}

#[test]
fn the_raster_branch_reads_the_picture_in_the_positions_box() {
    // (a picture large enough that lines leave most of it blank)
    let cfg = ModelConfig {
        encoder_raster: 24,
        ..tiny(Head::Mdn, false, true)
    };
    let side = cfg.encoder_raster;
    let data = shapes(2, 4);
    let refs: Vec<&Stroke3> = data.iter().collect();
    let input = data::encoder_input(&refs, 3.0, &cfg, &Device::Cpu).unwrap();
    let pictures = input.raster.unwrap().to_vec2::<f32>().unwrap();
    for (d, pixels) in data.iter().zip(&pictures) {
        // the drawing fills the picture's box, centred, whatever its size and place: every
        // point is inked, and most of the picture is not
        assert_eq!(pixels.len(), side * side);
        let (lo, hi) = d
            .to_strokes()
            .iter()
            .flat_map(|s| s.points().collect::<Vec<_>>())
            .fold(([f32::MAX; 2], [f32::MIN; 2]), |(lo, hi), (x, y)| {
                ([lo[0].min(x), lo[1].min(y)], [hi[0].max(x), hi[1].max(y)])
            });
        let extent = (hi[0] - lo[0]).max(hi[1] - lo[1]);
        let pixel = |v: f32, k: usize| {
            let u = (v - (lo[k] + hi[k]) / 2.0) / extent + 0.5;
            (1.0 + u * (side as f32 - 3.0)).round() as usize
        };
        for s in d.to_strokes() {
            for (x, y) in s.points() {
                let v = pixels[pixel(y, 1) * side + pixel(x, 0)];
                assert!(v >= 0.2, "a point of the drawing is not inked: {v}");
            }
        }
        let blank = pixels.iter().filter(|&&v| v == 0.0).count();
        assert!(blank > side * side / 3, "{blank} blank pixels");
        let moved = Stroke3 {
            dx: d
                .dx
                .iter()
                .enumerate()
                .map(|(i, v)| if i == 0 { v + 50.0 } else { v * 3.0 })
                .collect(),
            dy: d
                .dy
                .iter()
                .enumerate()
                .map(|(i, v)| if i == 0 { v - 20.0 } else { v * 3.0 })
                .collect(),
            pen: d.pen.clone(),
        };
        let again = data::encoder_input(&[&moved], 3.0, &cfg, &Device::Cpu).unwrap();
        let again = again.raster.unwrap().to_vec2::<f32>().unwrap();
        // (up to a few pixels where a line passes a pixel's edge)
        let differ = again[0]
            .iter()
            .zip(pixels)
            .filter(|(a, b)| (*a - *b).abs() > 0.3)
            .count();
        assert!(differ <= 3, "moved and scaled, {differ} pixels differ");
    }
    // the latent layer reads the branch's features after the LSTMs' summaries, and the
    // latent depends on the picture
    let m = SeqAe::new(&cfg, 3.0, 1, LstmImpl::Auto, &Device::Cpu).unwrap();
    let vars = m.varmap().data().lock().unwrap().clone();
    assert_eq!(
        vars["encoder.raster.weight"].dims(),
        &[cfg.encoder_raster_width, side * side]
    );
    let lstm_out = 2 * cfg.summaries() * cfg.enc_hidden;
    assert_eq!(
        vars["encoder.to_latent.weight"].dims(),
        &[cfg.latent, lstm_out + cfg.encoder_raster_width]
    );
    let z = m.encode(&refs, 8).unwrap();
    vars["encoder.raster.weight"]
        .set(&vars["encoder.raster.weight"].zeros_like().unwrap())
        .unwrap();
    let blind = m.encode(&refs, 8).unwrap();
    let moved = z[0]
        .iter()
        .zip(&blind[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(moved > 1e-4, "the picture moves the latent ({moved})");
    // a model without the branch and a bad side are told apart
    for (side, ok) in [(0, true), (3, false), (4, true), (64, true), (65, false)] {
        let c = ModelConfig {
            encoder_raster: side,
            ..cfg.clone()
        };
        assert_eq!(c.validate().is_ok(), ok, "side {side}");
    }
}
