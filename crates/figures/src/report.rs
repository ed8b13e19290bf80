//! `report.html`: one self-contained page (inline CSS, images beside it by relative path) that
//! opens from the file system and shows what a run did. Built from a plain struct of facts;
//! absent sections are left out.

use std::fmt::Write as _;
use std::path::Path;

use crate::cell::group;
use crate::output::write_atomic;
use crate::{cluster_colour, FigureError};

const NAME: &str = "report";

/// A named value shown in a two-column table (the value is already formatted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fact {
    pub name: String,
    pub value: String,
}

impl Fact {
    pub fn new(name: impl Into<String>, value: impl ToString) -> Self {
        Fact {
            name: name.into(),
            value: value.to_string(),
        }
    }
}

/// Where the drawings came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataFacts {
    /// E.g. a file path or "synthetic faces (seed 7)".
    pub source: String,
    pub category: Option<String>,
    pub count: u64,
    /// `(split name, drawings)`, e.g. train / valid / test.
    pub splits: Vec<(String, u64)>,
    /// Anything else worth saying (filters, simplification…).
    pub extra: Vec<Fact>,
}

/// The model that made the embeddings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelFacts {
    /// The output head, e.g. "mixture density (20 components)".
    pub head: Option<String>,
    /// Sizes and settings: latent size, hidden size, epochs…
    pub sizes: Vec<Fact>,
    /// Final losses: train, valid…
    pub losses: Vec<Fact>,
}

/// A picture on the page, by a path relative to the page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FigureLink {
    pub title: String,
    /// Relative path from report.html, with `/` separators (e.g. `gallery_01.png`).
    pub src: String,
    pub caption: Option<String>,
    /// The matching SVG, linked under the picture when given.
    pub svg: Option<String>,
}

/// One row of the cluster table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterRow {
    /// `None` for noise.
    pub cluster: Option<u32>,
    pub size: u64,
    /// The gallery page showing it, relative to the page.
    pub gallery: Option<String>,
    /// What the cluster holds in words, e.g. its most common labels ("mouth: smile 92 %").
    pub summary: Option<String>,
}

/// The cluster table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterTable {
    pub rows: Vec<ClusterRow>,
    /// E.g. the algorithm and its parameters.
    pub note: Option<String>,
}

/// A small table of scores: a row per label, a column per metric (values already formatted;
/// empty where a metric does not apply).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScoreTable {
    pub columns: Vec<String>,
    /// `(row name, one value per column)`.
    pub rows: Vec<(String, Vec<String>)>,
    /// A line under the table (what the metrics mean).
    pub note: Option<String>,
}

/// A page linked from the top of the report (e.g. `explorer.html`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageLink {
    pub title: String,
    /// Relative path from report.html.
    pub href: String,
    pub caption: Option<String>,
}

/// Everything the report can say; `None` and empty sections are left out. The page opens with
/// what people look at (the linked pages, the headline figures, the scores, the clusters); the
/// data, model and settings come last, folded away.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub title: String,
    /// A line under the title (run folder, date…).
    pub subtitle: Option<String>,
    /// Pages linked at the top, such as the explorer.
    pub pages: Vec<PageLink>,
    /// The figures shown first (the gallery and the map).
    pub headline: Vec<FigureLink>,
    /// The evaluation's scores by label.
    pub scores: Option<ScoreTable>,
    pub data: Option<DataFacts>,
    pub model: Option<ModelFacts>,
    /// The other figures, after the clusters.
    pub figures: Vec<FigureLink>,
    pub clusters: Option<ClusterTable>,
    pub cluster_metrics: Option<Vec<Fact>>,
    pub evaluation: Option<Vec<Fact>>,
    /// Attribution and other closing lines.
    pub footer: Option<String>,
}

/// Escapes text for HTML content and quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a relative path for a `src`/`href`, keeping `/` and unreserved characters
/// (a space or `#` in a file name would otherwise break the link).
fn url_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A link must stay relative, or the page breaks when the run folder is moved or copied.
fn check_relative(what: &str, src: &str) -> Result<(), FigureError> {
    let bad = src.is_empty()
        || src.starts_with('/')
        || src.starts_with('\\')
        || src.contains("://")
        || src.as_bytes().get(1) == Some(&b':')
        || src.split(['/', '\\']).any(|seg| seg == "..");
    if bad {
        return Err(FigureError::invalid(
            NAME,
            format!("{what} {src:?} must be a relative path inside the report's folder"),
        ));
    }
    Ok(())
}

const STYLE: &str = r#"
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; margin: 0; color: #222; background: #fafafa; }
main { max-width: 1500px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { margin: 0 0 4px; font-size: 28px; }
h2 { margin: 36px 0 12px; font-size: 21px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { margin: 20px 0 8px; font-size: 17px; }
.sub { color: #666; margin: 0 0 12px; }
table { border-collapse: collapse; background: #fff; margin: 4px 0 12px; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.bar { display: inline-block; height: 10px; background: #1f77b4; vertical-align: middle; }
figure { margin: 12px 0 28px; background: #fff; border: 1px solid #ddd; padding: 12px; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; margin-top: 8px; font-size: 14px; }
img.broken { outline: 3px solid #c0392b; min-width: 200px; min-height: 40px; }
.broken-note { color: #c0392b; font-weight: bold; }
nav a { margin-right: 14px; }
.pages { margin: 8px 0 4px; }
a.page { display: inline-block; background: #1f3b73; color: #fff; text-decoration: none; padding: 8px 16px; border-radius: 4px; font-weight: bold; margin-right: 12px; }
a.page:hover { background: #2c5299; }
.pages .sub { display: inline; }
details { margin: 8px 0; background: #fff; border: 1px solid #ddd; padding: 6px 12px; }
summary { cursor: pointer; font-weight: bold; padding: 4px 0; }
footer { margin-top: 40px; color: #777; font-size: 13px; }
"#;

/// Marks every image that failed to load (red outline) and records the counts on `<body>`,
/// where a headless browser's DOM dump can read them (`scripts/check-report.sh`).
const SCRIPT: &str = r#"
window.addEventListener("load", function () {
  var imgs = document.images, broken = 0;
  for (var i = 0; i < imgs.length; i++) {
    var im = imgs[i];
    if (!(im.complete && im.naturalWidth > 0)) {
      broken++;
      im.classList.add("broken");
      var note = document.createElement("div");
      note.className = "broken-note";
      note.textContent = "image did not load: " + im.getAttribute("src");
      im.parentNode.insertBefore(note, im.nextSibling);
    }
  }
  document.body.setAttribute("data-images", String(imgs.length));
  document.body.setAttribute("data-broken-images", String(broken));
});
"#;

fn facts_table(out: &mut String, facts: &[Fact]) {
    out.push_str("<table>\n");
    for f in facts {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(&f.name),
            escape(&f.value)
        );
    }
    out.push_str("</table>\n");
}

/// A figure with its title, caption and SVG link.
fn figure(h: &mut String, f: &FigureLink) {
    let _ = writeln!(
        h,
        "<figure>\n<h3>{}</h3>\n<a href=\"{src}\"><img src=\"{src}\" alt=\"{}\" loading=\"eager\"></a>",
        escape(&f.title),
        escape(&f.title),
        src = escape(&url_path(&f.src)),
    );
    let mut cap = String::new();
    if let Some(c) = &f.caption {
        cap.push_str(&escape(c));
    }
    if let Some(svg) = &f.svg {
        let _ = write!(
            cap,
            "{}<a href=\"{}\">SVG</a>",
            if cap.is_empty() { "" } else { " · " },
            escape(&url_path(svg))
        );
    }
    if !cap.is_empty() {
        let _ = writeln!(h, "<figcaption>{cap}</figcaption>");
    }
    h.push_str("</figure>\n");
}

fn score_table(h: &mut String, t: &ScoreTable) {
    h.push_str("<table>\n<tr><th></th>");
    for c in &t.columns {
        let _ = write!(h, "<th class=\"num\">{}</th>", escape(c));
    }
    h.push_str("</tr>\n");
    for (name, values) in &t.rows {
        let _ = write!(h, "<tr><th>{}</th>", escape(name));
        for v in values {
            let _ = write!(h, "<td class=\"num\">{}</td>", escape(v));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    if let Some(n) = &t.note {
        let _ = writeln!(h, "<p class=\"sub\">{}</p>", escape(n));
    }
}

impl Report {
    /// The page as HTML. Errors when a link is not a relative path.
    pub fn to_html(&self) -> Result<String, FigureError> {
        for p in &self.pages {
            check_relative("page link", &p.href)?;
        }
        for f in self.headline.iter().chain(&self.figures) {
            check_relative("figure", &f.src)?;
            if let Some(svg) = &f.svg {
                check_relative("figure", svg)?;
            }
        }
        if let Some(t) = &self.clusters {
            for r in &t.rows {
                if let Some(g) = &r.gallery {
                    check_relative("gallery link", g)?;
                }
            }
        }
        let title = if self.title.trim().is_empty() {
            "Run report"
        } else {
            &self.title
        };
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n<script>{SCRIPT}</script>\n</head>\n<body>\n<main>\n",
            escape(title)
        );
        let _ = writeln!(h, "<h1>{}</h1>", escape(title));
        if let Some(s) = &self.subtitle {
            let _ = writeln!(h, "<p class=\"sub\">{}</p>", escape(s));
        }
        for p in &self.pages {
            let _ = write!(
                h,
                "<p class=\"pages\"><a class=\"page\" href=\"{}\">{}</a>",
                escape(&url_path(&p.href)),
                escape(&p.title)
            );
            if let Some(c) = &p.caption {
                let _ = write!(h, "<span class=\"sub\">{}</span>", escape(c));
            }
            h.push_str("</p>\n");
        }
        // a table of contents of the sections present
        let mut nav = Vec::new();
        if self.scores.is_some() {
            nav.push(("scores", "Scores"));
        }
        if self.clusters.is_some() {
            nav.push(("clusters", "Clusters"));
        }
        if !self.figures.is_empty() {
            nav.push(("figures", "More figures"));
        }
        let settings = self.data.is_some()
            || self.model.is_some()
            || self.cluster_metrics.is_some()
            || self.evaluation.is_some();
        if settings {
            nav.push(("settings", "Data, model and settings"));
        }
        if nav.len() > 1 {
            h.push_str("<nav>");
            for (id, name) in &nav {
                let _ = write!(h, "<a href=\"#{id}\">{name}</a>");
            }
            h.push_str("</nav>\n");
        }
        for f in &self.headline {
            figure(&mut h, f);
        }
        if let Some(t) = &self.scores {
            h.push_str("<h2 id=\"scores\">Scores</h2>\n");
            score_table(&mut h, t);
        }
        if let Some(t) = &self.clusters {
            h.push_str("<h2 id=\"clusters\">Clusters</h2>\n");
            self.cluster_table(&mut h, t);
        }
        if !self.figures.is_empty() {
            h.push_str("<h2 id=\"figures\">More figures</h2>\n");
            for f in &self.figures {
                figure(&mut h, f);
            }
        }
        if settings {
            h.push_str("<h2 id=\"settings\">Data, model and settings</h2>\n");
        }
        if let Some(d) = &self.data {
            h.push_str("<details id=\"data\"><summary>Data</summary>\n");
            let mut facts = vec![Fact::new("source", &d.source)];
            if let Some(c) = &d.category {
                facts.push(Fact::new("category", c));
            }
            facts.push(Fact::new("drawings", group(d.count as usize)));
            for (name, n) in &d.splits {
                facts.push(Fact::new(format!("split: {name}"), group(*n as usize)));
            }
            facts.extend(d.extra.iter().cloned());
            facts_table(&mut h, &facts);
            h.push_str("</details>\n");
        }
        if let Some(m) = &self.model {
            h.push_str("<details id=\"model\"><summary>Model and training settings</summary>\n");
            let mut facts = Vec::new();
            if let Some(head) = &m.head {
                facts.push(Fact::new("head", head));
            }
            facts.extend(m.sizes.iter().cloned());
            if !facts.is_empty() {
                facts_table(&mut h, &facts);
            }
            if !m.losses.is_empty() {
                h.push_str("<h3>Losses</h3>\n");
                facts_table(&mut h, &m.losses);
            }
            h.push_str("</details>\n");
        }
        if let Some(metrics) = &self.cluster_metrics {
            h.push_str(
                "<details id=\"cluster-metrics\"><summary>Clustering: settings and metrics</summary>\n",
            );
            facts_table(&mut h, metrics);
            h.push_str("</details>\n");
        }
        if let Some(ev) = &self.evaluation {
            h.push_str("<details id=\"evaluation\"><summary>Every evaluation figure</summary>\n");
            facts_table(&mut h, ev);
            h.push_str("</details>\n");
        }
        if let Some(f) = &self.footer {
            let _ = writeln!(h, "<footer>{}</footer>", escape(f));
        }
        h.push_str("</main>\n</body>\n</html>\n");
        Ok(h)
    }

    fn cluster_table(&self, h: &mut String, t: &ClusterTable) {
        if let Some(n) = &t.note {
            let _ = writeln!(h, "<p class=\"sub\">{}</p>", escape(n));
        }
        let total: u64 = t.rows.iter().map(|r| r.size).sum();
        let n_real = t.rows.iter().filter(|r| r.cluster.is_some()).count();
        let _ = writeln!(
            h,
            "<p>{} clusters, {} drawings.</p>",
            n_real,
            group(total as usize)
        );
        let largest = t.rows.iter().map(|r| r.size).max().unwrap_or(0).max(1);
        // largest first, noise last, like the galleries
        let mut rows: Vec<&ClusterRow> = t.rows.iter().collect();
        rows.sort_by_key(|r| (r.cluster.is_none(), std::cmp::Reverse(r.size), r.cluster));
        h.push_str(
            "<table>\n<tr><th>cluster</th><th class=\"num\">drawings</th><th class=\"num\">share</th><th></th><th>gallery</th><th>holds</th></tr>\n",
        );
        for r in rows {
            let name = match r.cluster {
                Some(id) => id.to_string(),
                None => "noise".to_string(),
            };
            let share = if total > 0 {
                100.0 * r.size as f64 / total as f64
            } else {
                0.0
            };
            let colour = cluster_colour(r.cluster);
            let bar = (200.0 * r.size as f64 / largest as f64).round() as u32;
            let link = match &r.gallery {
                Some(g) => format!("<a href=\"{}\">samples</a>", escape(&url_path(g))),
                None => String::new(),
            };
            let _ = writeln!(
                h,
                "<tr><td><span class=\"swatch\" style=\"background:{colour}\"></span>{name}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{share:.1} %</td>\
                 <td><span class=\"bar\" style=\"width:{bar}px;background:{colour}\"></span></td><td>{link}</td><td>{}</td></tr>",
                group(r.size as usize),
                escape(r.summary.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</table>\n");
    }
}

/// Writes the report to `path` (atomically).
pub fn write_report(path: &Path, report: &Report) -> Result<(), FigureError> {
    let html = report.to_html()?;
    write_atomic(path, html.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Report {
        Report {
            title: "Faces <run 1>".into(),
            subtitle: Some("work/ & co".into()),
            data: Some(DataFacts {
                source: "face.ndjson".into(),
                category: Some("face".into()),
                count: 12345,
                splits: vec![("train".into(), 10000), ("valid".into(), 2345)],
                extra: vec![],
            }),
            model: Some(ModelFacts {
                head: Some("mixture density".into()),
                sizes: vec![Fact::new("latent", 32)],
                losses: vec![Fact::new("valid", "0.123")],
            }),
            figures: vec![FigureLink {
                title: "Map".into(),
                src: "map of faces.png".into(),
                caption: Some("a <b>caption</b>".into()),
                svg: Some("map of faces.svg".into()),
            }],
            clusters: Some(ClusterTable {
                rows: vec![
                    ClusterRow {
                        cluster: None,
                        size: 5,
                        gallery: None,
                        summary: None,
                    },
                    ClusterRow {
                        cluster: Some(3),
                        size: 10,
                        gallery: Some("gallery_01.png".into()),
                        summary: Some("mouth: smile <92 %>".into()),
                    },
                    ClusterRow {
                        cluster: Some(1),
                        size: 20,
                        gallery: Some("gallery_01.png".into()),
                        summary: Some("mouth: smile <92 %>".into()),
                    },
                ],
                note: None,
            }),
            cluster_metrics: Some(vec![Fact::new("silhouette", "0.41")]),
            evaluation: None,
            footer: Some("Quick, Draw! dataset, Google (CC BY 4.0)".into()),
            pages: vec![PageLink {
                title: "Explore the map".into(),
                href: "explorer.html".into(),
                caption: Some("every drawing".into()),
            }],
            headline: vec![FigureLink {
                title: "Cluster gallery".into(),
                src: "gallery.png".into(),
                caption: None,
                svg: None,
            }],
            scores: Some(ScoreTable {
                columns: vec!["kNN".into(), "NMI".into()],
                rows: vec![("label_eyes".into(), vec!["0.97".into(), "0.41".into()])],
                note: None,
            }),
        }
    }

    #[test]
    fn leads_with_what_people_look_at_and_folds_the_settings() {
        let html = full().to_html().unwrap();
        let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} missing"));
        let explorer = at("href=\"explorer.html\"");
        let gallery = at("src=\"gallery.png\"");
        let scores = at("id=\"scores\"");
        let clusters = at("id=\"clusters\"");
        let more = at("src=\"map%20of%20faces.png\"");
        let settings = at("id=\"settings\"");
        assert!(explorer < gallery && gallery < scores && scores < clusters);
        assert!(clusters < more && more < settings);
        assert!(html.contains("<th>label_eyes</th><td class=\"num\">0.97</td>"));
        // data and model are folded away, after the settings heading
        for id in ["data", "model", "cluster-metrics"] {
            let p = at(&format!("<details id=\"{id}\">"));
            assert!(p > settings, "{id}");
        }
    }

    #[test]
    fn escapes_text_and_links() {
        let html = full().to_html().unwrap();
        assert!(html.contains("Faces &lt;run 1&gt;"));
        assert!(!html.contains("<b>caption</b>"));
        assert!(html.contains("a &lt;b&gt;caption&lt;/b&gt;"));
        assert!(html.contains("src=\"map%20of%20faces.png\""));
        assert!(html.contains("work/ &amp; co"));
        assert!(html.contains("12\u{2009}345"));
        assert!(html.contains("mouth: smile &lt;92 %&gt;"));
    }

    #[test]
    fn absent_sections_are_left_out() {
        let html = full().to_html().unwrap();
        assert!(html.contains("id=\"model\""));
        assert!(!html.contains("id=\"evaluation\""));
        let bare = Report {
            title: "t".into(),
            ..Report::default()
        }
        .to_html()
        .unwrap();
        for id in [
            "data",
            "model",
            "clusters",
            "evaluation",
            "figures",
            "scores",
            "settings",
        ] {
            assert!(!bare.contains(&format!("id=\"{id}\"")), "{id} present");
        }
    }

    #[test]
    fn cluster_table_is_largest_first_with_noise_last() {
        let html = full().to_html().unwrap();
        let one = html.find("</span>1</td>").unwrap();
        let three = html.find("</span>3</td>").unwrap();
        let noise = html.find("</span>noise</td>").unwrap();
        assert!(one < three && three < noise);
        assert!(html.contains("57.1 %"), "20 of 35");
    }

    #[test]
    fn links_must_be_relative() {
        for bad in ["/abs/x.png", "../x.png", "C:\\x.png", "http://x/y.png", ""] {
            let mut r = full();
            r.figures[0].src = bad.into();
            let e = r.to_html().unwrap_err().to_string();
            assert!(e.contains("relative"), "{bad}: {e}");
        }
    }
}
