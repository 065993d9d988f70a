//! `lake init [DIR] [--root URL] [--archive URL]`

use std::path::{Path, PathBuf};

use lake::{Config, Lake};
use serde::Serialize;

use super::Failure;
use super::printer::Printer;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project folder (default: the current one, or -C DIR).
    #[arg(value_name = "DIR")]
    path: Option<PathBuf>,
    /// Where data lives: a folder, s3://bucket/prefix or memory://.
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
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct InitReport {
    config: PathBuf,
    root: String,
    archive: String,
    catalog: PathBuf,
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
    let report = InitReport {
        config: config_path.canonicalize().unwrap_or(config_path),
        root: lake.storage().url().to_string(),
        archive: lake.archive().url().to_string(),
        catalog: lake.catalog().path().to_path_buf(),
    };
    if p.json {
        p.json(&report);
    } else {
        p.out(format!("✓ created lake {}", report.config.display()));
        p.out(format!("  root     {}", report.root));
        p.out(format!("  archive  {}", report.archive));
        p.out(format!("  catalog  {}", report.catalog.display()));
    }
    Ok(())
}
