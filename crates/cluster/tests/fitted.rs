//! `cluster` writes its fitted model, and `cluster --model` places new drawings with it.

use std::path::Path;
use std::process::Command;

use clustering::blobs::{gaussian_blobs, BlobSpec};
use tables::embeddings::EmbeddingTable;
use tables::{LabelColumn, Split};

/// Blobs `rows` of one data set, as an embeddings table made by model `model_id`.
fn write_table(path: &Path, rows: std::ops::Range<usize>, model_id: Option<&str>) {
    let (m, truth) = gaussian_blobs(&BlobSpec {
        n_points: 1000,
        dim: 12,
        n_blobs: 4,
        noise_share: 0.0,
        seed: 5,
        ..BlobSpec::default()
    });
    let n = rows.len();
    let table = EmbeddingTable {
        key_ids: rows.clone().map(|i| format!("k{i}")).collect(),
        splits: vec![Split::Train; n],
        dim: 12,
        values: rows.clone().flat_map(|i| m.row(i).to_vec()).collect(),
        labels: vec![LabelColumn {
            name: "label_blob".into(),
            values: rows.map(|i| Some(format!("b{}", truth[i]))).collect(),
        }],
        parts: Vec::new(),
        metadata: model_id
            .map(|id| vec![("embed.model_id".to_string(), id.to_string())])
            .unwrap_or_default(),
    };
    tables::embeddings::write(path, &table).unwrap();
}

fn cluster_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cluster"))
}

fn ok(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_fitted_model_places_held_out_drawings_and_refuses_another_models() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_table(&d.join("fit.parquet"), 0..800, Some("xxh64:aaaa"));
    write_table(&d.join("new.parquet"), 800..1000, Some("xxh64:aaaa"));
    write_table(&d.join("other.parquet"), 800..1000, Some("xxh64:bbbb"));
    write_table(&d.join("unknown.parquet"), 800..1000, None);
    let stdout = ok(&cluster_bin()
        .args([
            "--vectors",
            "embedding",
            "--algorithm",
            "kmeans",
            "--k",
            "4",
            "--standardise",
            "true",
        ])
        .args(["--pca-dims", "6", "-o"])
        .arg(d.join("fit/clusters.parquet"))
        .arg(d.join("fit.parquet"))
        .output()
        .unwrap());
    let fitted = d.join("fit/cluster_model.json");
    assert!(stdout.contains("cluster_model.json"), "{stdout}");
    assert!(d.join("fit/cluster_model.safetensors").is_file());
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(&fitted).unwrap()).unwrap();
    assert_eq!(info["embedding_model"], "xxh64:aaaa");
    assert_eq!(info["rule"], "centroids");
    assert_eq!(info["pca_dims"], 6);

    // the fitted drawings themselves: placed exactly where the fit put them
    let again = d.join("again.parquet");
    ok(&cluster_bin()
        .arg("--model")
        .arg(&fitted)
        .arg("-o")
        .arg(&again)
        .arg(d.join("fit.parquet"))
        .output()
        .unwrap());
    let fit = tables::clusters::read(&d.join("fit/clusters.parquet")).unwrap();
    let placed = tables::clusters::read(&again).unwrap();
    let a: Vec<i32> = fit.iter().map(|r| r.cluster).collect();
    let b: Vec<i32> = placed.iter().map(|r| r.cluster).collect();
    assert_eq!(a, b);

    // held-out drawings of the same blobs: the blob decides the cluster
    let out = d.join("placed.parquet");
    let stdout = ok(&cluster_bin()
        .arg("--model")
        .arg(&fitted)
        .arg("-o")
        .arg(&out)
        .arg(d.join("new.parquet"))
        .output()
        .unwrap());
    assert!(
        stdout.contains("placed 200 drawings") && stdout.contains("label_blob ARI 1.000"),
        "{stdout}"
    );

    // another model's vectors, or vectors that do not say which model: refused, nothing written
    for bad in ["other.parquet", "unknown.parquet"] {
        let out = d.join(format!("refused-{bad}"));
        let run = cluster_bin()
            .arg("--model")
            .arg(&fitted)
            .arg("-o")
            .arg(&out)
            .arg(d.join("new.parquet"))
            .arg(d.join(bad))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success());
        assert!(
            err.contains("embedding model") || err.contains("embed.model_id"),
            "{err}"
        );
        assert!(err.contains(bad), "{err}");
        assert!(!out.exists());
    }
}

/// `cluster --model --shard I/N` places the drawings of shard I alone: the shards are disjoint,
/// together the whole placement, and the same whatever the order of the input files; a folder
/// and a glob of embeddings tables read as one table.
#[test]
fn shards_of_the_placement_make_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_table(&d.join("fit.parquet"), 0..600, Some("xxh64:aaaa"));
    write_table(&d.join("new/s=0/a.parquet"), 600..800, Some("xxh64:aaaa"));
    write_table(&d.join("new/s=1/b.parquet"), 800..1000, Some("xxh64:aaaa"));
    ok(&cluster_bin()
        .args([
            "--vectors",
            "embedding",
            "--algorithm",
            "kmeans",
            "--k",
            "4",
        ])
        .arg("-o")
        .arg(d.join("fit/clusters.parquet"))
        .arg(d.join("fit.parquet"))
        .output()
        .unwrap());
    let fitted = d.join("fit/cluster_model.json");
    let place = |args: &[&str], inputs: &[std::path::PathBuf], out: &Path| {
        let stdout = ok(&cluster_bin()
            .arg("--model")
            .arg(&fitted)
            .args(args)
            .arg("-o")
            .arg(out)
            .args(inputs)
            .output()
            .unwrap());
        let rows = tables::clusters::read(out).unwrap();
        let placed: std::collections::BTreeMap<String, i32> =
            rows.iter().map(|r| (r.key_id.clone(), r.cluster)).collect();
        assert_eq!(placed.len(), rows.len());
        (stdout, placed)
    };
    let (_, whole) = place(&[], &[d.join("new")], &d.join("whole.parquet"));
    assert_eq!(whole.len(), 400);
    let glob = place(&[], &[d.join("new/*/*.parquet")], &d.join("glob.parquet")).1;
    assert_eq!(glob, whole);
    let mut union = std::collections::BTreeMap::new();
    for i in 0..3 {
        let shard = format!("{i}/3");
        let (line, one) = place(&["--shard", &shard], &[d.join("new")], &d.join("s.parquet"));
        assert!(
            line.contains(&format!("(shard {shard}: {} of the 400 read)", one.len())),
            "{line}"
        );
        let swapped = place(
            &["--shard", &shard],
            &[d.join("new/s=1/b.parquet"), d.join("new/s=0/a.parquet")],
            &d.join("swapped.parquet"),
        )
        .1;
        assert_eq!(swapped, one, "shard {shard}, the files in the other order");
        let s: tables::dataset::Shard = shard.parse().unwrap();
        for (k, c) in one {
            assert!(s.contains(&k));
            assert!(union.insert(k, c).is_none(), "shards are disjoint");
        }
    }
    assert_eq!(union, whole);
    // a folder holding another model's embeddings, or another table, is refused naming the
    // file, by the fit and by the placement, and writes nothing
    write_table(&d.join("new/s=2/c.parquet"), 0..10, Some("xxh64:bbbb"));
    let fit = |input: &Path| {
        cluster_bin()
            .args([
                "--vectors",
                "embedding",
                "--algorithm",
                "kmeans",
                "--k",
                "2",
            ])
            .arg("-o")
            .arg(d.join("mixed/clusters.parquet"))
            .arg(input)
            .output()
            .unwrap()
    };
    let placed = cluster_bin()
        .arg("--model")
        .arg(&fitted)
        .arg("-o")
        .arg(d.join("mixed/clusters.parquet"))
        .arg(d.join("new"))
        .output()
        .unwrap();
    for r in [fit(&d.join("new")), placed] {
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{e}");
        assert!(
            e.contains("s=2/c.parquet: its footer's embed.model_id is `xxh64:bbbb`"),
            "{e}"
        );
    }
    std::fs::remove_file(d.join("new/s=2/c.parquet")).unwrap();
    tables::clusters::write(&d.join("new/s=2/c.parquet"), &[], &vec![]).unwrap();
    let e = fit(&d.join("new"));
    let e = String::from_utf8_lossy(&e.stderr);
    assert!(
        e.contains("s=2/c.parquet: a `clusters` table, not the `embeddings` table"),
        "{e}"
    );
    assert!(!d.join("mixed/clusters.parquet").exists());
    // --shard without --model is refused by the flags; a bad shard by its form
    for (args, says) in [
        (vec!["--shard", "0/2"], "--model"),
        (vec!["--model", "x.json", "--shard", "2/2"], "shard `2/2`"),
    ] {
        let r = cluster_bin()
            .args(&args)
            .arg("-o")
            .arg(d.join("bad.parquet"))
            .arg(d.join("new"))
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success() && e.contains(says), "{args:?}: {e}");
        assert!(!d.join("bad.parquet").exists());
    }
}

/// `fit_max_drawings`: the fit reads a uniform sample, the same whatever the files' split and
/// order; every drawing gets its cluster (the others placed with the fitted model) unless
/// `--fit-only`, and the fitted model places every drawing as the fit placed the sample's.
#[test]
fn a_fit_on_a_sample_takes_the_same_sample_from_any_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_table(&d.join("one.parquet"), 0..1000, Some("xxh64:aaaa"));
    write_table(&d.join("two/b.parquet"), 0..450, Some("xxh64:aaaa"));
    write_table(&d.join("two/a.parquet"), 450..1000, Some("xxh64:aaaa"));
    let fit = |input: &Path, out: &str, more: &[&str]| {
        let stdout = ok(&cluster_bin()
            .args([
                "--vectors",
                "embedding",
                "--algorithm",
                "kmeans",
                "--k",
                "4",
            ])
            .args(["--fit-max-drawings", "300"])
            .args(more)
            .arg("-o")
            .arg(d.join(out).join("clusters.parquet"))
            .arg(input)
            .output()
            .unwrap());
        let rows = tables::clusters::read(&d.join(out).join("clusters.parquet")).unwrap();
        (stdout, rows)
    };
    let labels =
        |rows: &[tables::clusters::ClusterRow]| -> std::collections::BTreeMap<String, i32> {
            rows.iter().map(|r| (r.key_id.clone(), r.cluster)).collect()
        };
    let (line, one) = fit(&d.join("one.parquet"), "fit1", &["--fit-only"]);
    assert!(
        line.contains("300 points (a uniform sample of the 1000 read: place the others"),
        "{line}"
    );
    let one = labels(&one);
    let (_, two) = fit(&d.join("two"), "fit2", &["--fit-only"]);
    assert_eq!(one.len(), 300);
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        labels(&two).keys().collect::<Vec<_>>(),
        "the same sample from one file and from two in another order"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("fit1/cluster_summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["n_read"], 1000);
    assert_eq!(summary["n_points"], 300);
    // without --fit-only, every drawing: the sample as fitted (on the map), the others placed
    let (line, every) = fit(&d.join("one.parquet"), "fit3", &[]);
    assert!(
        line.contains("the others placed with the fitted model"),
        "{line}"
    );
    assert_eq!(every.len(), 1000);
    let mapped: Vec<_> = every.iter().filter(|r| r.xy.is_some()).collect();
    assert_eq!(mapped.len(), 300);
    assert!(mapped
        .iter()
        .all(|r| one.get(&r.key_id) == Some(&r.cluster)));
    // the fitted model places all 1,000, the sample where the fit put it, the others as the fit
    // placed them
    ok(&cluster_bin()
        .arg("--model")
        .arg(d.join("fit1/cluster_model.json"))
        .arg("-o")
        .arg(d.join("all.parquet"))
        .arg(d.join("one.parquet"))
        .output()
        .unwrap());
    let all = tables::clusters::read(&d.join("all.parquet")).unwrap();
    assert_eq!(all.len(), 1000);
    let same = all
        .iter()
        .filter(|r| one.get(&r.key_id).is_some_and(|&c| c == r.cluster))
        .count();
    assert!(same >= 297, "{same} of the 300 sampled placed as fitted");
    let every = labels(&every);
    let agree = all.iter().filter(|r| every[&r.key_id] == r.cluster).count();
    assert!(
        agree >= 990,
        "{agree} of 1000 placed alike by the fit and by --model"
    );
}
