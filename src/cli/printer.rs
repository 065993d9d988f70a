//! Where output goes: data (tables, `--json`) to stdout; status, progress and warnings to stderr.
//! Progress bars appear only when stderr is a terminal and output is not `--json` or `--quiet`.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lake::lake::{ProgressEvent, ProgressFn};
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
    pub quiet: bool,
}

impl Printer {
    /// A line of the command's result, on stdout.
    pub fn out(&self, line: impl AsRef<str>) {
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{}", line.as_ref()).is_err() {
            // A closed pipe (`lake ls | head`) is not a failure.
            std::process::exit(0);
        }
    }

    /// The command's result as JSON, on stdout: an object carries `schema_version`, and so
    /// does each record of a list ([`lake::json_document`]).
    pub fn json<T: Serialize>(&self, value: &T) {
        let value = lake::json_document(value).expect("reports serialize");
        let text = serde_json::to_string_pretty(&value).expect("reports serialize");
        self.out(text);
    }

    /// One JSON document on one line, for commands that go on printing (an event of a watch,
    /// a pass of `lake run --watch`, the address `serve` listens on).
    pub fn json_line<T: Serialize>(&self, value: &T) {
        let value = lake::json_document(value).expect("reports serialize");
        self.out(value.to_string());
    }

    /// Status for a person, on stderr (silent with --quiet or --json).
    pub fn status(&self, line: impl AsRef<str>) {
        if !self.quiet && !self.json {
            eprintln!("{}", line.as_ref());
        }
    }

    fn shows_progress(&self) -> bool {
        !self.quiet && !self.json && std::io::stderr().is_terminal()
    }

    /// Await `work` with a spinner labelled `label` on stderr (terminal only), for commands whose
    /// work has no byte count to show.
    pub async fn spinning<T>(&self, label: &str, work: impl std::future::Future<Output = T>) -> T {
        let spinner = self.spinner(label);
        let out = work.await;
        if let Some(s) = spinner {
            s.finish_and_clear();
        }
        out
    }

    /// A spinner on stderr (terminal only) that the caller updates and clears.
    pub fn spinner(&self, label: &str) -> Option<ProgressBar> {
        if !self.shows_progress() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("a valid template"),
        );
        bar.set_message(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    }

    /// A byte-progress bar fed by a library operation, or `None` where it would not show.
    pub fn byte_progress(&self, label: &'static str) -> Option<ProgressFn> {
        if !self.shows_progress() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .expect("a valid template"),
        );
        bar.set_message(label);
        Some(Arc::new(move |event| match event {
            ProgressEvent::Started { total_bytes } => {
                bar.set_length(total_bytes);
                bar.enable_steady_tick(Duration::from_millis(200));
            }
            ProgressEvent::Advanced { bytes } => bar.inc(bytes),
            ProgressEvent::Finished => bar.finish_and_clear(),
        }))
    }
}

/// Standard output for streaming results; a closed pipe (`lake scan … | head`) ends the
/// process quietly with exit 0 instead of failing the command.
pub struct Stdout(std::io::BufWriter<std::io::Stdout>);

pub fn stdout() -> Stdout {
    Stdout(std::io::BufWriter::new(std::io::stdout()))
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).inspect_err(quit_on_broken_pipe)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().inspect_err(quit_on_broken_pipe)
    }
}

fn quit_on_broken_pipe(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
}

/// `1234567` → `1,234,567`
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1536` → `1.5 KiB`
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1 row`, `3 rows`
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// The first 12 hex digits of a digest, enough to name it.
pub fn short_digest(digest: &str) -> String {
    format!("sha256:{}", &digest[..digest.len().min(12)])
}

/// A plain table: header, aligned columns, no borders (reads the same without colour).
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| h.to_uppercase()));
    for row in rows {
        t.add_row(row);
    }
    t.to_string()
        .lines()
        .map(|l| {
            let l = l.trim_end();
            l.strip_prefix(' ').unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
