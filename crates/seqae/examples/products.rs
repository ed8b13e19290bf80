//! The LSTM's products on `gemm` and on `seqae::f32x8`, alternated in one process.
//!
//! `cargo run --release -p seqae --example products`
//!
//! Each shape is one step's product as the kernel runs it: a batch slice's rows (50 in
//! training at batch 100 on two cores, 500 in encoding at batch 1000) by the inner size, times
//! the weights. `gemm` is called as the kernel calls it (the product's transpose, weights
//! column-major, repacked by gemm at every call); `f32x8` packs the weights once, outside the
//! timing, as the kernel does once per sequence. Then the weights' gradient over all of a
//! slice's steps, `[x h]ᵀ · dg`: gemm as the kernel calls it where it does not use f32x8
//! (packing both operands itself); f32x8's product alone, its operands laid out beforehand
//! (the kernel transposes the inputs and states once per call, and packs the gate gradients
//! step by step while it writes them). One core; the best of 40 rounds of each. Prints
//! figures; asserts nothing about time.

use std::time::Instant;

use seqae::bf16::Strided;
use seqae::f32x8;

/// `dst (m×n) = lhs (m×k) · rhs (k×n)` on one core, strides given as (row, column), as the
/// kernel's `matmul` calls gemm.
fn gemm_product(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs, dst_cs): (&mut [f32], usize, usize),
    (lhs, lhs_rs, lhs_cs): (&[f32], usize, usize),
    (rhs, rhs_rs, rhs_cs): (&[f32], usize, usize),
) {
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(m > 0 && n > 0 && k > 0);
    assert!(last(m, n, dst_rs, dst_cs) < dst.len());
    assert!(last(m, k, lhs_rs, lhs_cs) < lhs.len() && last(k, n, rhs_rs, rhs_cs) < rhs.len());
    // SAFETY: every index reachable from the sizes and strides lies inside the slices
    // (asserted above); dst aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            false,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Values in -0.5..0.5, spread by `step`.
fn values(len: usize, step: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * step) % 1000) as f32 / 1e3 - 0.5)
        .collect()
}

/// Times `gemm` and `f32x8` alternated, the best of 40 rounds of about 50 ms each, and
/// prints their GFLOP/s for a product of `flop` operations.
fn compare(what: &str, shape: &str, flop: f64, mut gemm: impl FnMut(), mut f32x8: impl FnMut()) {
    let reps = (2e9 / flop).ceil() as usize;
    let mut best = [f64::MAX; 2];
    for _ in 0..40 {
        for (b, run) in best
            .iter_mut()
            .zip([&mut gemm as &mut dyn FnMut(), &mut f32x8])
        {
            let t0 = Instant::now();
            for _ in 0..reps {
                run();
            }
            *b = b.min(t0.elapsed().as_secs_f64());
        }
    }
    let gflops = |s: f64| flop * reps as f64 / s / 1e9;
    println!(
        "  {what:<34} {shape}: gemm {:5.1} GFLOP/s, f32x8 {:5.1} GFLOP/s: {:.2}x",
        gflops(best[0]),
        gflops(best[1]),
        best[0] / best[1]
    );
}

fn main() {
    if !f32x8::available() {
        println!("products: no AVX2 and FMA here, so no f32x8 products to compare");
        return;
    }
    let note = if f32x8::preferred() {
        ""
    } else {
        " (this CPU has AVX-512: the LSTM keeps to gemm here)"
    };
    println!("products: the LSTM's products, gemm against f32x8{note}");
    for (what, (rows, k, n)) in [
        ("original model, forward step", (50, 261, 1024)),
        ("original model, backward step", (50, 1024, 256)),
        ("default decoder, forward step", (50, 135, 512)),
        ("original model, encoding step", (500, 261, 1024)),
    ] {
        let input = values(rows * k, 7919);
        let w_t = values(k * n, 104_729);
        let mut gates = vec![0.0f32; rows * n];
        let mut packed = f32x8::PackedB::default();
        packed.pack(Strided::rows(&w_t, k, n));
        let mut gates2 = gates.clone();
        compare(
            what,
            &format!("{rows:>4} × {k:>4} × {n:>4}"),
            (2 * rows * k * n) as f64,
            // as `kernel::add_product` calls gemm: the transpose, gatesᵀ = w_tᵀ · inputᵀ
            || {
                gemm_product(
                    (n, rows, k),
                    (&mut gates, 1, n),
                    (&w_t, 1, n),
                    (&input, 1, k),
                )
            },
            || f32x8::matmul(&mut gates2, n, false, (&input, rows, k), &packed),
        );
    }
    // the weights' gradient over a batch slice's 100 steps of 50 rows
    for (what, (steps, n, g4)) in [
        ("original model, weights' gradient", (5000, 261, 1024)),
        ("default decoder, weights' gradient", (5000, 135, 512)),
    ] {
        let dg = values(steps * g4, 7919);
        let input = values(steps * n, 104_729);
        let mut dw = vec![0.0f32; g4 * n];
        let mut packed = f32x8::PackedB::default();
        packed.pack(Strided::rows(&dg, steps, g4));
        let input_t: Vec<f32> = (0..n * steps)
            .map(|e| input[(e % steps) * n + e / steps])
            .collect();
        let mut dw_t = dw.clone();
        compare(
            what,
            &format!("{n:>4} × {steps:>4} × {g4:>4}"),
            (2 * steps * n * g4) as f64,
            // as `kernel::weight_gradient` calls gemm: dw = dgᵀ · input
            || {
                gemm_product(
                    (g4, n, steps),
                    (&mut dw, n, 1),
                    (&dg, 1, g4),
                    (&input, n, 1),
                )
            },
            || f32x8::matmul(&mut dw_t, g4, false, (&input_t, n, steps), &packed),
        );
    }
}
