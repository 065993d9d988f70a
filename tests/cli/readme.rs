//! The README's walkthrough, run exactly as written on the sample data.

use std::path::Path;

use crate::util::{copy_dir, text};

/// The shell block between `<!-- walkthrough -->` and `<!-- /walkthrough -->` in README.md.
fn walkthrough() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("<!-- walkthrough -->")
        .expect("a walkthrough in the README");
    let end = readme
        .find("<!-- /walkthrough -->")
        .expect("the walkthrough's end");
    let block = &readme[start..end];
    let body = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.rsplit_once("```"))
        .expect("one sh block")
        .0;
    body.to_string()
}

#[test]
fn the_readme_walkthrough_runs_as_written_on_the_sample_data() {
    let script = walkthrough();
    assert!(script.lines().count() > 20, "{script}");
    // A copy of the repository's root as far as the walkthrough reads it: the examples.
    let root = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    copy_dir(&examples.join("data"), &root.path().join("examples/data"));
    copy_dir(&examples.join("jobs"), &root.path().join("examples/jobs"));
    let bin = assert_cmd::cargo::cargo_bin("lake");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Line by line with -x, so a failure names the command that failed.
    let out = std::process::Command::new("bash")
        .current_dir(root.path())
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("LAKE_DIR")
        .env_remove("LAKE_NOW")
        .args(["-euxo", "pipefail", "-c", &script])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "the walkthrough failed:\n{stdout}\n{stderr}"
    );
    // What the commands say is what the sample lake has.
    for expected in [
        "bronze.orders@v2",
        "gold.customer_features@v1",
        "silver.orders_clean",
        "train-2026-11",
    ] {
        assert!(stdout.contains(expected), "{expected} not in:\n{stdout}");
    }
    let shop = root.path().join("shop");
    let shard = std::fs::read_to_string(shop.join("shard0.csv")).unwrap();
    assert!(shard.lines().count() > 10, "{shard}");
    assert!(shop.join("lake.lock").exists());
}
