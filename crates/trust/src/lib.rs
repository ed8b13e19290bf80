//! Support for the stages' failure tests (a dev-dependency of the stage crates, never of a
//! binary): [`bad_inputs`] makes the broken variants of a good Parquet table a stage must
//! refuse, [`refuses`] checks a refusal, and [`kill_at_random`] SIGKILLs a stage at random
//! moments and checks what it leaves behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, Float32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// A broken input and what it is, for the failure messages.
#[derive(Debug, Clone)]
pub struct BadInput {
    pub what: String,
    pub path: PathBuf,
}

struct Table {
    schema: Arc<Schema>,
    batches: Vec<RecordBatch>,
    kv: Vec<KeyValue>,
}

fn read(path: &Path) -> Table {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let b = ParquetRecordBatchReaderBuilder::try_new(file).expect("a good table");
    let kv = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter(|kv| kv.key != "ARROW:schema")
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let schema = b.schema().clone();
    let batches = b.build().unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    Table {
        schema,
        batches,
        kv,
    }
}

fn write(path: &Path, t: &Table) {
    let props = WriterProperties::builder()
        .set_key_value_metadata((!t.kv.is_empty()).then(|| t.kv.clone()))
        .build();
    let mut w =
        ArrowWriter::try_new(File::create(path).unwrap(), t.schema.clone(), Some(props)).unwrap();
    for b in &t.batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

/// Rebuilds `t` with column `name` replaced by `f(column)` (a new field type when it differs).
fn map_column(t: &Table, name: &str, f: &dyn Fn(&ArrayRef) -> ArrayRef) -> Table {
    let idx = t
        .schema
        .index_of(name)
        .unwrap_or_else(|_| panic!("no column {name}"));
    let batches: Vec<RecordBatch> = t
        .batches
        .iter()
        .map(|b| {
            let mut cols = b.columns().to_vec();
            cols[idx] = f(&cols[idx]);
            cols
        })
        .map(|cols| {
            let mut fields: Vec<Field> = t
                .schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            fields[idx] = Field::new(name, cols[idx].data_type().clone(), true);
            RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
        })
        .collect();
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| t.schema.clone());
    Table {
        schema,
        batches,
        kv: t.kv.clone(),
    }
}

/// The first float32 value of a float32 column, a list of float32 or a fixed-size list of
/// float32, set to `v`.
fn poison(col: &ArrayRef, v: f32) -> ArrayRef {
    let data = col.to_data();
    match col.data_type() {
        DataType::Float32 => {
            let a = col.as_any().downcast_ref::<Float32Array>().unwrap();
            let mut vals: Vec<Option<f32>> = a.iter().collect();
            vals[0] = Some(v);
            Arc::new(Float32Array::from(vals))
        }
        DataType::List(_) | DataType::FixedSizeList(_, _) => {
            let child = arrow::array::make_array(data.child_data()[0].clone());
            let child = poison(&child, v);
            let new = data
                .into_builder()
                .child_data(vec![child.to_data()])
                .build()
                .unwrap();
            arrow::array::make_array(new)
        }
        other => panic!("cannot put {v} into a column of {other}"),
    }
}

/// Broken variants of the good table `good`, written into `dir`: a table of another kind
/// (`other`, a good table another stage wrote), a truncated copy, a file that is not Parquet,
/// an empty file, the table with no rows, without `column`, with `column` as strings, and,
/// for each of `float_columns`, with a NaN and with an infinity in it.
pub fn bad_inputs(
    good: &Path,
    other: &Path,
    column: &str,
    float_columns: &[&str],
    dir: &Path,
) -> Vec<BadInput> {
    std::fs::create_dir_all(dir).unwrap();
    let stem = good.file_stem().unwrap().to_string_lossy().into_owned();
    let mut out = Vec::new();
    let mut add = |what: String, name: &str, write: &dyn Fn(&Path)| {
        let path = dir.join(format!("{stem}.{name}.parquet"));
        write(&path);
        out.push(BadInput { what, path });
    };
    add(
        format!("a table of another kind ({})", other.display()),
        "other_kind",
        &|p| {
            std::fs::copy(other, p).unwrap();
        },
    );
    let bytes = std::fs::read(good).unwrap();
    add("a truncated file".into(), "truncated", &|p| {
        std::fs::write(p, &bytes[..bytes.len() * 2 / 3]).unwrap()
    });
    add("a file that is not Parquet".into(), "not_parquet", &|p| {
        std::fs::write(p, "key_id,dx,dy\n1,2,3\n").unwrap()
    });
    add("an empty file".into(), "zero_bytes", &|p| {
        std::fs::write(p, b"").unwrap()
    });
    let t = read(good);
    add("a table with no rows".into(), "no_rows", &|p| {
        write(
            p,
            &Table {
                schema: t.schema.clone(),
                batches: vec![],
                kv: t.kv.clone(),
            },
        )
    });
    add(format!("no `{column}` column"), "missing_column", &|p| {
        let idx = t.schema.index_of(column).unwrap();
        let keep: Vec<usize> = (0..t.schema.fields().len()).filter(|&i| i != idx).collect();
        let batches = t
            .batches
            .iter()
            .map(|b| b.project(&keep).unwrap())
            .collect();
        write(
            p,
            &Table {
                schema: Arc::new(t.schema.project(&keep).unwrap()),
                batches,
                kv: t.kv.clone(),
            },
        )
    });
    add(format!("`{column}` of strings"), "wrong_type", &|p| {
        let strings = |c: &ArrayRef| -> ArrayRef {
            Arc::new(StringArray::from(vec!["x"; c.len()])) as ArrayRef
        };
        write(p, &map_column(&t, column, &strings))
    });
    for c in float_columns {
        for (v, name) in [(f32::NAN, "nan"), (f32::INFINITY, "inf")] {
            add(format!("{name} in `{c}`"), &format!("{name}_{c}"), &|p| {
                write(p, &map_column(&t, c, &|col| poison(col, v)))
            });
        }
    }
    out
}

/// Checks that `out` is a refusal: a non-zero exit, a message naming `file` (no panic), and
/// none of `outputs` written.
pub fn refuses(out: &Output, what: &str, file: &Path, outputs: &[&Path]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: accepted\n{err}");
    assert_eq!(out.status.code(), Some(1), "{what}: exit code\n{err}");
    assert!(!err.contains("panicked"), "{what}: a panic\n{err}");
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(
        err.contains(name.as_ref()),
        "{what}: the message does not name {}:\n{err}",
        file.display()
    );
    for o in outputs {
        assert!(!o.exists(), "{what}: {} was written", o.display());
    }
}

/// What [`kill_at_random`] saw.
#[derive(Debug, Default)]
pub struct KillReport {
    /// kills before the stage had finished
    pub killed: usize,
    /// runs that finished before their kill came
    pub finished: usize,
    /// outputs found complete after a kill where one was there before it
    pub kept_previous: usize,
    /// outputs found absent after a kill (none was there before it)
    pub none: usize,
}

/// A small deterministic generator for the kill moments.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// SIGKILLs the command `make()` builds `kills` times, each at a random moment of its run
/// (from its start to a little past the time a whole run takes, so that the moments cover
/// reading, computing and writing), and checks after every kill that each of `outputs` is
/// either absent or `same` as the complete output of an uninterrupted run (half the kills
/// start from no outputs, half from the previous complete ones); then that a rerun succeeds
/// and gives that result again. `same(a, b)` compares a complete output with the reference.
pub fn kill_at_random(
    make: &dyn Fn() -> Command,
    outputs: &[PathBuf],
    kills: usize,
    seed: u64,
    same: &dyn Fn(&Path, &Path) -> bool,
) -> KillReport {
    let refdir = outputs[0]
        .parent()
        .unwrap()
        .join(format!(".kill-reference-{seed}"));
    std::fs::create_dir_all(&refdir).unwrap();
    let run_whole = || {
        let t = Instant::now();
        let out = make().output().unwrap();
        assert!(
            out.status.success(),
            "an uninterrupted run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed()
    };
    for o in outputs {
        remove(o);
    }
    let whole = run_whole();
    let reference: Vec<PathBuf> = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let r = refdir.join(format!("{i}"));
            copy_tree(o, &r);
            r
        })
        .collect();
    let mut rng = Rng::new(seed);
    let mut report = KillReport::default();
    for k in 0..kills {
        let fresh = k % 2 == 0;
        if fresh {
            for o in outputs {
                remove(o);
            }
        }
        let before: Vec<bool> = outputs.iter().map(|o| o.exists()).collect();
        let delay = whole.mul_f64(1.2 * rng.next_f64());
        let mut child = make()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        match child.try_wait().unwrap() {
            Some(_) => report.finished += 1,
            None => {
                child.kill().unwrap(); // SIGKILL on unix
                child.wait().unwrap();
                report.killed += 1;
            }
        }
        for ((o, r), had) in outputs.iter().zip(&reference).zip(before) {
            if o.exists() {
                assert!(
                    same(o, r),
                    "kill {k} at {delay:?}: {} is neither the previous complete output nor absent",
                    o.display()
                );
                if had {
                    report.kept_previous += 1;
                }
            } else {
                assert!(
                    !had,
                    "kill {k} at {delay:?}: the previous {} was lost",
                    o.display()
                );
                report.none += 1;
            }
        }
    }
    run_whole();
    for (o, r) in outputs.iter().zip(&reference) {
        assert!(
            same(o, r),
            "the rerun after the kills gave another {}",
            o.display()
        );
    }
    let _ = std::fs::remove_dir_all(&refdir);
    report
}

/// Byte-for-byte equality of two files, or of two folders' visible files (names starting with
/// a dot, lock and temporary files, are left out).
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    if a.is_dir() {
        let names = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            v.sort();
            v
        };
        let (na, nb) = (names(a), names(b));
        na == nb && na.iter().all(|n| same_bytes(&a.join(n), &b.join(n)))
    } else {
        b.is_file() && std::fs::read(a).ok() == std::fs::read(b).ok()
    }
}

/// For a folder of many outputs written one by one (plot's): every visible file in `a` is in
/// `reference` with the same bytes (a killed run may have written some of them, each whole).
pub fn files_so_far(a: &Path, reference: &Path) -> bool {
    std::fs::read_dir(a).unwrap().all(|e| {
        let e = e.unwrap();
        let name = e.file_name();
        name.to_string_lossy().starts_with('.')
            || e.path().is_dir()
            || same_bytes(&e.path(), &reference.join(&name))
    })
}

/// [`same_bytes`], except that JSON files are compared as values with the keys that hold
/// times (`seconds`, `elapsed_s`, `total`, ... under a `seconds` object) left out.
pub fn same_but_timings(a: &Path, b: &Path) -> bool {
    if a.extension().is_some_and(|e| e == "json") {
        let load = |p: &Path| -> Option<serde_json::Value> {
            let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
            strip_timings(&mut v);
            Some(v)
        };
        match (load(a), load(b)) {
            (Some(x), Some(y)) => json_close(&x, &y),
            _ => false,
        }
    } else {
        same_bytes(a, b)
    }
}

/// Equal JSON values, numbers within 1e-9 relative (sums over threads may differ in the last
/// digit).
fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        _ => a == b,
    }
}

fn strip_timings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|k, _| !(k.contains("seconds") || k.ends_with("_s") || k == "elapsed"));
            m.values_mut().for_each(strip_timings);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_timings),
        _ => {}
    }
}

fn remove(p: &Path) {
    if p.is_dir() {
        std::fs::remove_dir_all(p).unwrap();
    } else if p.exists() {
        std::fs::remove_file(p).unwrap();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    remove(to);
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

/// Waits up to `limit` for `path` to exist (a stage's lock file, for the tests of a second
/// writer).
pub fn wait_for(path: &Path, limit: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

pub mod fixture;

/// The project's Python with pyarrow and DuckDB (`scripts/python-env.sh` sets it up on first
/// use), or `None` when it cannot be had (no python3, no network): the caller then skips its
/// check, unless `REQUIRE_PYTHON` is set (as in CI), where this panics instead.
pub fn project_python() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/python-env.sh");
    let out = Command::new(&script)
        .output()
        .expect("runs the python-env script");
    let py = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if py.is_empty() {
        if std::env::var_os("REQUIRE_PYTHON").is_some() {
            panic!("REQUIRE_PYTHON is set but no Python with pyarrow and duckdb could be set up");
        }
        eprintln!("SKIPPED: no Python with pyarrow and duckdb (no python3 or no network)");
        return None;
    }
    Some(PathBuf::from(py))
}
