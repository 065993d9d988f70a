//! `lake completions`: the scripts load in the shells and complete subcommands and datasets.

use std::path::Path;

use crate::util::{TestLake, orders_csv, text};

/// Source the bash script, complete `words` (the last one being typed) and list the candidates.
fn bash_complete(lake: &TestLake, path: &str, script: &str, words: &[&str]) -> Vec<String> {
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
    let (lake, path, script) = tagged_lake("bash");
    let script = lake.write("lake.bash", script);
    let script = script.to_str().unwrap();

    let got = bash_complete(&lake, &path, script, &["lake", "sh"]);
    assert_eq!(got, ["show"], "lake sh<TAB>");
    let got = bash_complete(&lake, &path, script, &["lake", "show", "bro"]);
    assert!(got.contains(&"bronze.orders".to_string()), "{got:?}");
    let got = bash_complete(&lake, &path, script, &["lake", "show", "bronze.orders@"]);
    assert!(got.contains(&"bronze.orders@golden".to_string()), "{got:?}");
    let got = bash_complete(&lake, &path, script, &["lake", "erase", "--all"]);
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

/// A shell from scripts/test.sh (`LAKE_TEST_ZSH`, `LAKE_TEST_FISH`), or `None` and a
/// "skipping" line.
fn shell(var: &str) -> Option<String> {
    let shell = std::env::var(var).ok().filter(|s| !s.is_empty());
    if shell.is_none() {
        eprintln!("skipping: {var} is not set (scripts/test.sh installs zsh and fish)");
    }
    shell
}

/// A lake with bronze.orders and its tag `golden`; a PATH with the `lake` binary's folder first;
/// the completion script for `shell`.
fn tagged_lake(shell: &str) -> (TestLake, String, Vec<u8>) {
    let lake = TestLake::new();
    lake.write("orders.csv", orders_csv(10, 0));
    lake.cmd(["ingest", "orders.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    lake.cmd(["tag", "bronze.orders@v1", "golden"])
        .assert()
        .success();
    let bin = assert_cmd::cargo::cargo_bin("lake");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = lake.cmd(["completions", shell]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    (lake, path, out.stdout)
}

#[test]
fn zsh_completion_loads_and_completes_commands_datasets_and_tags() {
    let Some(zsh) = shell("LAKE_TEST_ZSH") else {
        return;
    };
    let (lake, path, script) = tagged_lake("zsh");
    // As a file `_lake` on $fpath that compinit autoloads, and as a script sourced from .zshrc.
    let autoloaded = lake.write("zfunc/_lake", &script);
    let sourced = lake.write("lake.zsh", &script);
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/zsh_complete.zsh");
    for script in [autoloaded, sourced] {
        zsh_completes(&zsh, &lake, &path, harness, &script);
    }
}

fn zsh_completes(zsh: &str, lake: &TestLake, path: &str, harness: &str, script: &Path) {
    let line_after_tab = |words: &[&str]| {
        let out = std::process::Command::new(zsh)
            .current_dir(lake.path())
            .env("PATH", path)
            .arg("-f")
            .arg(harness)
            .arg(script)
            .args(words)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script:?} {words:?}: {}",
            text(&out).1
        );
        text(&out).0.trim_end_matches('\n').to_string()
    };
    assert_eq!(
        line_after_tab(&["lake", "sh"]),
        "lake show ",
        "lake sh<TAB>"
    );
    // Two candidates: the TAB fills in what they share.
    assert_eq!(
        line_after_tab(&["lake", "show", "bro"]),
        "lake show bronze.orders"
    );
    assert_eq!(
        line_after_tab(&["lake", "show", "bronze.orders@"]),
        "lake show bronze.orders@golden "
    );
    assert_eq!(
        line_after_tab(&["lake", "erase", "--all"]),
        "lake erase --all-versions "
    );
}

#[test]
fn fish_completion_loads_and_completes_commands_datasets_and_tags() {
    let Some(fish) = shell("LAKE_TEST_FISH") else {
        return;
    };
    let (lake, path, script) = tagged_lake("fish");
    let script = lake.write("lake.fish", script);
    let complete = |line: &str| -> Vec<String> {
        let body = format!("source {}; complete -C '{line}'", script.display());
        let out = std::process::Command::new(&fish)
            .current_dir(lake.path())
            .env("PATH", &path)
            .args(["--no-config", "-c", &body])
            .output()
            .unwrap();
        assert!(out.status.success(), "{line}: {}", text(&out).1);
        // Each candidate, then a tab and its description.
        text(&out)
            .0
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(complete("lake sh"), ["show"], "lake sh<TAB>");
    assert_eq!(
        complete("lake show bro"),
        ["bronze.orders", "bronze.orders@golden"]
    );
    assert!(complete("lake erase --all").contains(&"--all-versions".to_string()));
}

/// The commands `lake --help` lists.
fn commands() -> Vec<String> {
    let lake = TestLake::empty();
    let out = lake.cmd(["--help"]).output().unwrap();
    let help = text(&out).0;
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn every_command_has_examples_in_its_help_and_each_parses() {
    let lake = TestLake::empty();
    let commands = commands();
    assert!(commands.len() > 30, "{commands:?}");
    let mut checked = 0;
    for command in &commands {
        let out = lake.cmd([command.as_str(), "--help"]).output().unwrap();
        let help = text(&out).0;
        let examples: Vec<&str> = help
            .lines()
            .skip_while(|l| !l.starts_with("Examples:"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter(|l| l.trim_start().contains("lake "))
            .collect();
        assert!(
            !examples.is_empty(),
            "`lake {command} --help` has no examples"
        );
        for example in examples {
            // The command as a shell runs it: up to a comment, and the `lake` part of a pipe.
            let line = example.split(" #").next().unwrap();
            let words = shlex::split(line).unwrap_or_else(|| panic!("unbalanced quotes: {line}"));
            let start = words
                .iter()
                .rposition(|w| w == "lake" || w == "<(lake")
                .unwrap_or_else(|| panic!("no lake command in {line}"))
                + 1;
            let args: Vec<String> = words[start..]
                .iter()
                .take_while(|w| !["|", ">", ">>", "<"].contains(&w.as_str()))
                .map(|w| w.trim_end_matches(')').to_string())
                .collect();
            // Every flag and value is parsed up to `--help`, which then prints help: an unknown
            // flag, a bad value or a stray argument fails before it.
            let out = lake.cmd(&args).arg("--help").output().unwrap();
            assert!(
                out.status.success(),
                "`{}` from `lake {command} --help` does not parse: {}",
                line.trim(),
                text(&out).1
            );
            checked += 1;
        }
    }
    assert!(checked > 80, "{checked} examples");
}

#[test]
fn json_is_one_global_flag_every_command_takes_before_or_after_its_name() {
    let lake = TestLake::new();
    for command in commands() {
        for args in [
            vec!["--json", command.as_str(), "--help"],
            vec![command.as_str(), "--json", "--help"],
        ] {
            let out = lake.cmd(&args).output().unwrap();
            let (stdout, stderr) = text(&out);
            assert!(out.status.success(), "`lake {}`: {stderr}", args.join(" "));
            assert!(
                stdout.contains("--json"),
                "`lake {command} --help` lacks --json"
            );
        }
    }
    lake.write("orders.csv", "id,amount\n1,2.5\n2,4.0\n");
    lake.cmd(["ingest", "orders.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    let before = lake.cmd(["--json", "ls"]).output().unwrap();
    let after = lake.cmd(["ls", "--json"]).output().unwrap();
    assert!(before.status.success() && after.status.success());
    assert_eq!(before.stdout, after.stdout);
    let listed: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    assert_eq!(listed[0]["dataset"], "bronze.orders", "{listed}");
    // Nested subcommands take it too, either side of their name.
    let rules = lake.json(["rule", "ls"]);
    assert!(rules.as_array().is_some_and(|r| r.is_empty()), "{rules}");
    let shown = lake
        .cmd(["--json", "config", "get", "ingest.target_file_mb"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["schema_version"], 1, "{shown}");
    // Even a command that prints a script: the script inside a document.
    let script = lake.json(["completions", "bash"]);
    assert_eq!(script["schema_version"], 1);
    assert_eq!(script["shell"], "bash");
    assert!(
        script["script"].as_str().unwrap().contains("_lake_refs"),
        "{script}"
    );
}
