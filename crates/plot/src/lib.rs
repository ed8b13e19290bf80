//! The `plot` stage: finds the pipeline's tables and JSON files among its inputs, draws every
//! figure they allow with the `figures` crate, and writes `report.html` beside them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use drawing::Stroke3;
use figures::{
    ClusterRow, ClusterTable, DataFacts, EmbeddingMap, Fact, FigureLink, Gallery, GalleryCluster,
    GalleryOptions, InterpOptions, InterpStrip, Interpolations, Labelled, LossCurves, LossOptions,
    LossSeries, MapOptions, MapPoint, Member, ModelFacts, ReconOptions, ReconPair, Reconstructions,
    Report, Rgb, Style, Thumbnail, Written,
};
use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;
use tables::dataset::REPORT_SAMPLE_SEED as SAMPLE_SEED;
use tables::drawings::DrawingTable;

pub mod explore;
mod generated;

/// The `[plot]` section of `pipeline.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema, SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct PlotConfig {
    /// Report title.
    #[default("Quick, Draw! clusters".to_string())]
    pub title: String,
    /// Side in pixels of a drawing's cell in the galleries, reconstructions and interpolations.
    #[default(96)]
    pub cell: u32,
    /// Sample drawings per cluster in the gallery.
    #[default(10)]
    pub samples: usize,
    /// Reads at most this many drawings of each table: a uniform sample, the same key_ids in the
    /// drawings, embeddings and clusters (a hash of each key_id), read a batch at a time so
    /// that memory stays flat however long the tables; the map and galleries show the sample.
    /// 0 = every drawing.
    #[default(100_000)]
    pub max_drawings: usize,
    /// Cluster rows per gallery page.
    #[default(20)]
    pub clusters_per_page: usize,
    /// Clusters shown in the gallery at most (the largest).
    #[default(60)]
    pub max_clusters: usize,
    /// Reconstruction pairs shown at most.
    #[default(24)]
    pub reconstructions: usize,
    /// Reconstruction pairs per row.
    #[default(4)]
    pub pairs_per_row: u32,
    /// Interpolation strips shown at most.
    #[default(8)]
    pub interpolations: usize,
    /// Embedding map width in pixels.
    #[default(1400)]
    pub map_width: u32,
    /// Embedding map height in pixels.
    #[default(1100)]
    pub map_height: u32,
    /// Thumbnails on the map at most.
    #[default(80)]
    pub thumbnails: usize,
    /// Side of a map thumbnail in pixels.
    #[default(52)]
    pub thumbnail_size: u32,
    /// Radius of a map point in pixels.
    #[default(2)]
    pub point_radius: u32,
    /// Loss chart width in pixels.
    #[default(1000)]
    pub loss_width: u32,
    /// Loss chart height in pixels.
    #[default(600)]
    pub loss_height: u32,
    /// Page background colour, #rrggbb.
    #[default("#ffffff".to_string())]
    pub background: String,
    /// Ink of real drawings, #rrggbb.
    #[default("#1f3b73".to_string())]
    pub ink: String,
    /// Ink of drawings the model made, #rrggbb.
    #[default("#d9480f".to_string())]
    pub model_ink: String,
    /// Write explorer.html: the map with every drawing, shown on hover.
    #[default(true)]
    pub explorer: bool,
    /// Write projector/ for TensorBoard's Embedding Projector (vectors, labels, sprite).
    #[default(false)]
    pub projector: bool,
    /// Drawings in the projector export at most (an even spread over the rest).
    #[default(10_000)]
    pub projector_max: usize,
}

impl PlotConfig {
    /// The colours and cell size as a figure style; errors name the bad key.
    pub fn style(&self) -> Result<Style> {
        let colour = |key: &str, v: &str| -> Result<Rgb> {
            v.parse().with_context(|| format!("[plot] {key}"))
        };
        Ok(Style {
            cell: self.cell,
            background: colour("background", &self.background)?,
            ink: colour("ink", &self.ink)?,
            model_ink: colour("model_ink", &self.model_ink)?,
            ..Style::default()
        })
    }
}

/// What an input file is, told by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Drawings,
    TrainLog,
    Embeddings,
    Reconstructions,
    Interpolations,
    Clusters,
    Model,
    ClusterSummary,
    Evaluation,
    /// Drawings made by `generate`.
    Generated,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Drawings,
        Kind::TrainLog,
        Kind::Embeddings,
        Kind::Reconstructions,
        Kind::Interpolations,
        Kind::Clusters,
        Kind::Model,
        Kind::ClusterSummary,
        Kind::Evaluation,
        Kind::Generated,
    ];

    /// The file name the pipeline gives it.
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Drawings => "drawings.parquet",
            Kind::TrainLog => "train_log.parquet",
            Kind::Embeddings => "embeddings.parquet",
            Kind::Reconstructions => "reconstructions.parquet",
            Kind::Interpolations => "interpolations.parquet",
            Kind::Clusters => "clusters.parquet",
            Kind::Model => "model.json",
            Kind::ClusterSummary => "cluster_summary.json",
            Kind::Evaluation => "evaluation.json",
            Kind::Generated => "generated.parquet",
        }
    }

    /// The kind of a file: its name is the pipeline's (`clusters.parquet`) or carries it
    /// after a prefix (`heldout_clusters.parquet`).
    pub fn of(path: &Path) -> Option<Kind> {
        let name = path.file_name()?.to_str()?;
        Kind::ALL.into_iter().find(|k| {
            let f = k.file_name();
            name == f || name.ends_with(&format!("_{f}")) || name.ends_with(&format!("-{f}"))
        })
    }

    /// The kind of a Parquet table whatever its name (`outside_groups.parquet`), as
    /// [`tables::detect_kind`] tells it (the footer's `tables.table`, else the columns).
    fn of_footer(path: &Path) -> Option<Kind> {
        let table = tables::detect_kind(path).ok()?.kind?;
        Kind::ALL
            .into_iter()
            .find(|k| k.file_name().strip_suffix(".parquet") == Some(table.as_str()))
    }
}

/// The inputs found, one file per kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    pub files: BTreeMap<Kind, PathBuf>,
    /// Files of a folder that were passed over, with why.
    pub ignored: Vec<String>,
}

impl Inputs {
    pub fn get(&self, k: Kind) -> Option<&Path> {
        self.files.get(&k).map(PathBuf::as_path)
    }
}

/// Sorts the inputs by kind. A file must have a recognised name (or be a table the pipeline
/// wrote); a folder holding none of the pipeline's file names, or a glob, is one table read
/// from many files (see [`tables::dataset`]); any other folder is searched for
/// the pipeline's file names, at its top level first and then one level down (a run's
/// `run/` folder holds `model.json` and `train_log.parquet`); a kind found in several
/// subfolders and not at the top is ambiguous and left out with a note. `skip` (the output
/// folder) is never searched.
pub fn find_inputs(paths: &[PathBuf], skip: &Path) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    let skip = skip.canonicalize().ok();
    for p in paths {
        if p.is_dir() {
            let mut top = BTreeMap::new();
            let mut below: BTreeMap<Kind, Vec<PathBuf>> = BTreeMap::new();
            for k in Kind::ALL {
                let f = p.join(k.file_name());
                if f.is_file() {
                    top.insert(k, f);
                }
            }
            let mut subdirs: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("{}: cannot list the folder", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|d| d.is_dir())
                .filter(|d| skip.is_none() || d.canonicalize().ok() != skip)
                .collect();
            subdirs.sort();
            let named = !top.is_empty()
                || subdirs
                    .iter()
                    .any(|d| Kind::ALL.iter().any(|k| d.join(k.file_name()).is_file()));
            // a folder of one table's files (a Hive-partitioned folder, a folder of shards)
            // rather than a work folder: the table its files hold, read as one
            if !named {
                if let Some(k) = Kind::of_footer(p) {
                    add(&mut inputs, k, p.clone())?;
                    continue;
                }
            }
            for d in subdirs {
                for k in Kind::ALL {
                    let f = d.join(k.file_name());
                    if f.is_file() && !top.contains_key(&k) {
                        below.entry(k).or_default().push(f);
                    }
                }
            }
            for (k, mut found) in below {
                if found.len() == 1 {
                    top.insert(k, found.remove(0));
                } else {
                    let list: Vec<String> = found.iter().map(|f| f.display().to_string()).collect();
                    inputs.ignored.push(format!(
                        "{} is in several subfolders ({}); pass the one to use",
                        k.file_name(),
                        list.join(", ")
                    ));
                }
            }
            for (k, f) in top {
                add(&mut inputs, k, f)?;
            }
        } else if p.is_file() {
            let Some(k) = Kind::of(p).or_else(|| Kind::of_footer(p)) else {
                bail!(
                    "{}: cannot tell which input this is; its name should end in one of: {}, \
                     or it should be a table the pipeline wrote",
                    p.display(),
                    Kind::ALL.map(Kind::file_name).join(", ")
                );
            };
            add(&mut inputs, k, p.clone())?;
        } else if p.to_string_lossy().contains(['*', '?', '[']) {
            // a glob of one table's files, read as one table
            let Some(k) = Kind::of_footer(p) else {
                bail!(
                    "{}: the pattern matches no pipeline table (quote it, so that the shell \
                     leaves it to the stage)",
                    p.display()
                );
            };
            add(&mut inputs, k, p.clone())?;
        } else {
            bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(inputs)
}

fn add(inputs: &mut Inputs, k: Kind, f: PathBuf) -> Result<()> {
    if let Some(old) = inputs.files.get(&k) {
        if old != &f {
            bail!(
                "two {} inputs: {} and {}; pass one",
                k.file_name(),
                old.display(),
                f.display()
            );
        }
    }
    inputs.files.insert(k, f);
    Ok(())
}

/// What a run of the stage did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Figures drawn, by name, with their files.
    pub figures: Vec<(String, Vec<Written>)>,
    /// Figures not drawn, with why.
    pub skipped: Vec<String>,
    pub report: PathBuf,
    /// explorer.html and what it holds, when written.
    pub explorer: Option<(PathBuf, figures::ExplorerStats)>,
    /// The projector export, when written.
    pub projector: Option<explore::ProjectorExport>,
}

impl Summary {
    pub fn files(&self) -> usize {
        self.figures.iter().map(|(_, w)| 2 * w.len()).sum::<usize>()
            + 1
            + usize::from(self.explorer.is_some())
            + if self.projector.is_some() { 5 } else { 0 }
    }
}

/// Drawings by key_id, for the figures that show originals.
struct Lookup<'a> {
    by_key: HashMap<&'a str, usize>,
    table: &'a DrawingTable,
}

impl<'a> Lookup<'a> {
    fn new(table: &'a DrawingTable) -> Self {
        let by_key = table
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key_id.as_str(), i))
            .collect();
        Lookup { by_key, table }
    }
    fn get(&self, key: &str) -> Option<&'a Stroke3> {
        self.by_key.get(key).map(|&i| &self.table.rows[i].drawing)
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

/// Runs the stage: draws into `out` (created if needed) every figure the inputs allow, then
/// `report.html`. `progress` is told after each figure.
pub fn plot(
    inputs: &Inputs,
    out: &Path,
    cfg: &PlotConfig,
    progress: &dyn Fn(&str),
) -> Result<Summary> {
    let style = cfg.style()?;
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let mut summary = Summary {
        report: out.join("report.html"),
        ..Summary::default()
    };
    let mut report = Report {
        title: cfg.title.clone(),
        footer: Some(
            "Drawings from Quick, Draw! (where used): Quick, Draw! dataset, Google, CC BY 4.0. \
             Figures and page made by the plot stage."
                .into(),
        ),
        ..Report::default()
    };
    let inputs_line: Vec<String> = inputs
        .files
        .values()
        .map(|p| p.display().to_string())
        .collect();
    report.subtitle = Some(format!("inputs: {}", inputs_line.join(", ")));

    let drawings = match inputs.get(Kind::Drawings) {
        Some(p) => {
            // the sample of drawings, and the originals of the reconstructions and interpolations
            let mut originals = std::collections::HashSet::new();
            if let Some(r) = inputs.get(Kind::Reconstructions) {
                let recs = tables::sequences::read_reconstructions(r)?;
                originals.extend(recs.into_iter().map(|r| r.key_id));
            }
            if let Some(i) = inputs.get(Kind::Interpolations) {
                for r in tables::sequences::read_interpolations(i)? {
                    originals.insert(r.key_a);
                    originals.insert(r.key_b);
                }
            }
            let max = cfg.max_drawings;
            Some(tables::drawings::read_sample_keeping(p, max, SAMPLE_SEED, &originals)?.0)
        }
        None => None,
    };
    let lookup = drawings.as_ref().map(Lookup::new);
    if let Some(t) = &drawings {
        report.data = Some(data_facts(t));
    }
    let model_json = match inputs.get(Kind::Model) {
        Some(p) => Some(read_json(p)?),
        None => None,
    };
    let train_log = match inputs.get(Kind::TrainLog) {
        Some(p) => Some(tables::train_log::read(p)?),
        None => None,
    };
    report.model = model_facts(model_json.as_ref(), train_log.as_deref());
    if report.data.is_none() {
        // no drawings table: say what the model was trained on, when model.json tells
        if let Some(d) = model_json.as_ref().and_then(|m| m.get("data")) {
            report.data = Some(DataFacts {
                source: d
                    .get("path")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
                    .to_string(),
                count: d.get("rows").and_then(|v| v.as_u64()).unwrap_or(0),
                extra: flatten(d, "", 30)
                    .into_iter()
                    .filter(|f| f.name != "path" && f.name != "rows")
                    .collect(),
                ..DataFacts::default()
            });
        }
    }
    if let Some(p) = inputs.get(Kind::Embeddings) {
        let (e, read) = tables::embeddings::read_sample(p, cfg.max_drawings, SAMPLE_SEED)?;
        let facts = report.model.get_or_insert_with(ModelFacts::default);
        facts.sizes.push(Fact::new(
            "embeddings",
            format!("{read} vectors of {} numbers", e.dim),
        ));
    }

    let mut links: Vec<FigureLink> = Vec::new();
    let rel = |w: &Written| -> (String, String) {
        let name = |p: &Path| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        };
        (name(&w.png), name(&w.svg))
    };

    // the map and the galleries first: they are what the run is for
    let mut gallery_page_of: HashMap<Option<u32>, String> = HashMap::new();
    let mut cluster_rows: Option<Vec<tables::clusters::ClusterRow>> = None;
    if let Some(p) = inputs.get(Kind::Clusters) {
        let rows = tables::clusters::read_sample(p, cfg.max_drawings, SAMPLE_SEED)?;
        if rows.is_empty() {
            // a clustering of nothing is a broken run upstream, not a figure to leave out
            bail!(
                "{}: an empty clusters table (no rows): nothing to draw the map and galleries of",
                p.display()
            );
        }
        let id = |c: i32| (c >= 0).then_some(c as u32);
        // the drawings with a place on the map (those left out of the clustering, without
        // the part clustered, have none)
        let placed: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].xy.is_some()).collect();
        let points: Vec<MapPoint> = placed
            .iter()
            .map(|&i| {
                let (x, y) = rows[i].xy.expect("placed");
                MapPoint {
                    x,
                    y,
                    cluster: id(rows[i].cluster),
                }
            })
            .collect();
        let unplaced = rows.len() - placed.len();
        // a table placed with `cluster --model` has no map: its galleries are still drawn
        let map_link = if points.is_empty() {
            summary.skipped.push(format!(
                "embedding map: no drawing of {} has a place on the map (a table placed with \
                 `cluster --model` has none: plot the fit's clusters for the map)",
                p.display()
            ));
            None
        } else {
            // which vectors were clustered and mapped (`cluster` notes it in the footer)
            let vectors = tables::footer(p)?
                .into_iter()
                .find(|(k, _)| k == "vectors")
                .map(|(_, v)| v);
            let (title, link) = match vectors.as_deref() {
                Some("inside") => ("Map of what is inside each outline", "inside vectors"),
                Some("outline") => ("Map of the outlines", "outline vectors"),
                Some("outside") => ("Map of what is outside each outline", "outside vectors"),
                _ => ("Embedding map", ""),
            };
            let mopts = MapOptions {
                title: title.into(),
                style: style.clone(),
                width: cfg.map_width,
                height: cfg.map_height,
                point_radius: cfg.point_radius,
                thumbnails: cfg.thumbnails,
                thumbnail_size: cfg.thumbnail_size,
            };
            let thumbs: Vec<Thumbnail> = match &lookup {
                Some(l) => mopts
                    .pick_thumbnails(&points)
                    .into_iter()
                    .filter_map(|i| {
                        l.get(&rows[placed[i]].key_id).map(|d| Thumbnail {
                            index: i,
                            drawing: d.clone(),
                        })
                    })
                    .collect(),
                None => Vec::new(),
            };
            let map = EmbeddingMap::new(&points, &thumbs, &mopts)
                .with_context(|| format!("drawing the map of {}", p.display()))?;
            let w = figures::save(&map, &out.join("embedding_map"))?;
            let (src, svg) = rel(&w);
            summary.figures.push(("embedding map".into(), vec![w]));
            Some(FigureLink {
                title: if link.is_empty() {
                    "Embedding map".into()
                } else {
                    format!("Map of the {link}")
                },
                src,
                svg: Some(svg),
                caption: Some(format!(
                    "Every drawing at its 2-D position ({}), coloured by cluster, noise grey; \
                     cluster ids at the median of their points{}{}.{}",
                    p.display(),
                    if thumbs.is_empty() {
                        ""
                    } else {
                        "; thumbnails of a spread-out sample"
                    },
                    if unplaced == 0 {
                        String::new()
                    } else {
                        format!(
                            "; {unplaced} drawings without the part clustered are noise and \
                             have no place"
                        )
                    },
                    map_quality(inputs.get(Kind::ClusterSummary))
                )),
            })
        };
        progress("embedding map");

        match &lookup {
            None => summary
                .skipped
                .push("gallery: needs drawings.parquet for the drawings".into()),
            Some(l) => {
                let clusters = gallery_clusters(&rows, l, cfg.samples);
                let gopts = GalleryOptions {
                    style: style.clone(),
                    samples: cfg.samples,
                    clusters_per_page: cfg.clusters_per_page,
                    max_clusters: cfg.max_clusters,
                };
                let gallery = Gallery::new(&clusters, &gopts)?;
                let written = gallery.save_all(out, "gallery")?;
                let pages = written.len();
                for (page, w) in gallery.pages().iter().zip(&written) {
                    let (src, svg) = rel(w);
                    for c in page.clusters() {
                        gallery_page_of.insert(c, src.clone());
                    }
                    report.headline.push(FigureLink {
                        title: if pages > 1 {
                            format!("Cluster gallery, page {} of {pages}", page.page())
                        } else {
                            "Cluster gallery".into()
                        },
                        src,
                        svg: Some(svg),
                        caption: Some(
                            "Samples of each cluster: the members with the strongest \
                             membership first, ties in a fixed shuffled order."
                                .into(),
                        ),
                    });
                }
                summary.figures.push(("gallery".into(), written));
                progress("gallery");
            }
        }
        report.headline.extend(map_link);
        cluster_rows = Some(rows);
    } else {
        summary
            .skipped
            .push("map and gallery: no clusters.parquet".into());
    }

    match (inputs.get(Kind::Reconstructions), &lookup) {
        (Some(p), Some(l)) => {
            let recs = tables::sequences::read_reconstructions(p)?;
            let pairs: Vec<ReconPair> = recs
                .iter()
                .filter_map(|r| {
                    l.get(&r.key_id).map(|o| ReconPair {
                        key_id: r.key_id.clone(),
                        original: o.clone(),
                        reconstruction: r.drawing.clone(),
                    })
                })
                .take(cfg.reconstructions)
                .collect();
            if pairs.is_empty() {
                summary.skipped.push(format!(
                    "reconstructions: none of the {} in {} has its original in drawings.parquet",
                    recs.len(),
                    p.display()
                ));
            } else {
                let ropts = ReconOptions {
                    style: style.clone(),
                    pairs_per_row: cfg.pairs_per_row,
                    max_pairs: cfg.reconstructions,
                };
                let fig = Reconstructions::new(&pairs, &ropts)?;
                let w = figures::save(&fig, &out.join("reconstructions"))?;
                let (src, svg) = rel(&w);
                links.push(FigureLink {
                    title: "Reconstructions".into(),
                    src,
                    svg: Some(svg),
                    caption: Some(format!(
                        "Each drawing (left) beside what the model decodes from its embedding \
                         (right); {} of {} reconstructions.",
                        pairs.len(),
                        recs.len()
                    )),
                });
                summary.figures.push(("reconstructions".into(), vec![w]));
                progress("reconstructions");
            }
        }
        (Some(_), None) => summary
            .skipped
            .push("reconstructions: needs drawings.parquet for the originals".into()),
        (None, _) => summary
            .skipped
            .push("reconstructions: no reconstructions.parquet".into()),
    }

    if let Some(p) = inputs.get(Kind::Interpolations) {
        let rows = tables::sequences::read_interpolations(p)?;
        let mut by_pair: BTreeMap<i32, Vec<&tables::sequences::Interpolation>> = BTreeMap::new();
        for r in &rows {
            by_pair.entry(r.pair).or_default().push(r);
        }
        let strips: Vec<InterpStrip> = by_pair
            .into_values()
            .take(cfg.interpolations)
            .map(|mut steps| {
                steps.sort_by_key(|r| r.step);
                let (a, b) = (&steps[0].key_a, &steps[0].key_b);
                InterpStrip {
                    label: format!("{} → {}", figures::short_key(a), figures::short_key(b)),
                    from: lookup.as_ref().and_then(|l| l.get(a)).cloned(),
                    to: lookup.as_ref().and_then(|l| l.get(b)).cloned(),
                    steps: steps.iter().map(|r| r.drawing.clone()).collect(),
                }
            })
            .collect();
        if strips.is_empty() {
            summary
                .skipped
                .push(format!("interpolations: {} has no rows", p.display()));
        } else {
            let iopts = InterpOptions {
                style: style.clone(),
                max_strips: cfg.interpolations,
            };
            let fig = Interpolations::new(&strips, &iopts)?;
            let w = figures::save(&fig, &out.join("interpolations"))?;
            let (src, svg) = rel(&w);
            links.push(FigureLink {
                title: "Interpolations".into(),
                src,
                svg: Some(svg),
                caption: Some(
                    "Drawings decoded from evenly spaced points on the line between two \
                     drawings' embeddings; the two originals at the ends when known."
                        .into(),
                ),
            });
            summary.figures.push(("interpolations".into(), vec![w]));
            progress("interpolations");
        }
    } else {
        summary
            .skipped
            .push("interpolations: no interpolations.parquet".into());
    }

    if let Some(log) = &train_log {
        let train = LossSeries {
            name: "train".into(),
            points: log.iter().map(|r| (r.step as f64, r.train_loss)).collect(),
        };
        let valid = LossSeries {
            name: "valid".into(),
            points: log
                .iter()
                .filter_map(|r| r.valid_loss.map(|v| (r.step as f64, v)))
                .collect(),
        };
        let lopts = LossOptions {
            width: cfg.loss_width,
            height: cfg.loss_height,
            ..LossOptions::default()
        };
        let series: Vec<LossSeries> = [train, valid]
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .collect();
        match LossCurves::new(&series, &lopts) {
            Ok(fig) => {
                let w = figures::save(&fig, &out.join("loss"))?;
                let (src, svg) = rel(&w);
                links.push(FigureLink {
                    title: "Training loss".into(),
                    src,
                    svg: Some(svg),
                    caption: Some(
                        "Train loss at every logged step and valid loss after each epoch.".into(),
                    ),
                });
                summary.figures.push(("loss".into(), vec![w]));
                progress("loss");
            }
            Err(figures::FigureError::Empty { what, .. }) => {
                summary.skipped.push(format!("loss: {what}"))
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        summary.skipped.push("loss: no train_log.parquet".into());
    }

    if let Some(rows) = &cluster_rows {
        report.clusters = Some(cluster_table(rows, drawings.as_ref(), &gallery_page_of));
    }
    if let Some(p) = inputs.get(Kind::ClusterSummary) {
        report.cluster_metrics = Some(flatten(&read_json(p)?, "", 60));
    }
    if let Some(p) = inputs.get(Kind::Evaluation) {
        let eval = read_json(p)?;
        report.scores = explore::score_table(&eval);
        report.evaluation = Some(flatten(&eval, "", 80));
    }
    if let (Some(rows), Some(p)) = (&cluster_rows, inputs.get(Kind::Clusters)) {
        let footer = tables::footer(p)?;
        let key = |k: &str| footer.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let vectors = key("vectors").unwrap_or_else(|| "embedding".into());
        if cfg.explorer {
            let recs = match inputs.get(Kind::Reconstructions) {
                Some(r) => tables::sequences::read_reconstructions(r)?,
                None => Vec::new(),
            };
            let method = key("map").unwrap_or_else(|| "pca".into());
            let placed = rows.iter().filter(|r| r.xy.is_some()).count();
            let subtitle = format!(
                "{} drawings on the {} map of their {vectors} vectors{}",
                placed,
                method.to_uppercase(),
                if placed < rows.len() {
                    format!(" ({} without the part have no place)", rows.len() - placed)
                } else {
                    String::new()
                }
            );
            let (path, stats) = explore::write_explorer(
                out,
                &cfg.title,
                &subtitle,
                rows,
                drawings.as_ref(),
                &recs,
                (style.background, style.ink, style.model_ink),
            )?;
            report.pages.push(figures::PageLink {
                title: "Explore the map".into(),
                href: "explorer.html".into(),
                caption: Some(format!(
                    "every drawing as a point ({}): hover one to see it, colour by cluster or \
                     label, show one cluster alone, find a key_id",
                    method.to_uppercase()
                )),
            });
            summary.explorer = Some((path, stats));
            progress("explorer");
        }
        if cfg.projector {
            match (inputs.get(Kind::Embeddings), &drawings) {
                (Some(e), Some(d)) => {
                    let (e, _) = tables::embeddings::read_sample(e, cfg.max_drawings, SAMPLE_SEED)?;
                    let x = explore::write_projector(
                        out,
                        &e,
                        &vectors,
                        rows,
                        d,
                        cfg.projector_max,
                        style.ink,
                    )?;
                    summary.projector = Some(x);
                    progress("projector");
                }
                _ => summary
                    .skipped
                    .push("projector: needs embeddings.parquet and drawings.parquet".into()),
            }
        }
    } else if cfg.explorer {
        summary
            .skipped
            .push("explorer: needs clusters.parquet for the map".into());
    }
    if let Some(p) = inputs.get(Kind::Generated) {
        let drawn = generated::draw(
            p,
            drawings.as_ref(),
            cluster_rows.as_deref(),
            out,
            &style,
            cfg.samples,
        )?;
        links.extend(drawn.links);
        summary.figures.extend(drawn.figures);
        progress("generated drawings");
    }
    report.figures = links;
    figures::write_report(&summary.report, &report)?;
    Ok(summary)
}

/// " The map keeps 41% of …" from `cluster_summary.json`'s `map` entry; empty when absent.
fn map_quality(summary: Option<&Path>) -> String {
    let Some(v) = summary.and_then(|p| read_json(p).ok()) else {
        return String::new();
    };
    let m = &v["map"];
    let kept = |k: &str| m["neighbours_kept_10"][k].as_f64();
    let method = m["method"].as_str().unwrap_or("pca");
    match (kept(method), kept("pca")) {
        (Some(k), Some(pca)) if method != "pca" => format!(
            " The {} map keeps {:.0}% of each drawing's 10 nearest neighbours among the vectors \
             as its 10 nearest on the map (PCA: {:.0}%).",
            method.to_uppercase(),
            100.0 * k,
            100.0 * pca
        ),
        (Some(k), _) => format!(
            " The map keeps {:.0}% of each drawing's 10 nearest neighbours among the vectors as \
             its 10 nearest on the map.",
            100.0 * k
        ),
        _ => String::new(),
    }
}

/// Groups the cluster table's rows and picks each cluster's samples (strongest members
/// first, see [`figures::pick_samples`]).
fn gallery_clusters(
    rows: &[tables::clusters::ClusterRow],
    l: &Lookup<'_>,
    samples: usize,
) -> Vec<GalleryCluster> {
    let mut by: BTreeMap<Option<u32>, Vec<&tables::clusters::ClusterRow>> = BTreeMap::new();
    for r in rows {
        by.entry((r.cluster >= 0).then_some(r.cluster as u32))
            .or_default()
            .push(r);
    }
    by.into_iter()
        .map(|(cluster, members)| {
            // only members whose drawing is known can be shown
            let known: Vec<&tables::clusters::ClusterRow> = members
                .iter()
                .copied()
                .filter(|r| l.get(&r.key_id).is_some())
                .collect();
            let m: Vec<Member> = known
                .iter()
                .map(|r| Member {
                    key: &r.key_id,
                    // noise has no membership; a low outlier score is the typical one
                    score: r.strength.or(r.outlier_score.map(|o| 1.0 - o)),
                })
                .collect();
            let samples = figures::pick_samples(&m, samples)
                .into_iter()
                .map(|i| {
                    let r = known[i];
                    Labelled::new(r.key_id.clone(), l.get(&r.key_id).expect("known").clone())
                })
                .collect();
            GalleryCluster {
                cluster,
                size: members.len(),
                samples,
            }
        })
        .collect()
}

fn data_facts(t: &DrawingTable) -> DataFacts {
    let mut sources: BTreeMap<&str, usize> = BTreeMap::new();
    let mut words: BTreeMap<&str, usize> = BTreeMap::new();
    let mut splits: BTreeMap<tables::Split, u64> = BTreeMap::new();
    let mut points = 0usize;
    for r in &t.rows {
        *sources.entry(r.source.as_str()).or_default() += 1;
        if let Some(w) = &r.word {
            *words.entry(w.as_str()).or_default() += 1;
        }
        *splits.entry(r.split).or_default() += 1;
        points += r.drawing.len();
    }
    let list = |m: &BTreeMap<&str, usize>| {
        let mut v: Vec<(&str, usize)> = m.iter().map(|(k, n)| (*k, *n)).collect();
        v.sort_by_key(|&(k, n)| (std::cmp::Reverse(n), k));
        let shown: Vec<String> = v
            .iter()
            .take(8)
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        let more = v.len().saturating_sub(8);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    let mut extra = vec![Fact::new(
        "points per drawing (mean)",
        format!("{:.1}", points as f64 / t.rows.len().max(1) as f64),
    )];
    if !t.label_names.is_empty() {
        extra.push(Fact::new("label columns", t.label_names.join(", ")));
    }
    DataFacts {
        source: list(&sources),
        category: (!words.is_empty()).then(|| list(&words)),
        count: t.rows.len() as u64,
        splits: splits
            .into_iter()
            .map(|(s, n)| (s.to_string(), n))
            .collect(),
        extra,
    }
}

fn model_facts(
    model: Option<&serde_json::Value>,
    log: Option<&[tables::train_log::TrainLogRow]>,
) -> Option<ModelFacts> {
    if model.is_none() && log.is_none() {
        return None;
    }
    let mut f = ModelFacts::default();
    if let Some(m) = model {
        let cfg = m.get("model");
        f.head = cfg.and_then(|c| c.get("head")).map(|h| {
            let h = h
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| h.to_string());
            match cfg.and_then(|c| c.get("mixtures")).and_then(|v| v.as_u64()) {
                Some(k) if h.eq_ignore_ascii_case("mdn") => format!("{h} ({k} mixture components)"),
                _ => h,
            }
        });
        if let Some(c) = cfg {
            f.sizes
                .extend(flatten(c, "", 30).into_iter().filter(|x| x.name != "head"));
        }
        if let Some(p) = m.get("parameters") {
            f.sizes.push(Fact::new("parameters", p));
        }
        if let Some(t) = m.get("train") {
            f.sizes.extend(flatten(t, "train.", 30));
        }
        if let Some(l) = m.get("losses") {
            f.losses.extend(flatten(l, "", 20));
        }
    }
    if let Some(log) = log {
        if let Some(last) = log.last() {
            f.losses.push(Fact::new("logged steps", log.len()));
            f.losses.push(Fact::new(
                "last logged train loss",
                fmt_num(last.train_loss),
            ));
        }
        let best = log
            .iter()
            .filter_map(|r| r.valid_loss.map(|v| (v, r.step)))
            .filter(|(v, _)| v.is_finite())
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((v, step)) = best {
            f.losses.push(Fact::new(
                "best valid loss",
                format!("{} (step {step})", fmt_num(v)),
            ));
        }
    }
    Some(f)
}

/// The cluster table, with each cluster's most common labels when the drawings carry any.
fn cluster_table(
    rows: &[tables::clusters::ClusterRow],
    drawings: Option<&DrawingTable>,
    gallery: &HashMap<Option<u32>, String>,
) -> ClusterTable {
    let mut by: BTreeMap<Option<u32>, Vec<&str>> = BTreeMap::new();
    for r in rows {
        by.entry((r.cluster >= 0).then_some(r.cluster as u32))
            .or_default()
            .push(&r.key_id);
    }
    // label columns: word (when it varies) and label_<factor>
    let mut columns: Vec<(String, HashMap<&str, &str>)> = Vec::new();
    if let Some(t) = drawings {
        let mut word: HashMap<&str, &str> = HashMap::new();
        for r in &t.rows {
            if let Some(w) = &r.word {
                word.insert(&r.key_id, w);
            }
        }
        let distinct: std::collections::HashSet<&&str> = word.values().collect();
        if distinct.len() > 1 {
            columns.push(("word".into(), word));
        }
        for (i, name) in t.label_names.iter().enumerate() {
            let m: HashMap<&str, &str> = t
                .rows
                .iter()
                .filter_map(|r| r.labels[i].as_deref().map(|v| (r.key_id.as_str(), v)))
                .collect();
            if !m.is_empty() {
                columns.push((name.clone(), m));
            }
        }
    }
    let rows = by
        .into_iter()
        .map(|(cluster, keys)| {
            let parts: Vec<String> = columns
                .iter()
                .filter_map(|(name, m)| {
                    let mut counts: HashMap<&str, usize> = HashMap::new();
                    for k in &keys {
                        if let Some(v) = m.get(k) {
                            *counts.entry(v).or_default() += 1;
                        }
                    }
                    let (v, n) = counts
                        .into_iter()
                        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))?;
                    Some(format!(
                        "{name}: {v} {:.0} %",
                        100.0 * n as f64 / keys.len() as f64
                    ))
                })
                .collect();
            ClusterRow {
                cluster,
                size: keys.len() as u64,
                gallery: gallery.get(&cluster).cloned(),
                summary: (!parts.is_empty()).then(|| parts.join(", ")),
            }
        })
        .collect();
    ClusterTable {
        rows,
        note: Some(
            "The share of drawings per cluster; \"holds\" gives each label's most common value \
             in the cluster and its share there."
                .into(),
        ),
    }
}

fn fmt_num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1e-3 && v.abs() < 1e6 {
        format!("{v:.4}")
    } else {
        format!("{v:.4e}")
    }
}

/// A JSON value as `name = value` facts, nested keys joined with dots, at most `max` facts
/// (the rest counted in a last fact). Arrays of scalars are shown inline.
pub fn flatten(v: &serde_json::Value, prefix: &str, max: usize) -> Vec<Fact> {
    fn scalar(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::Null => Some("null".into()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            serde_json::Value::Number(n) => Some(match n.as_f64() {
                Some(f) if !n.is_i64() && !n.is_u64() => fmt_num(f),
                _ => n.to_string(),
            }),
            serde_json::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn walk(v: &serde_json::Value, name: String, out: &mut Vec<Fact>) {
        if let Some(s) = scalar(v) {
            out.push(Fact::new(
                if name.is_empty() {
                    "value".into()
                } else {
                    name
                },
                s,
            ));
            return;
        }
        match v {
            serde_json::Value::Array(a) if a.iter().all(|x| scalar(x).is_some()) => {
                let items: Vec<String> = a.iter().take(12).filter_map(scalar).collect();
                let more = if a.len() > 12 {
                    format!(", … ({} in all)", a.len())
                } else {
                    String::new()
                };
                out.push(Fact::new(name, format!("[{}{more}]", items.join(", "))));
            }
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{name}[{i}]"), out);
                }
            }
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    let n = if name.is_empty() {
                        k.clone()
                    } else {
                        format!("{name}.{k}")
                    };
                    walk(x, n, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, prefix.trim_end_matches('.').to_string(), &mut out);
    if out.len() > max {
        let n = out.len() - max;
        out.truncate(max);
        out.push(Fact::new("…", format!("{n} more values in the file")));
    }
    out
}
