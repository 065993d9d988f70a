//! `lake completions bash|zsh|fish`: shell completion scripts. Subcommands and flags come from
//! the command line's definition (clap_complete); in bash, zsh and fish, dataset names and
//! `dataset@tag` refs complete too, asked of the lake in the current folder at each TAB
//! (`lake __complete refs`, a hidden command).

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use lake::Lake;

use super::{Cli, Failure, Printer};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  source <(lake completions bash)                  # this shell
  lake completions bash > ~/.local/share/bash-completion/completions/lake
  lake completions zsh > \"${fpath[1]}/_lake\"
  lake completions fish > ~/.config/fish/completions/lake.fish")]
pub struct Args {
    /// bash, zsh or fish (elvish and powershell: subcommands and flags only).
    shell: Shell,
}

/// Dataset names and refs for a completion, hidden from help.
#[derive(Debug, clap::Args)]
pub struct CompleteArgs {
    /// What to list: `refs` (datasets, and `dataset@tag` for every tag).
    what: String,
}

/// Completes dataset names and tags after the subcommand, where no flag is being typed.
const BASH_REFS: &str = r#"
_lake_refs() {
    local cur="${COMP_WORDS[COMP_CWORD]}"
    _lake "$@"
    if [[ ${COMP_CWORD} -ge 2 && "$cur" != -* ]]; then
        local IFS=$'\n'
        COMPREPLY+=( $(compgen -W "$(lake __complete refs 2>/dev/null)" -- "$cur") )
    fi
}
complete -F _lake_refs -o bashdefault -o default lake
"#;

/// clap_complete's zsh script ends by registering `_lake` for `lake`, or by running it when the
/// script is itself the autoloaded `_lake`; this registers and runs a wrapper that adds the refs.
const ZSH_TAIL: &str = r#"if [ "$funcstack[1]" = "_lake" ]; then"#;

const ZSH_REFS: &str = r#"
_lake_refs() {
    _lake "$@"
    local ret=$?
    if (( CURRENT > 2 )) && [[ $PREFIX != -* ]]; then
        local -a refs
        refs=(${(f)"$(lake __complete refs 2>/dev/null)"})
        (( ${#refs} )) && compadd -a refs && ret=0
    fi
    return $ret
}

compdef _lake_refs lake
if [ "$funcstack[1]" = "_lake" ]; then
    _lake_refs "$@"
fi
"#;

const FISH_REFS: &str = r#"
complete -c lake -n '__fish_seen_subcommand_from show log lineage tag pin scan get manifest diff restore rollback erase annotate du archive' -f -a '(lake __complete refs 2>/dev/null)'
"#;

pub fn run(args: &Args, p: Printer) -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "lake", &mut out);
    match args.shell {
        Shell::Bash => out.extend_from_slice(BASH_REFS.as_bytes()),
        Shell::Zsh => {
            if let Some(tail) = memchr::memmem::rfind(&out, ZSH_TAIL.as_bytes()) {
                out.truncate(tail);
            }
            out.extend_from_slice(ZSH_REFS.as_bytes());
        }
        Shell::Fish => out.extend_from_slice(FISH_REFS.as_bytes()),
        _ => {}
    }
    if p.json {
        p.json(&serde_json::json!({
            "shell": args.shell.to_string(),
            "script": String::from_utf8_lossy(&out),
        }));
    } else {
        let _ = std::io::stdout().write_all(&out);
    }
    Ok(())
}

/// One candidate per line; nothing (and exit 0) outside a lake, so a TAB never prints errors.
pub fn complete(start: &std::path::Path, args: &CompleteArgs) -> Result<(), Failure> {
    if args.what != "refs" {
        return Ok(());
    }
    let Ok(lake) = Lake::open(start) else {
        return Ok(());
    };
    let mut lines = Vec::new();
    if let Ok(datasets) = lake.datasets(None) {
        for d in datasets {
            lines.push(d.dataset.to_string());
        }
    }
    if let Ok(tags) = lake.delta_tags(None) {
        for t in tags {
            lines.push(format!("{}@{}", t.dataset, t.tag));
        }
    }
    let _ = writeln!(std::io::stdout(), "{}", lines.join("\n"));
    Ok(())
}
