//! `plot` finds a generated table (`generate`'s output) and draws its figures: the clusters'
//! members beside the drawings generated like them, variations of one drawing, and a generated
//! drawing drawn stroke by stroke in the report.

use drawing::{Stroke, Stroke3};
use plot::{find_inputs, plot, Kind, PlotConfig};
use tables::clusters::ClusterRow;
use tables::drawings::{DrawingRow, DrawingWriter};
use tables::generated::{GeneratedRow, Provenance};
use tables::Split;

fn face(i: usize) -> Stroke3 {
    let o = (i % 5) as f32 * 3.0;
    Stroke3::from_strokes(&[
        Stroke::new(
            vec![0.0, 100.0, 100.0, 0.0, 0.0],
            vec![0.0, 0.0, 100.0, 100.0, 0.0],
        ),
        Stroke::new(vec![30.0 + o, 70.0], vec![70.0, 70.0 + o]),
    ])
}

fn drawing_row(key: String, d: Stroke3) -> DrawingRow {
    DrawingRow {
        key_id: key,
        word: Some("face".into()),
        countrycode: None,
        recognized: None,
        timestamp: None,
        split: Split::Test,
        source: "test".into(),
        drawing: d,
        t: None,
        labels: vec![],
    }
}

#[test]
fn a_generated_table_gets_its_figure_and_an_animation_in_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let mut w = DrawingWriter::create(&work.join("drawings.parquet"), &[], &vec![]).unwrap();
    for i in 0..30 {
        w.push(drawing_row(format!("k{i}"), face(i))).unwrap();
    }
    w.finish().unwrap();
    let rows: Vec<ClusterRow> = (0..30)
        .map(|i| ClusterRow {
            key_id: format!("k{i}"),
            cluster: i % 3,
            strength: Some(1.0 - i as f32 / 30.0),
            outlier_score: Some(0.0),
            xy: Some((i as f32, (i % 3) as f32)),
        })
        .collect();
    tables::clusters::write(&work.join("clusters.parquet"), &rows, &vec![]).unwrap();
    let generated: Vec<GeneratedRow> = (0..9)
        .map(|i| GeneratedRow {
            row: drawing_row(format!("gen-{i}"), face(i + 1)),
            provenance: if i < 6 {
                Provenance {
                    mode: "like-cluster".into(),
                    cluster: Some((i % 2) as i32),
                    sources: vec![format!("k{}", i % 2)],
                    temperature: 0.1,
                }
            } else {
                Provenance {
                    mode: "like".into(),
                    cluster: None,
                    sources: vec!["k7".into()],
                    temperature: 0.1,
                }
            },
        })
        .collect();
    tables::generated::write(&work.join("generated.parquet"), &[], &generated, &vec![]).unwrap();

    let out = work.join("plots");
    let inputs = find_inputs(std::slice::from_ref(&work), &out).unwrap();
    assert_eq!(
        inputs.get(Kind::Generated),
        Some(work.join("generated.parquet").as_path())
    );
    // the generated table is not taken for the data set's drawings
    assert_eq!(
        inputs.get(Kind::Drawings),
        Some(work.join("drawings.parquet").as_path())
    );
    let s = plot(&inputs, &out, &PlotConfig::default(), &|_| {}).unwrap();
    let gen = s
        .figures
        .iter()
        .find(|(n, _)| n == "generated")
        .expect("the generated figure is drawn");
    assert!(gen.1[0].png.is_file() && gen.1[0].svg.is_file());
    // three rows: clusters 0 and 1, and the variations of k7, with the members beside them
    let svg = std::fs::read_to_string(&gen.1[0].svg).unwrap();
    for t in ["cluster 0:", "cluster 1:", "drawing k7"] {
        assert!(svg.contains(t), "{t} missing from the figure");
    }
    let html = std::fs::read_to_string(&s.report).unwrap();
    assert!(html.contains("src=\"generated.png\""));
    assert!(html.contains("src=\"generated_animation.svg\""));
    let anim = std::fs::read_to_string(out.join("generated_animation.svg")).unwrap();
    assert_eq!(anim.matches("<animate ").count(), 2, "one per stroke");

    // a generated table given by a name of its own is told by its footer
    let renamed = tmp.path().join("faces_like_3.parquet");
    std::fs::copy(work.join("generated.parquet"), &renamed).unwrap();
    let inputs = find_inputs(std::slice::from_ref(&renamed), &out).unwrap();
    assert_eq!(inputs.get(Kind::Generated), Some(renamed.as_path()));
}
