//! Scan throughput of a pinned version beside the `parquet` crate's own reader on the same files.
//!
//!     cargo bench --bench scan -- PROJECT_DIR DATASET@VERSION
//!
//! Reports rows/s and MB/s (of Parquet) for: the raw reader, `lake` scan with and without
//! sha256 verification, and two shards read at once (as two training ranks would).

use std::time::Instant;

use lake::scan::ScanOptions;
use lake::{DatasetRef, Lake};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn report(name: &str, rows: usize, bytes: u64, seconds: f64) {
    println!(
        "{name:<34}{:>8.2} s{:>10.2} M rows/s{:>9.0} MB/s",
        seconds,
        rows as f64 / seconds / 1e6,
        bytes as f64 / seconds / 1e6
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (project, reference) = match args.as_slice() {
        [p, r, ..] => (p.clone(), r.clone()),
        _ => return Err("usage: cargo bench --bench scan -- PROJECT_DIR DATASET@VERSION".into()),
    };
    let lake = Lake::open(std::path::Path::new(&project))?;
    let r: DatasetRef = reference.parse()?;
    let version = lake.resolve(&r)?;
    let root = std::path::Path::new(lake.root_url()).to_path_buf();
    let files = lake.describe(&r)?.files;
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    println!(
        "{}: {} rows, {} files, {:.0} MB of Parquet",
        version.reference(),
        version.rows,
        files.len(),
        bytes as f64 / 1e6
    );

    // The parquet crate reading the same files, one after another.
    let started = Instant::now();
    let mut rows = 0;
    for f in &files {
        let file = std::fs::File::open(root.join(&f.path))?;
        for batch in ParquetRecordBatchReaderBuilder::try_new(file)?
            .with_batch_size(8192)
            .build()?
        {
            rows += batch?.num_rows();
        }
    }
    report(
        "parquet reader (raw)",
        rows,
        bytes,
        started.elapsed().as_secs_f64(),
    );

    for (name, verify) in [
        ("lake scan, no verification", false),
        ("lake scan, sha256 verified", true),
    ] {
        let started = Instant::now();
        let options = ScanOptions {
            verify,
            ..Default::default()
        };
        let rows: usize = lake
            .scan_blocking(&r, options)?
            .map(|b| b.map(|b| b.num_rows()))
            .sum::<Result<usize, _>>()?;
        report(name, rows, bytes, started.elapsed().as_secs_f64());
    }

    // Two ranks at once, each on its own thread, as data-parallel training reads.
    let started = Instant::now();
    let rows: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|rank| {
                let (lake, r) = (&lake, &r);
                s.spawn(move || -> Result<usize, lake::Error> {
                    let options = ScanOptions {
                        shard: Some((rank, 2)),
                        verify: true,
                        ..Default::default()
                    };
                    lake.scan_blocking(r, options)?
                        .map(|b| b.map(|b| b.num_rows()))
                        .sum()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a rank thread").unwrap_or(0))
            .sum()
    });
    report(
        "lake scan, 2 shards at once, verified",
        rows,
        bytes,
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}
