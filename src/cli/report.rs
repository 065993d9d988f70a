//! Errors, rendered once: the message, its causes, and a hint naming a command to try.
//! The exit code comes from the variant, here and nowhere else:
//! 0 ok, 1 failed, 2 usage / config / ref syntax, 3 integrity, 130 interrupted.

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
        | Error::ReadOnlyRoot { .. }
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

/// What to check when an S3 request failed, judged from the error's types: object_store's
/// variants and its HTTP client's error kinds, reqwest's refusal of a plain-http URL, and the
/// S3 protocol's own error codes (`NoSuchBucket`, `SignatureDoesNotMatch`), which are the
/// response body's words, not a library's messages.
fn s3_hint(url: &str, source: &object_store::Error) -> String {
    use object_store::client::{HttpError, HttpErrorKind};

    let mut causes: Vec<&(dyn std::error::Error + 'static)> = vec![source];
    let mut next = std::error::Error::source(source);
    while let Some(c) = next {
        causes.push(c);
        next = c.source();
    }
    let bucket = url
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap_or_default();
    let general = "check the bucket exists, the endpoint in lake.toml, and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY";
    // object_store builds each request from a URL and headers it has checked already; the one
    // builder error left is the client's `https_only`, which refuses a plain-http endpoint.
    // (object_store drops the URL from the error, so its scheme cannot be looked at here.)
    let plain_http_refused = causes.iter().any(|c| {
        c.downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_builder)
    });
    let unreachable = causes.iter().any(|c| {
        c.downcast_ref::<HttpError>().is_some_and(|e| {
            matches!(
                e.kind(),
                HttpErrorKind::Connect | HttpErrorKind::Timeout | HttpErrorKind::Request
            )
        })
    });
    let s3_code = |code: &str| causes.iter().any(|c| c.to_string().contains(code));
    let refused = matches!(
        source,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AccessDenied",
    ]
    .iter()
    .any(|code| s3_code(code));
    if plain_http_refused {
        "the endpoint is plain http://, which S3 clients refuse unless told: set `allow_http = true` under [s3] in lake.toml, or AWS_ALLOW_HTTP=true".to_string()
    } else if s3_code("NoSuchBucket") {
        format!("the bucket `{bucket}` does not exist: create it or fix the URL ({general})")
    } else if refused {
        format!("the server refused the credentials: {general}")
    } else if unreachable {
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
