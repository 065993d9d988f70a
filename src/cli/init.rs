//! `lake init [DIR] [--root URL] [--archive URL]`

use std::path::{Path, PathBuf};

use lake::{Config, Lake};
use serde::Serialize;

use super::Failure;
use super::printer::Printer;

const CONFIG_NAME: &str = "lake.toml";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project folder (default: the current one, or -C DIR).
    #[arg(value_name = "DIR")]
    path: Option<PathBuf>,
    /// Where data lives: a folder, s3://bucket/prefix, az://container/prefix, gs://bucket/prefix,
    /// https://host/path (read-only) or memory://.
    #[arg(long, value_name = "URL")]
    root: Option<String>,
    /// The cold tier for archived versions.
    #[arg(long, value_name = "URL")]
    archive: Option<String>,
    /// For s3:// roots: the endpoint of an S3-compatible server (MinIO, SeaweedFS, R2, …).
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// For s3:// roots: the region.
    #[arg(long, value_name = "REGION")]
    s3_region: Option<String>,
    /// For s3:// roots: allow a plain-http endpoint.
    #[arg(long)]
    s3_allow_http: bool,
}

#[derive(Serialize)]
struct InitReport {
    config: PathBuf,
    root: String,
    archive: String,
    catalog: PathBuf,
    /// The `.gitignore` written or added to, if any line was missing.
    gitignore: Option<PathBuf>,
    warnings: Vec<String>,
}

/// Keep what a lake writes out of version control: the catalog's folder (catalog, spool) and
/// local data tiers inside the project. Lines already there are left as they are.
fn write_gitignore(dir: &Path, config: &Config) -> Result<Option<PathBuf>, Failure> {
    let mut wanted = Vec::new();
    let catalog = Path::new(&config.lake.catalog);
    if let Some(first) = catalog.components().next()
        && catalog.is_relative()
    {
        let first = first.as_os_str().to_string_lossy();
        wanted.push(if catalog.components().count() > 1 {
            format!("/{first}/")
        } else {
            format!("/{first}")
        });
        if catalog.components().count() == 1 {
            wanted.push(format!("/{first}-*"));
        }
    }
    for tier in [&config.lake.root, &config.lake.archive] {
        let local = !tier.contains("://") && Path::new(tier).is_relative();
        if local && !tier.starts_with("..") {
            wanted.push(format!("/{}/", tier.trim_end_matches('/')));
        }
    }
    let path = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let have: Vec<&str> = existing.lines().map(str::trim).collect();
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|w| !have.contains(&w.as_str()))
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let mut text = existing.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(
        "# lake: the catalog and local data tiers (lake.lock files are meant to be kept)\n",
    );
    for m in missing {
        text.push_str(m);
        text.push('\n');
    }
    std::fs::write(&path, text).map_err(|source| lake::Error::Io {
        path: path.clone(),
        source,
    })?;
    Ok(Some(path))
}

pub fn run(start: &Path, args: Args, p: Printer) -> Result<(), Failure> {
    let dir = match &args.path {
        Some(d) => start.join(d),
        None => start.to_path_buf(),
    };
    let mut config = Config::new(args.root, args.archive);
    config.s3.endpoint = args.s3_endpoint;
    config.s3.region = args.s3_region;
    config.s3.allow_http = args.s3_allow_http.then_some(true);
    let config_path = Lake::init(&dir, config.clone())?;
    let lake = Lake::open(&dir)?;
    let gitignore = write_gitignore(&dir, lake.config())?;
    let report = InitReport {
        config: config_path.canonicalize().unwrap_or(config_path),
        root: lake.root_url().to_string(),
        archive: lake.archive_url().to_string(),
        catalog: lake.catalog_path(),
        gitignore,
        warnings: vec![format!(
            "{} holds the salt of pseudonymize() and mask_email() ([promote] salt): with it, \
             pseudonyms of guessable values can be reversed; keep the file out of public repositories",
            CONFIG_NAME
        )],
    };
    if p.json {
        p.json(&report);
    } else {
        p.out(format!("✓ created lake {}", report.config.display()));
        p.out(format!("  root     {}", report.root));
        p.out(format!("  archive  {}", report.archive));
        p.out(format!("  catalog  {}", report.catalog.display()));
        if let Some(g) = &report.gitignore {
            p.out(format!(
                "  ignored  the catalog and local data in {}",
                g.display()
            ));
        }
        for w in &report.warnings {
            p.status(format!("! {w}"));
        }
    }
    Ok(())
}
