//! Time of the two PCA eigensolvers ([`clustering::Eigensolver`]) on the shapes the pipeline
//! fits: 784-pixel raster-like rows (28 × 28, a few random strokes, about a tenth inked) to 128
//! components, the evaluation baseline; and 128-d dense embedding-like rows (a decaying
//! spectrum) to 2 and 32 components, the 2-D map and `pca_dims`.
//!
//! `cargo run --release -p clustering --example pca_bench [-- --rows 10000]` prints seconds per
//! fit (covariance included) and how far the subspace result is from the full one.

use std::time::Instant;

use clustering::{Eigensolver, Matrix, Pca};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 28 × 28 binary images of 3–6 random line segments.
fn rasters(n: usize, seed: u64) -> Matrix {
    const S: usize = 28;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v = vec![0.0f32; n * S * S];
    for img in v.chunks_exact_mut(S * S) {
        for _ in 0..rng.random_range(3..7) {
            let (x0, y0): (f32, f32) = (rng.random_range(0.0..27.0), rng.random_range(0.0..27.0));
            let (x1, y1): (f32, f32) = (rng.random_range(0.0..27.0), rng.random_range(0.0..27.0));
            let steps = ((x1 - x0).hypot(y1 - y0) * 2.0).ceil().max(1.0) as usize;
            for t in 0..=steps {
                let f = t as f32 / steps as f32;
                let (x, y) = (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f);
                img[y.round() as usize * S + x.round() as usize] = 1.0;
            }
        }
    }
    Matrix::new(v, S * S).unwrap()
}

/// Dense `d`-wide rows: random mixtures of Gaussians with variances falling as `1 / (j + 1)`.
fn embeddings(n: usize, d: usize, seed: u64) -> Matrix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mix: Vec<f32> = (0..d * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut v = Vec::with_capacity(n * d);
    let mut z = vec![0.0f32; d];
    for _ in 0..n {
        for (j, zj) in z.iter_mut().enumerate() {
            let g: f32 = rng.sample(rand_distr::StandardNormal);
            *zj = g / ((j + 1) as f32).sqrt();
        }
        v.extend((0..d).map(|i| {
            mix[i * d..(i + 1) * d]
                .iter()
                .zip(&z)
                .map(|(a, b)| a * b)
                .sum::<f32>()
        }));
    }
    Matrix::new(v, d).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let r = rasters(rows, 1);
    let ink = r.as_slice().iter().filter(|v| **v != 0.0).count() as f64 / r.as_slice().len() as f64;
    println!("rasters {rows} × 784, {:.1}% inked", 100.0 * ink);
    let e = embeddings(rows, 128, 2);
    for (name, m, k) in [
        ("rasters", &r, 128),
        ("embeddings", &e, 2),
        ("embeddings", &e, 32),
    ] {
        let mut fits = Vec::new();
        for solver in [Eigensolver::Subspace, Eigensolver::Jacobi] {
            let t = Instant::now();
            let p = Pca::fit_with(m, k, 0, solver).unwrap();
            let secs = t.elapsed().as_secs_f64();
            println!(
                "{name} {rows} × {} to {k}: {solver:?} {secs:.2} s, kept variance {:.6}{}",
                m.dim(),
                p.kept_variance(),
                if Eigensolver::for_shape(m.dim(), k) == solver {
                    " (Pca::fit's choice)"
                } else {
                    ""
                }
            );
            fits.push(p);
        }
        let worst = (0..k)
            .map(|i| {
                let cos: f64 = fits[0].components[i]
                    .iter()
                    .zip(&fits[1].components[i])
                    .map(|(a, b)| a * b)
                    .sum();
                let rel = (fits[0].explained_variance[i] - fits[1].explained_variance[i]).abs()
                    / fits[1].explained_variance[0];
                (1.0 - cos.abs(), rel)
            })
            .fold((0.0f64, 0.0f64), |a, b| (a.0.max(b.0), a.1.max(b.1)));
        println!("  subspace vs Jacobi: worst 1 − |cos| {:.2e}, worst variance gap {:.2e} of the largest", worst.0, worst.1);
    }
}
