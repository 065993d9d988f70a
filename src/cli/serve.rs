//! `lake serve` and `lake docs build`: the catalog as web pages.

use std::net::SocketAddr;
use std::path::PathBuf;

use lake::Lake;
use lake::serve::ServeOptions;

use super::Failure;
use super::printer::{Printer, bytes, plural};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but a loopback address needs --token.
    #[arg(long, default_value = "127.0.0.1:8642", value_name = "ADDR:PORT")]
    bind: SocketAddr,
    /// A token every request must carry (`Authorization: Bearer TOKEN`, or `?token=TOKEN`
    /// once, which sets a cookie).
    #[arg(
        long,
        env = "LAKE_SERVE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
    /// Open the home page in a browser once listening.
    #[arg(long)]
    open: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum DocsCommand {
    /// Write the catalog's pages as static HTML into a folder (for publishing from CI).
    Build(DocsArgs),
}

#[derive(Debug, clap::Args)]
pub struct DocsArgs {
    /// The folder to write (created if missing; files of the same names are replaced).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
}

pub async fn serve(lake: Lake, args: ServeArgs, p: Printer) -> Result<(), Failure> {
    let options = ServeOptions {
        bind: args.bind,
        token: args.token.clone(),
    };
    let open = args.open;
    let shutdown = async {
        let name = super::run::wait_for_signal().await;
        eprintln!("{name}: stopping");
    };
    lake::serve::serve(
        lake,
        options,
        move |addr| {
            let url = format!("http://{addr}/");
            if p.json {
                p.json_line(&serde_json::json!({ "url": url }));
            } else {
                p.out(format!("serving the catalog at {url}  (Ctrl-C stops)"));
            }
            if open {
                // A browser of the desktop's choosing; none is fine.
                let _ = std::process::Command::new("xdg-open")
                    .arg(&url)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn();
            }
        },
        shutdown,
    )
    .await?;
    Ok(())
}

pub async fn docs(lake: &Lake, command: DocsCommand, p: Printer) -> Result<(), Failure> {
    let DocsCommand::Build(args) = command;
    let report = p
        .spinning("writing pages", lake::serve::build_docs(lake, &args.output))
        .await?;
    if p.json {
        p.json(&report);
    } else {
        p.out(format!(
            "✓ wrote {} ({}) to {}; open {}/index.html",
            plural(report.pages, "page", "pages"),
            bytes(report.bytes),
            report.dir,
            report.dir
        ));
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Where to listen for the coordinator and the other workers (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "ADDR")]
    bind: std::net::SocketAddr,
}

/// `lake worker`: run stages of other processes' promote plans until SIGINT or SIGTERM.
pub async fn worker(start: &std::path::Path, args: WorkerArgs, p: Printer) -> Result<(), Failure> {
    let shutdown = async {
        let name = super::run::wait_for_signal().await;
        eprintln!("{name}: stopping");
    };
    lake::worker::serve(
        start,
        args.bind,
        |addr, root| {
            if p.json {
                p.json_line(&serde_json::json!({ "bind": addr.to_string(), "root": root }));
            } else {
                p.out(format!(
                    "worker of {root} listening on {addr}  (Ctrl-C stops)"
                ));
            }
        },
        shutdown,
    )
    .await?;
    Ok(())
}
