//! The LSTM's step products on `gemm` and on `seqae::f32x8`, alternated in one process.
//!
//! `cargo run --release -p seqae --example products`
//!
//! Each shape is one step's product as the kernel runs it: a batch slice's rows (50 in
//! training at batch 100 on two cores, 500 in encoding at batch 1000) by the inner size, times
//! the weights. `gemm` is called as the kernel calls it (the product's transpose, weights
//! column-major, repacked by gemm at every call); `f32x8` packs the weights once, outside the
//! timing, as the kernel does once per sequence. One core; the best of 40 rounds of each.
//! Prints figures; asserts nothing about time.

use std::time::Instant;

use seqae::bf16::Strided;
use seqae::f32x8;

/// `gates` (`rows × n`) = `input` (`rows × k`) · `w_t` (`k × n`), as `kernel::add_product`
/// calls gemm: as its transpose.
fn gemm_product(
    gates: &mut [f32],
    w_t: &[f32],
    input: &[f32],
    (rows, k, n): (usize, usize, usize),
) {
    assert!(gates.len() >= rows * n && w_t.len() >= k * n && input.len() >= rows * k);
    // SAFETY: every index reachable from the sizes and strides lies inside the slices
    // (asserted above); gates aliases neither operand.
    unsafe {
        gemm::gemm(
            n,
            rows,
            k,
            gates.as_mut_ptr(),
            n as isize,
            1,
            false,
            w_t.as_ptr(),
            n as isize,
            1,
            input.as_ptr(),
            k as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
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
    println!("products: one LSTM step's product, gemm against f32x8{note}");
    for (what, (rows, k, n)) in [
        ("original model, forward", (50, 261, 1024)),
        ("original model, backward", (50, 1024, 256)),
        ("default decoder, forward", (50, 135, 512)),
        ("original model, encoding", (500, 261, 1024)),
    ] {
        let input: Vec<f32> = (0..rows * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 1e3 - 0.5)
            .collect();
        let w_t: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104_729) % 1000) as f32 / 1e3 - 0.5)
            .collect();
        let mut gates = vec![0.0f32; rows * n];
        let mut packed = f32x8::PackedB::default();
        packed.pack(Strided::rows(&w_t, k, n));
        // about 50 ms of products a round
        let reps = (2e9 / (2 * rows * k * n) as f64).ceil() as usize;
        let mut best = [f64::MAX; 2];
        for _ in 0..40 {
            let t0 = Instant::now();
            for _ in 0..reps {
                gemm_product(&mut gates, &w_t, &input, (rows, k, n));
            }
            best[0] = best[0].min(t0.elapsed().as_secs_f64());
            let t0 = Instant::now();
            for _ in 0..reps {
                f32x8::matmul(&mut gates, n, false, (&input, rows, k), &packed);
            }
            best[1] = best[1].min(t0.elapsed().as_secs_f64());
        }
        let gflops = |s: f64| (2 * rows * k * n * reps) as f64 / s / 1e9;
        println!(
            "  {what:<26} {rows:>4} × {k:>4} × {n:>4}: gemm {:5.1} GFLOP/s, f32x8 {:5.1} GFLOP/s: {:.2}x",
            gflops(best[0]),
            gflops(best[1]),
            best[0] / best[1]
        );
    }
}
