//! Writes synthetic faces as simplified ndjson to stdout, the way `ingest synth` will:
//! `cargo run -p synth --example write_ndjson -- [COUNT] [SEED] > faces.ndjson`.

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let count = args.next().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(1);
    synth::write_ndjson(std::io::stdout().lock(), seed, count)
}
