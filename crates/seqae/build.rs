//! With the `cuda` feature: compiles the LSTM gate cell's kernels (`cuda/lstm_cell.cu`) to PTX
//! with nvcc, and the same per-thread code for the CPU (`cuda/lstm_cell_host.c`), which the
//! tests run. nvcc is found as `$NVCC`, in `$CUDA_ROOT/bin` (or `CUDA_HOME`, `CUDA_PATH`), or
//! on `PATH`; `scripts/cuda-toolkit.sh` assembles one. `CUDA_COMPUTE_CAP` (e.g. 90) picks the
//! PTX's target, 75 (the oldest that CUDA 13 builds for) otherwise; a newer GPU compiles it on
//! load.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=cuda");
    for var in [
        "NVCC",
        "CUDA_ROOT",
        "CUDA_HOME",
        "CUDA_PATH",
        "CUDA_COMPUTE_CAP",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        cuda();
    }
}

#[cfg(feature = "cuda")]
fn cuda() {
    use std::path::PathBuf;
    use std::process::Command;

    let nvcc = std::env::var_os("NVCC")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            ["CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"]
                .iter()
                .filter_map(std::env::var_os)
                .map(|root| PathBuf::from(root).join("bin").join("nvcc"))
                .find(|p| p.exists())
                .unwrap_or_else(|| PathBuf::from("nvcc"))
        });
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "75".into());
    let cap: String = cap.chars().filter(char::is_ascii_digit).collect();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("lstm_cell.ptx");
    let status = Command::new(&nvcc)
        .args(["--ptx", "-O3", "-std=c++17"])
        .arg(format!("-arch=compute_{cap}"))
        .arg("cuda/lstm_cell.cu")
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "seqae: cannot run nvcc ({}): {e}; run scripts/cuda-toolkit.sh and set CUDA_ROOT",
                nvcc.display()
            )
        });
    assert!(status.success(), "seqae: nvcc failed on cuda/lstm_cell.cu");
    cc::Build::new()
        .file("cuda/lstm_cell_host.c")
        .opt_level(2)
        .compile("seqae_lstm_cell_host");
}

#[cfg(not(feature = "cuda"))]
fn cuda() {}
