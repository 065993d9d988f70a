//! The `lake` binary: parses the command line and hands each subcommand to `cli`.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
