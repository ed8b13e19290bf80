//! The figures of a generated table (`generate`'s output): for each cluster asked for, its
//! members beside the drawings generated like it; variations of one drawing beside it; and a
//! generated drawing drawn stroke by stroke (an animated SVG in the report).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use figures::{FigureLink, GeneratedFigure, GeneratedGroup, GeneratedOptions, Labelled, Style};
use tables::clusters::ClusterRow;
use tables::drawings::DrawingTable;

/// The figures drawn, as report links, with the files each wrote.
pub struct Drawn {
    pub links: Vec<FigureLink>,
    pub figures: Vec<(String, Vec<figures::Written>)>,
}

/// Where a group of generated drawings came from, in the order the rows are shown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Cluster(i32),
    Like(String),
    Prior,
}

/// Draws the figures of the generated table at `path`; the real drawings come from `drawings`
/// and the clusters' members from `clusters`, when given.
pub fn draw(
    path: &Path,
    drawings: Option<&DrawingTable>,
    clusters: Option<&[ClusterRow]>,
    out: &Path,
    style: &Style,
    per_side: usize,
) -> Result<Drawn> {
    let (table, prov) = tables::generated::read(path)?;
    let by_key: HashMap<&str, usize> = drawings.map(DrawingTable::index_by_key).unwrap_or_default();
    let real = |key: &str| -> Option<Labelled> {
        let t = drawings?;
        by_key
            .get(key)
            .map(|&i| Labelled::new(key, t.rows[i].drawing.clone()))
    };
    let mut groups: BTreeMap<Key, GeneratedGroup> = BTreeMap::new();
    for (row, p) in table.rows.iter().zip(&prov) {
        let key = match (p.mode.as_str(), p.cluster, p.sources.first()) {
            ("like-cluster", Some(k), _) => Key::Cluster(k),
            ("like", _, Some(s)) => Key::Like(s.clone()),
            _ => Key::Prior,
        };
        let g = groups.entry(key.clone()).or_insert_with(|| match &key {
            Key::Cluster(k) => {
                // the cluster's strongest members, as the gallery shows them
                let mut members: Vec<&ClusterRow> = clusters
                    .unwrap_or_default()
                    .iter()
                    .filter(|r| r.cluster == *k)
                    .collect();
                members.sort_by(|a, b| {
                    b.strength
                        .unwrap_or(0.0)
                        .total_cmp(&a.strength.unwrap_or(0.0))
                        .then(a.key_id.cmp(&b.key_id))
                });
                GeneratedGroup {
                    title: format!(
                        "cluster {k}: its strongest members (left) and drawings generated like \
                         it (right)"
                    ),
                    real: members
                        .iter()
                        .filter_map(|r| real(&r.key_id))
                        .take(per_side)
                        .collect(),
                    generated: Vec::new(),
                }
            }
            Key::Like(s) => GeneratedGroup {
                title: format!(
                    "drawing {} (left) and variations of it",
                    figures::short_key(s)
                ),
                real: real(s).into_iter().collect(),
                generated: Vec::new(),
            },
            Key::Prior => GeneratedGroup {
                title: "samples of the prior".into(),
                real: Vec::new(),
                generated: Vec::new(),
            },
        });
        g.generated
            .push(Labelled::new(row.key_id.clone(), row.drawing.clone()));
    }
    let groups: Vec<GeneratedGroup> = groups.into_values().collect();
    let opts = GeneratedOptions {
        style: style.clone(),
        title: "Generated drawings".into(),
        per_side,
        max_groups: 24,
    };
    let fig = GeneratedFigure::new(&groups, &opts)
        .with_context(|| format!("drawing the generated drawings of {}", path.display()))?;
    let w = figures::save(&fig, &out.join("generated"))?;
    let name = |p: &Path| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let mut links = vec![FigureLink {
        title: "Generated drawings".into(),
        src: name(&w.png),
        svg: Some(name(&w.svg)),
        caption: Some(format!(
            "Drawings the model generated ({}, model ink) beside the real drawings they were \
             made like (ink): a cluster's strongest members, or the one drawing varied.",
            path.display()
        )),
    }];
    let first = &groups[0].generated[0];
    let anim = out.join("generated_animation.svg");
    figures::save_animation(&anim, &first.drawing, &first.label, 280, 4.0, style)?;
    links.push(FigureLink {
        title: "A generated drawing, stroke by stroke".into(),
        src: name(&anim),
        svg: None,
        caption: Some(format!(
            "{} drawn in the order the model drew its strokes (an animated SVG; it starts again \
             after a pause).",
            first.label
        )),
    });
    Ok(Drawn {
        links,
        figures: vec![("generated".into(), vec![w])],
    })
}
