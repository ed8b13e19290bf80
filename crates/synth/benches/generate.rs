//! Prints how fast faces are generated and written, and their point statistics
//! (`cargo bench -p synth`; `SYNTH_BENCH_COUNT` sets the number of faces, 100 000 by default).

use std::time::Instant;

fn main() {
    let count: u64 = std::env::var("SYNTH_BENCH_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut bytes = CountingSink(0);
    let t = Instant::now();
    synth::write_ndjson(&mut bytes, 1, count).expect("writing to a sink");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "synth write_ndjson: {count} faces in {secs:.2} s ({:.0} faces/s, {:.0} bytes/face)",
        count as f64 / secs,
        bytes.0 as f64 / count as f64
    );

    let n = count.min(20_000);
    let (mut pts, mut strokes): (Vec<usize>, Vec<usize>) = synth::generate(1, n)
        .map(|f| (f.n_points(), f.strokes.len()))
        .unzip();
    pts.sort_unstable();
    strokes.sort_unstable();
    let q = |v: &[usize], p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    println!(
        "synth points per face over {n}: median {} / 90% {} / 99% {} / max {}; strokes median {} / max {}",
        q(&pts, 0.5),
        q(&pts, 0.9),
        q(&pts, 0.99),
        pts[pts.len() - 1],
        q(&strokes, 0.5),
        strokes[strokes.len() - 1]
    );
}

struct CountingSink(usize);

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
