//! Settings written once. A stage's settings are one serde struct (its `pipeline.toml` section,
//! nested structs for sub-tables such as `[train.model]`) whose fields carry a doc comment and
//! a default (`SmartDefault`). Its JSON schema (`schemars`) gives everything else:
//!
//! - one flag per key, named after its path (`--seed`, `--model.latent`), with the doc comment
//!   as help and the real default shown;
//! - the merge: the struct's defaults, then the config's section, then the flags given on the
//!   command line, deserialised once, so an unknown key or a wrong type is an error naming the
//!   file and the section.
//!
//! Adding a setting is adding a field; nothing here or in the binaries lists it again.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as Json;

use crate::{ConfigError, PipelineConfig};

/// What a settings struct must be: a section of `pipeline.toml` with defaults and a schema.
pub trait Settings: Serialize + DeserializeOwned + JsonSchema + Default {}
impl<T: Serialize + DeserializeOwned + JsonSchema + Default> Settings for T {}

/// The type of a key's value, as its flag parses it.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Bool,
    Integer,
    Number,
    String,
    /// one of these strings
    Choice(Vec<String>),
    /// a list of strings, comma-separated on the command line
    StringList,
}

/// One setting of a section.
#[derive(Debug, Clone)]
pub struct Key {
    /// keys from the section down: `["model", "latent"]` is `[train.model] latent`
    pub path: Vec<String>,
    pub kind: Kind,
    /// the doc comment
    pub doc: String,
    /// the default, as TOML writes it
    pub default: String,
}

impl Key {
    /// The clap id and the dotted key: `model.latent`.
    pub fn id(&self) -> String {
        self.path.join(".")
    }

    /// The flag, without its dashes: `model.latent`, `max-steps`.
    pub fn flag(&self) -> String {
        self.id().replace('_', "-")
    }

    fn arg(&self, section: &str) -> Arg {
        let heading = match self.path.len() {
            1 => format!("Settings ([{section}] in pipeline.toml)"),
            n => format!("Settings ([{section}.{}])", self.path[..n - 1].join(".")),
        };
        let arg = Arg::new(self.id())
            .long(self.flag())
            .help(format!(
                "{} [default: {}]",
                self.doc,
                self.default.trim_matches('"')
            ))
            .help_heading(heading)
            .num_args(1);
        match &self.kind {
            Kind::Bool => arg
                .value_parser(clap::value_parser!(bool))
                .value_name("BOOL"),
            Kind::Integer => arg.value_parser(clap::value_parser!(i64)).value_name("N"),
            Kind::Number => arg.value_parser(clap::value_parser!(f64)).value_name("X"),
            Kind::String => arg.value_name("TEXT"),
            Kind::Choice(v) => {
                arg.value_name("CHOICE")
                    .value_parser(clap::builder::PossibleValuesParser::new(
                        v.iter()
                            .map(|s| clap::builder::PossibleValue::new(s.clone())),
                    ))
            }
            Kind::StringList => arg
                .value_name("A,B,...")
                .value_delimiter(',')
                .action(ArgAction::Append),
        }
    }

    /// The value given to this key's flag, as TOML.
    fn value(&self, m: &ArgMatches) -> Option<toml::Value> {
        let id = self.id();
        Some(match &self.kind {
            Kind::Bool => toml::Value::Boolean(*m.get_one::<bool>(&id)?),
            Kind::Integer => toml::Value::Integer(*m.get_one::<i64>(&id)?),
            Kind::Number => toml::Value::Float(*m.get_one::<f64>(&id)?),
            Kind::String | Kind::Choice(_) => {
                toml::Value::String(m.get_one::<String>(&id)?.clone())
            }
            Kind::StringList => toml::Value::Array(
                m.get_many::<String>(&id)?
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.clone()))
                    .collect(),
            ),
        })
    }
}

/// Every key of `T`, in the order of its fields.
pub fn keys<T: JsonSchema>() -> Vec<Key> {
    let schema = schemars::schema_for!(T);
    let root = schema.as_value();
    let mut out = Vec::new();
    walk(root, root, &mut Vec::new(), &mut out);
    out
}

/// Follows a `$ref` into the root's `$defs`.
fn resolve<'a>(root: &'a Json, s: &'a Json) -> &'a Json {
    match s.get("$ref").and_then(Json::as_str) {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs")?.get(name))
            .unwrap_or(s),
        None => s,
    }
}

fn walk(root: &Json, schema: &Json, path: &mut Vec<String>, out: &mut Vec<Key>) {
    let Some(props) = resolve(root, schema)
        .get("properties")
        .and_then(Json::as_object)
    else {
        return;
    };
    for (name, prop) in props {
        path.push(name.clone());
        let target = resolve(root, prop);
        if target.get("properties").is_some() {
            walk(root, prop, path, out);
        } else {
            out.push(Key {
                path: path.clone(),
                kind: kind(target),
                doc: doc(prop).or_else(|| doc(target)).unwrap_or_default(),
                default: prop.get("default").map(toml_text).unwrap_or_default(),
            });
        }
        path.pop();
    }
}

fn doc(s: &Json) -> Option<String> {
    let part = |k: &str| {
        s.get(k)
            .and_then(Json::as_str)
            .map(|t| t.replace('\n', " "))
    };
    match (part("title"), part("description")) {
        (Some(t), Some(d)) => Some(format!("{t}. {d}")),
        (t, d) => t.or(d),
    }
}

fn kind(s: &Json) -> Kind {
    let strings = |v: &Json| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    if let Some(e) = s.get("enum") {
        return Kind::Choice(strings(e));
    }
    if let Some(one) = s.get("oneOf").and_then(Json::as_array) {
        let mut v = Vec::new();
        for o in one {
            match (o.get("const").and_then(Json::as_str), o.get("enum")) {
                (Some(c), _) => v.push(c.to_string()),
                (None, Some(e)) => v.extend(strings(e)),
                _ => {}
            }
        }
        return Kind::Choice(v);
    }
    match s.get("type").and_then(Json::as_str) {
        Some("boolean") => Kind::Bool,
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        Some("array") => Kind::StringList,
        _ => Kind::String,
    }
}

/// A JSON default as TOML writes it (`"grid"`, `0.005`, `["a", "b"]`).
fn toml_text(v: &Json) -> String {
    match v {
        Json::String(s) => format!("{s:?}"),
        Json::Array(a) => format!(
            "[{}]",
            a.iter().map(toml_text).collect::<Vec<_>>().join(", ")
        ),
        // an f32 default widened to f64 prints as 0.15000000596046448: print it as the f32
        Json::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or_default();
            let short = x as f32;
            if f64::from(short) == x {
                format!("{short:?}")
            } else {
                format!("{x:?}")
            }
        }
        other => other.to_string(),
    }
}

/// `cmd` with one flag per key of `T`.
pub fn with_flags<T: JsonSchema>(mut cmd: Command, section: &str) -> Command {
    for k in keys::<T>() {
        cmd = cmd.arg(k.arg(section));
    }
    cmd
}

/// `T` from its defaults, the config's `[section]` and the flags given in `m`, in that order.
pub fn resolve_settings<T: Settings>(
    config: &PipelineConfig,
    section: &str,
    m: &ArgMatches,
) -> Result<T, ConfigError> {
    let mut table = match config.raw_section(section) {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => {
            return Err(ConfigError::Section {
                path: config.display_path(),
                section: section.to_string(),
                message: "must be a table".into(),
            })
        }
    };
    let mut from_flags = false;
    for k in keys::<T>() {
        if m.value_source(&k.id()) != Some(ValueSource::CommandLine) {
            continue;
        }
        let Some(v) = k.value(m) else { continue };
        from_flags = true;
        let (leaf, parents) = k.path.split_last().expect("a key has a name");
        let mut t = &mut table;
        for p in parents {
            let entry = t
                .entry(p.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            t = entry.as_table_mut().expect("made a table above");
        }
        t.insert(leaf.clone(), v);
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Section {
            path: if from_flags {
                PathBuf::from(format!("{} and the flags", config.display_path().display()))
            } else {
                config.display_path()
            },
            section: section.to_string(),
            message: e.to_string().trim().to_string(),
        })
}

/// Parses a stage's command line: its own arguments `C` (which must have `--config`) and one
/// flag per key of its settings `T`, merged with the config file as [`resolve_settings`] does.
/// Exits with clap's message on `--help` or a bad flag.
pub fn parse<C: clap::Parser, T: Settings>(section: &str) -> Result<(C, T), ConfigError> {
    parse_from(section, std::env::args_os())
}

/// [`parse`] over the given arguments (the first is the program's name).
pub fn parse_from<C: clap::Parser, T: Settings, I, A>(
    section: &str,
    args: I,
) -> Result<(C, T), ConfigError>
where
    I: IntoIterator<Item = A>,
    A: Into<std::ffi::OsString> + Clone,
{
    let cmd = with_flags::<T>(C::command(), section);
    let m = cmd.get_matches_from(args);
    let cli = C::from_arg_matches(&m).unwrap_or_else(|e| e.exit());
    let config = PipelineConfig::load(m.get_one::<PathBuf>("config").map(PathBuf::as_path))?;
    let settings = resolve_settings(&config, section, &m)?;
    Ok((cli, settings))
}

/// The settings as `pipeline.toml` would write them (for summaries and tests).
pub fn to_toml<T: Serialize>(settings: &T) -> String {
    toml::to_string(settings).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use smart_default::SmartDefault;

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Pool {
        /// the last state
        Last,
        /// the mean
        Mean,
    }

    /// Inner group.
    #[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema, SmartDefault)]
    #[serde(default, deny_unknown_fields)]
    struct Model {
        /// Latent width.
        #[default(128)]
        latent: usize,
        /// How to pool.
        #[default(Pool::Last)]
        pool: Pool,
        /// Learning rate.
        #[default(0.005)]
        learning_rate: f64,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema, SmartDefault)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        /// The seed.
        #[default(7)]
        seed: u64,
        /// Words kept.
        #[default(vec!["face".into()])]
        word: Vec<String>,
        /// Whether.
        #[default(true)]
        bidirectional: bool,
        model: Model,
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(short, long)]
        output: PathBuf,
    }

    #[test]
    fn keys_follow_the_fields() {
        let ks = keys::<Demo>();
        let ids: Vec<String> = ks.iter().map(Key::id).collect();
        assert_eq!(
            ids,
            [
                "seed",
                "word",
                "bidirectional",
                "model.latent",
                "model.pool",
                "model.learning_rate"
            ]
        );
        assert_eq!(ks[3].flag(), "model.latent");
        assert_eq!(ks[5].flag(), "model.learning-rate");
        assert_eq!(ks[0].default, "7");
        assert_eq!(ks[1].default, "[\"face\"]");
        assert_eq!(ks[1].kind, Kind::StringList);
        assert_eq!(ks[2].kind, Kind::Bool);
        assert_eq!(ks[4].kind, Kind::Choice(vec!["last".into(), "mean".into()]));
        assert_eq!(ks[4].default, "\"last\"");
        assert_eq!(ks[5].kind, Kind::Number);
        assert_eq!(ks[3].doc, "Latent width.");
    }

    fn config(text: &str) -> PipelineConfig {
        PipelineConfig::from_str(text, Some(std::path::Path::new("p.toml"))).unwrap()
    }

    fn matches(args: &[&str]) -> ArgMatches {
        with_flags::<Demo>(<Cli as clap::CommandFactory>::command(), "demo")
            .try_get_matches_from(std::iter::once("demo").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn defaults_then_config_then_flags() {
        let m = matches(&["-o", "x"]);
        let d: Demo = resolve_settings(&PipelineConfig::default(), "demo", &m).unwrap();
        assert_eq!(d, Demo::default());

        let c = config("[demo]\nseed = 3\n[demo.model]\nlatent = 16\npool = \"mean\"\n");
        let d: Demo = resolve_settings(&c, "demo", &m).unwrap();
        assert_eq!((d.seed, d.model.latent, d.model.pool), (3, 16, Pool::Mean));
        assert_eq!(d.model.learning_rate, 0.005);

        let m = matches(&[
            "-o",
            "x",
            "--seed",
            "9",
            "--model.latent",
            "4",
            "--word",
            "cat,dog",
            "--bidirectional",
            "false",
            "--model.learning-rate",
            "0.1",
        ]);
        let d: Demo = resolve_settings(&c, "demo", &m).unwrap();
        assert_eq!((d.seed, d.model.latent, d.model.pool), (9, 4, Pool::Mean));
        assert_eq!(d.word, ["cat", "dog"]);
        assert!(!d.bidirectional);
        assert_eq!(d.model.learning_rate, 0.1);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let m = matches(&["-o", "x"]);
        let e = resolve_settings::<Demo>(&config("[demo.model]\nlatnet = 3\n"), "demo", &m)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("p.toml") && e.contains("[demo]") && e.contains("latnet"),
            "{e}"
        );
        let e = resolve_settings::<Demo>(&config("[demo]\nseed = \"x\"\n"), "demo", &m)
            .unwrap_err()
            .to_string();
        assert!(e.contains("seed"), "{e}");
        // a flag's value is checked by its type before anything runs
        let bad = with_flags::<Demo>(<Cli as clap::CommandFactory>::command(), "demo")
            .try_get_matches_from(["demo", "-o", "x", "--model.pool", "max"]);
        assert!(bad.is_err());
    }

    #[test]
    fn help_lists_every_key_with_its_default() {
        let mut cmd = with_flags::<Demo>(<Cli as clap::CommandFactory>::command(), "demo");
        let help = cmd.render_long_help().to_string();
        for k in keys::<Demo>() {
            assert!(help.contains(&format!("--{}", k.flag())), "{help}");
        }
        assert!(
            help.contains("[default: 128]") && help.contains("[demo.model]"),
            "{help}"
        );
    }
}
