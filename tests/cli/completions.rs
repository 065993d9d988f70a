//! `lake completions`: the scripts load in the shells and complete subcommands and datasets.

use crate::util::{TestLake, orders_csv, text};

/// Source the bash script, complete `words` (the last one being typed) and list the candidates.
fn bash_complete(lake: &TestLake, script: &str, words: &[&str]) -> Vec<String> {
    let bin = assert_cmd::cargo::cargo_bin("lake");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let body = format!(
        "source {script}\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n\
         $(complete -p lake | sed -E 's/.*-F ([^ ]+).*/\\1/') lake '{cur}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        cword = words.len() - 1,
        line = words.join(" "),
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let out = std::process::Command::new("bash")
        .current_dir(lake.path())
        .env("PATH", path)
        .args(["--norc", "-c", &body])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    text(&out).0.lines().map(str::to_string).collect()
}

#[test]
fn bash_completion_loads_and_completes_commands_datasets_and_tags() {
    let lake = TestLake::new();
    lake.write("orders.csv", orders_csv(10, 0));
    lake.cmd(["ingest", "orders.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    lake.cmd(["tag", "bronze.orders@v1", "golden"])
        .assert()
        .success();
    let out = lake.cmd(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = lake.write("lake.bash", &out.stdout);
    let script = script.to_str().unwrap();

    let got = bash_complete(&lake, script, &["lake", "sh"]);
    assert_eq!(got, ["show"], "lake sh<TAB>");
    let got = bash_complete(&lake, script, &["lake", "show", "bro"]);
    assert!(got.contains(&"bronze.orders".to_string()), "{got:?}");
    let got = bash_complete(&lake, script, &["lake", "show", "bronze.orders@"]);
    assert!(got.contains(&"bronze.orders@golden".to_string()), "{got:?}");
    let got = bash_complete(&lake, script, &["lake", "erase", "--all"]);
    assert!(got.contains(&"--all-versions".to_string()), "{got:?}");
    // Outside a lake, a TAB prints nothing and no error.
    let out = lake
        .cmd(["__complete", "refs"])
        .arg("-C")
        .arg("/")
        .output()
        .unwrap();
    assert!(out.status.success());

    for (shell, says) in [("zsh", "#compdef lake"), ("fish", "complete -c lake")] {
        let out = lake.cmd(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        assert!(text(&out).0.contains(says), "{shell}");
    }
}
