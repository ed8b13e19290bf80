//! What every stage binary shares: loading `pipeline.toml`, its settings as flags
//! ([`settings`]), locks on outputs, progress bars that stay quiet off a terminal, and logging.
//!
//! Each stage owns its section (`[ingest]`, `[train]`, ...) as one serde struct with defaults;
//! [`settings::parse`] merges it with the config file and the flags, refusing unknown keys with
//! the file's name, so a typo in `pipeline.toml` is an error rather than a silently ignored
//! setting.

pub mod alloc;
pub mod lock;
pub mod settings;

pub use lock::{LockError, OutputLock};
pub use settings::Settings;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use indicatif::ProgressBar;
use indicatif::{ProgressDrawTarget, ProgressStyle};
use serde::de::DeserializeOwned;

/// The default config file, looked up in the current folder.
pub const DEFAULT_CONFIG: &str = "pipeline.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: section [{section}]: {message}")]
    Section {
        path: PathBuf,
        section: String,
        message: String,
    },
}

/// A parsed `pipeline.toml` (or an empty one when there is none).
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    path: Option<PathBuf>,
    table: toml::Table,
}

impl PipelineConfig {
    /// Loads `explicit` when given (it must exist), else `pipeline.toml` in the current folder
    /// when present, else an empty config (every stage's defaults).
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        match explicit {
            Some(p) => Self::from_file(p),
            None if Path::new(DEFAULT_CONFIG).is_file() => {
                Self::from_file(Path::new(DEFAULT_CONFIG))
            }
            None => Ok(Self::default()),
        }
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_str(&text, Some(path))
    }

    pub fn from_str(text: &str, path: Option<&Path>) -> Result<Self, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| "<config>".into()),
                message: e.to_string(),
            })?;
        Ok(PipelineConfig {
            path: path.map(Path::to_path_buf),
            table,
        })
    }

    /// Where the config came from, if from a file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn display_path(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| "<defaults>".into())
    }

    /// The section `name` as `T` (its `Default` where the section is absent). `T` should be
    /// `#[serde(default, deny_unknown_fields)]`.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        match self.table.get(name) {
            None => Ok(T::default()),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Section {
                    path: self.display_path(),
                    section: name.to_string(),
                    message: e.to_string(),
                }),
        }
    }

    /// The raw section, for stages that read it themselves.
    pub fn raw_section(&self, name: &str) -> Option<&toml::Value> {
        self.table.get(name)
    }

    /// The work folder (`[paths] work_dir`, default `work`).
    pub fn work_dir(&self) -> PathBuf {
        self.table
            .get("paths")
            .and_then(|p| p.get("work_dir"))
            .and_then(|v| v.as_str())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("work"))
    }
}

/// True when progress bars should draw (stderr is a terminal).
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// A progress bar over `len` items (hidden when stderr is not a terminal).
pub fn progress(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), draw_target());
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{prefix:>8}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{per_sec}} eta {{eta}} {{msg}}"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A spinner for work of unknown length (bytes read, for example).
pub fn spinner(template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, draw_target());
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn draw_target() -> ProgressDrawTarget {
    if interactive() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// What a stage binary calls first: logging, and the allocator's settings ([`alloc`]).
pub fn init() {
    alloc::configure();
    init_logging();
}

/// Logs to stderr; `RUST_LOG` chooses the level (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // colour codes only for a terminal: a log redirected to a file stays plain text
        .with_ansi(interactive())
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        seed: u64,
        name: String,
    }

    #[test]
    fn sections_defaults_and_unknown_keys() {
        let c = PipelineConfig::from_str(
            "[paths]\nwork_dir = \"w\"\n[demo]\nseed = 3\n[bad]\nsede = 1\n",
            Some(Path::new("p.toml")),
        )
        .unwrap();
        assert_eq!(c.work_dir(), PathBuf::from("w"));
        assert_eq!(
            c.section::<Demo>("demo").unwrap(),
            Demo {
                seed: 3,
                name: String::new()
            }
        );
        assert_eq!(c.section::<Demo>("absent").unwrap(), Demo::default());
        let e = c.section::<Demo>("bad").unwrap_err().to_string();
        assert!(
            e.contains("p.toml") && e.contains("[bad]") && e.contains("sede"),
            "{e}"
        );
        let e = PipelineConfig::from_str("x = [", Some(Path::new("q.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("q.toml"), "{e}");
    }
}
