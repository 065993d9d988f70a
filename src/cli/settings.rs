//! `lake config [list|get KEY] [--show-origin]`: the project's settings as every command sees
//! them, `lake.toml` with the `LAKE_*` variables over it, and where each value came from.

use std::path::Path;

use lake::Lake;
use lake::config::{self, Config, KEYS, Origin, Setting};
use serde::Serialize;

use super::printer::{Printer, table};
use super::{Failure, report};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  lake config                                  # every setting and its value
  lake config list --show-origin               # and whether lake.toml, LAKE_* or the default set it
  lake config get ingest.target_file_mb
  LAKE_INGEST_TARGET_FILE_MB=64 lake ingest orders.csv --into bronze.orders

Every one-value key of lake.toml has a variable: [ingest] target_file_mb is
LAKE_INGEST_TARGET_FILE_MB, [lake] root is LAKE_ROOT. A variable wins over the file.")]
pub struct Args {
    #[command(subcommand)]
    command: Option<ConfigCommand>,
}

#[derive(Debug, clap::Subcommand)]
enum ConfigCommand {
    /// Every setting with its value (the default command).
    List(ListArgs),
    /// One setting's value; exit 1 when nothing sets it and it has no default.
    Get(GetArgs),
}

#[derive(Debug, Default, clap::Args)]
struct ListArgs {
    /// Say where each value came from: the file, a LAKE_* variable, or the default.
    #[arg(long)]
    show_origin: bool,
}

#[derive(Debug, clap::Args)]
struct GetArgs {
    /// A dotted key, such as ingest.target_file_mb.
    key: String,
    /// Say where the value came from.
    #[arg(long)]
    show_origin: bool,
}

/// The salt keys `pseudonymize()`: `list` does not print it, `get` does.
const HIDDEN: &str = "promote.salt";

#[derive(Serialize)]
struct Listing<'a> {
    settings: Vec<&'a Setting>,
}

pub fn run(start: &Path, args: &Args, p: Printer) -> Result<(), Failure> {
    let dir = config::find_project(start)?;
    let (_, mut settings) = Config::load_with_origins(&dir.join(config::CONFIG_FILE))?;
    let list = ListArgs::default();
    match args.command.as_ref() {
        None => list_settings(&mut settings, &list, &dir, p),
        Some(ConfigCommand::List(a)) => list_settings(&mut settings, a, &dir, p),
        Some(ConfigCommand::Get(a)) => {
            let Some(setting) = settings.iter().find(|s| s.key == a.key) else {
                let near: Vec<String> = KEYS
                    .iter()
                    .map(|k| k.key())
                    .filter(|k| {
                        k.ends_with(&format!(".{}", a.key))
                            || k.starts_with(&a.key)
                            || lake::ident::edit_distance(k, &a.key) <= 2
                    })
                    .collect();
                let hint = match near.first() {
                    Some(k) => format!("; did you mean `{k}`?"),
                    None => String::new(),
                };
                return Err(Failure::usage(&format!(
                    "no setting `{}`{hint} (`lake config list` shows them all)",
                    a.key
                )));
            };
            if p.json {
                p.json(&Listing {
                    settings: vec![setting],
                });
            } else if let Some(value) = &setting.value {
                let shown = plain(value);
                if a.show_origin {
                    p.out(format!("{}\t{shown}", origin(&setting.origin, &dir)));
                } else {
                    p.out(shown);
                }
            }
            match setting.value {
                Some(_) => Ok(()),
                None => Err(Failure::silent(report::EXIT_FAILED)),
            }
        }
    }
}

fn list_settings(
    settings: &mut [Setting],
    args: &ListArgs,
    dir: &Path,
    p: Printer,
) -> Result<(), Failure> {
    for s in settings.iter_mut() {
        if s.key == HIDDEN && s.value.is_some() {
            s.value = Some(toml::Value::String(
                "(hidden: lake config get promote.salt)".into(),
            ));
        }
    }
    if p.json {
        p.json(&Listing {
            settings: settings.iter().collect(),
        });
        return Ok(());
    }
    let rows = settings
        .iter()
        .map(|s| {
            let value = match &s.value {
                Some(v) if s.key == HIDDEN => plain(v),
                Some(v) => v.to_string(),
                None => "(unset)".into(),
            };
            let mut row = vec![s.key.clone(), value];
            if args.show_origin {
                row.insert(0, origin(&s.origin, dir));
            }
            row
        })
        .collect();
    let header: &[&str] = if args.show_origin {
        &["ORIGIN", "KEY", "VALUE"]
    } else {
        &["KEY", "VALUE"]
    };
    p.out(table(header, rows));
    Ok(())
}

/// A value as a shell script wants it: strings without quotes, lists comma-separated.
fn plain(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn origin(origin: &Origin, dir: &Path) -> String {
    match origin {
        Origin::Default => "default".into(),
        Origin::File { path } => {
            format!("file:{}", path.strip_prefix(dir).unwrap_or(path).display())
        }
        Origin::Env { variable } => format!("env:{variable}"),
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    /// Write a consistent copy of the catalog to a new FILE, while other commands go on (for a
    /// reader of the same root elsewhere, such as over HTTP, or a backup).
    #[command(after_help = "Examples:
  lake catalog backup /tmp/catalog.sqlite
  lake catalog backup ../reader/.lake/catalog.sqlite --json")]
    Backup {
        /// The new file (never overwritten).
        file: std::path::PathBuf,
    },
}

pub fn catalog(lake: &Lake, command: &CatalogCommand, p: Printer) -> Result<(), Failure> {
    let CatalogCommand::Backup { file } = command;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| lake::Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let bytes = lake.backup_catalog(file)?;
    if p.json {
        p.json(&serde_json::json!({ "file": file, "bytes": bytes }));
    } else {
        p.out(format!(
            "✓ catalog copied to {} ({bytes} bytes)",
            file.display()
        ));
    }
    Ok(())
}
