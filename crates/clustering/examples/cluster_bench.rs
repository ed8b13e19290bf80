//! Speed and accuracy of HDBSCAN paths and k-means (k 8) on 50-d Gaussian blobs with 5%
//! uniform noise.
//!
//! `cargo run --release -p clustering --example cluster_bench [-- --sizes 10000,50000,160000
//! --exact-max 50000 --overlap]` prints, per size, seconds and ARI (against the true blobs,
//! noise as its own group) for the crate's exact path (up to `--exact-max` points) and the
//! sample-and-assign path, plus the ARI between the two where both ran.

use std::time::Instant;

use clustering::blobs::{gaussian_blobs, BlobSpec};
use clustering::{adjusted_rand_index, cluster, ClusterParams, Method};

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // RUST_LOG=debug shows the time of each step.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = arg::<String>(&args, "--sizes")
        .unwrap_or_else(|| "10000,50000,160000".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let exact_max: usize = arg(&args, "--exact-max").unwrap_or(50_000);
    let sample_size: usize = arg(&args, "--sample-size").unwrap_or(20_000);
    let factor: f32 = arg(&args, "--assign-factor").unwrap_or(2.0);
    let overlap = args.iter().any(|a| a == "--overlap");
    println!(
        "50-d blobs, 8 centres, 5% noise, {} ; min_cluster_size 25; threads {}",
        if overlap {
            "overlapping (box ±4)"
        } else {
            "separated (box ±10)"
        },
        rayon::current_num_threads()
    );
    println!(
        "{:>8} {:>8} {:>9} {:>7} {:>9} {:>7}",
        "n", "path", "seconds", "ARI", "clusters", "noise"
    );
    for &n in &sizes {
        let spec = BlobSpec {
            n_points: n,
            box_half: if overlap { 4.0 } else { 10.0 },
            ..BlobSpec::default()
        };
        let (m, truth) = gaussian_blobs(&spec);
        let mut exact_labels = None;
        let mut runs = Vec::new();
        if n <= exact_max {
            runs.push(ClusterParams {
                exact_max_points: usize::MAX,
                ..ClusterParams::default()
            });
        }
        runs.push(ClusterParams {
            exact_max_points: 0,
            sample_size,
            assign_factor: factor,
            ..ClusterParams::default()
        });
        runs.push(ClusterParams {
            algorithm: clustering::Algorithm::Kmeans,
            k: 8,
            ..ClusterParams::default()
        });
        for p in runs {
            let t = Instant::now();
            let c = cluster(&m, &p)?;
            let secs = t.elapsed().as_secs_f64();
            let s = c.summary();
            let path = match c.method {
                Method::ExactHdbscan => "exact",
                Method::SampledHdbscan(_) => "sampled",
                Method::Dbscan => "dbscan",
                Method::Kmeans { .. } => "k-means",
            };
            println!(
                "{n:>8} {path:>8} {secs:>9.2} {:>7.4} {:>9} {:>7.3}",
                adjusted_rand_index(&c.labels, &truth)?,
                s.n_clusters,
                s.noise_share
            );
            match (&c.method, &exact_labels) {
                (Method::ExactHdbscan, _) => exact_labels = Some(c.labels),
                (Method::SampledHdbscan(_), Some(e)) => {
                    println!(
                        "{n:>8} sampled vs exact ARI {:.4}",
                        adjusted_rand_index(e, &c.labels)?
                    )
                }
                _ => {}
            }
        }
    }
    Ok(())
}
