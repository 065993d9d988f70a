//! Errors, rendered once: the message, its causes, and a hint naming a command to try.
//! The exit code comes from the variant, here and nowhere else:
//! 0 ok, 1 failed, 2 usage / config / ref syntax, 3 integrity, 130 interrupted.

use std::error::Error as _;

use lake::Error;

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_INTEGRITY: i32 = 3;
pub const EXIT_INTERRUPTED: i32 = 130;

pub fn exit_code(e: &Error) -> i32 {
    match e {
        Error::InvalidName { .. }
        | Error::InvalidRef { .. }
        | Error::WrongZone { .. }
        | Error::LakeNotFound { .. }
        | Error::ConfigParse { .. }
        | Error::ConfigInvalid { .. }
        | Error::StorageUrl { .. }
        | Error::UnknownFormat { .. }
        | Error::NotAQuery { .. }
        | Error::InvalidAge { .. }
        | Error::InvalidGlob { .. }
        | Error::NoJobMatches { .. }
        | Error::TiersOverlap { .. }
        | Error::WorkerAddress { .. } => EXIT_USAGE,
        Error::Integrity { .. } | Error::VersionUnreadable { .. } => EXIT_INTEGRITY,
        Error::Interrupted => EXIT_INTERRUPTED,
        _ => EXIT_FAILED,
    }
}

/// A hint for the user, where one command would help.
fn hint(e: &Error) -> Option<String> {
    Some(match e {
        Error::LakeNotFound { .. } => {
            "`lake init` creates a lake here; `-C DIR` or LAKE_DIR points at another".into()
        }
        Error::LakeExists { .. } => {
            "the lake is kept as it is; `lake ls` shows what it holds".into()
        }
        Error::DatasetNotFound { .. } => "`lake ls` lists the datasets".into(),
        Error::WorkerUnreachable { .. } => {
            "start `lake worker --bind HOST:PORT` there, or leave it out of --workers / `[promote] workers`".into()
        }
        Error::RunNotFound { .. } => "`lake runs` lists the runs".into(),
        Error::InputAmended { .. } => "run it again: it reads the amended version".into(),
        Error::EraseContended { .. } => {
            "run `lake erase` again with the same --where once the writers pause; `lake erase --log` shows what was done".into()
        }
        Error::VersionNotFound { dataset, .. } => {
            format!("`lake log {dataset}` lists its versions")
        }
        Error::MoveInProgress { .. } | Error::LeaseLost { .. } => {
            "another lifecycle command is moving these files; run this again once it ends (`lake check` lists moves in progress)".into()
        }
        Error::CommitConflict { .. } => {
            "run the command again; it will take the next number".into()
        }
        Error::Storage { url, source, .. } if url.starts_with("s3://") => s3_hint(url, source),
        Error::Integrity { .. } | Error::VersionUnreadable { .. } => {
            "`lake check --verify-hashes` compares the catalog with both tiers, byte for byte"
                .into()
        }
        Error::Query { .. } if e.is_out_of_memory() => {
            "the query needs more memory than `[promote] memory_mb` in lake.toml allows; raise it, or let the query hold less (fewer columns, a narrower GROUP BY)".into()
        }
        Error::VersionArchived { version, .. } => {
            format!("`lake restore {version}` brings it back")
        }
        Error::UnknownTable { .. } | Error::UnknownDataset { .. } => {
            "`lake ls` lists the datasets".into()
        }
        Error::NotAQuery { .. } => {
            "`lake query` runs one SELECT; datasets change through `lake ingest` and `lake promote`"
                .into()
        }
        Error::NoSourceFiles { .. } | Error::UnknownFormat { .. } => {
            "name files directly, or pass --format csv|ndjson|json|parquet".into()
        }
        _ => return None,
    })
}

/// What to check when an S3 request failed, judged from what the server (or the network) said.
fn s3_hint(url: &str, source: &object_store::Error) -> String {
    let mut said = source.to_string();
    let mut cause = source.source();
    while let Some(c) = cause {
        said.push_str(&c.to_string());
        cause = c.source();
    }
    let bucket = url
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap_or_default();
    let general = "check the bucket exists, the endpoint in lake.toml, and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY";
    if said.contains("scheme is not allowed") {
        "the endpoint is plain http://, which S3 clients refuse unless told: set `allow_http = true` under [s3] in lake.toml, or AWS_ALLOW_HTTP=true".to_string()
    } else if said.contains("NoSuchBucket") {
        format!("the bucket `{bucket}` does not exist: create it or fix the URL ({general})")
    } else if [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AccessDenied",
        "403 Forbidden",
    ]
    .iter()
    .any(|s| said.contains(s))
    {
        format!("the server refused the credentials: {general}")
    } else if ["Connect", "dns error", "error sending request", "timed out"]
        .iter()
        .any(|s| said.contains(s))
    {
        format!(
            "nothing answered: check the server runs and the endpoint ([s3] endpoint in lake.toml, or AWS_ENDPOINT_URL); {general}"
        )
    } else {
        general.to_string()
    }
}

/// Print `e` to stderr; returns the exit code.
pub fn render(e: &Error) -> i32 {
    let causes = e.causes();
    let mut text = format!("error: {}", causes[0]);
    for cause in &causes[1..] {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    if let Some(h) = hint(e) {
        text.push_str(&format!("\n\nhint: {h}"));
    }
    eprintln!("{text}");
    exit_code(e)
}
