//! Writes an embeddings.parquet of labelled 50-d Gaussian blobs (5% uniform noise, labels in
//! `label_blob`) to time the `cluster` stage at scale:
//! `cargo run -p cluster --example blob_embeddings -- OUT.parquet 160000`.

use clustering::blobs::{gaussian_blobs, BlobSpec};
use tables::embeddings::EmbeddingTable;
use tables::{LabelColumn, Split};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(out) = args.get(1) else {
        anyhow::bail!("usage: blob_embeddings OUT.parquet [N_POINTS]");
    };
    let n: usize = args.get(2).map_or(Ok(160_000), |s| s.parse())?;
    let (m, truth) = gaussian_blobs(&BlobSpec {
        n_points: n,
        ..BlobSpec::default()
    });
    let table = EmbeddingTable {
        key_ids: (0..n).map(|i| format!("blob{i}")).collect(),
        splits: vec![Split::Train; n],
        dim: m.dim(),
        values: m.into_vec(),
        labels: vec![LabelColumn {
            name: "label_blob".into(),
            values: truth.iter().map(|t| Some(t.to_string())).collect(),
        }],
        parts: Vec::new(),
        metadata: vec![],
    };
    tables::embeddings::write(std::path::Path::new(out), &table)?;
    println!("wrote {n} blob embeddings to {out}");
    Ok(())
}
