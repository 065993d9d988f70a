//! Train a small model on a pinned dataset version: logistic regression by SGD on the sample
//! gold features, read through the lake's lock file. Run twice, it prints the same numbers:
//! the data is an exact version (checked by sha256) and the shuffle is seeded per epoch.
//!
//!     cargo run --example train -- demo         # after ./scripts/demo.sh has pinned the data

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use lake::pin::LockFile;
use lake::scan::{ScanOptions, Shuffle};
use lake::{DatasetRef, Lake};

const FEATURES: [&str; 6] = [
    "orders",
    "net_revenue",
    "refund_rate",
    "web_events",
    "add_to_carts",
    "marketing_opt_in",
];
const LABEL: &str = "is_gold";

/// Feature rows and their labels.
type Examples = (Vec<Vec<f64>>, Vec<f64>);

fn column(batch: &RecordBatch, name: &str) -> Vec<f64> {
    let col = batch
        .column_by_name(name)
        .expect("the column is in the version");
    let col = cast(col, &DataType::Float64).expect("numeric");
    let values = col.as_primitive::<Float64Type>();
    (0..values.len())
        .map(|i| {
            if values.is_null(i) {
                0.0
            } else {
                values.value(i)
            }
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let project = std::env::args().nth(1).unwrap_or_else(|| "demo".into());
    let lake = Lake::open(std::path::Path::new(&project))?;
    let lock = LockFile::read(&lake.dir().join("lake.lock"))?;
    let pin = lock
        .pin
        .iter()
        .find(|p| p.dataset == "gold.customer_features")
        .ok_or("gold.customer_features is not pinned; run `lake pin gold.customer_features@train-2026-03`")?;
    let version: DatasetRef = pin.reference.parse()?;
    let described = lake.resolve(&version)?;
    if described.digest != pin.digest {
        return Err(format!("{} no longer has the pinned digest", pin.reference).into());
    }
    println!(
        "training on {} (sha256:{}…)",
        pin.reference,
        &pin.digest[..12]
    );

    let mut columns: Vec<String> = FEATURES.iter().map(|s| s.to_string()).collect();
    columns.push(LABEL.into());
    let read = |epoch: u64| -> Result<Examples, Box<dyn std::error::Error>> {
        let options = ScanOptions {
            columns: Some(columns.clone()),
            batch_size: 64,
            shuffle: Some(Shuffle {
                seed: 7,
                epoch,
                buffer_rows: 10_000,
            }),
            verify: true,
            ..Default::default()
        };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for batch in lake.scan_blocking(&version, options)? {
            let batch = batch?;
            let cols: Vec<Vec<f64>> = FEATURES.iter().map(|f| column(&batch, f)).collect();
            let labels = column(&batch, LABEL);
            for row in 0..batch.num_rows() {
                x.push(cols.iter().map(|c| c[row]).collect());
                y.push(labels[row]);
            }
        }
        Ok((x, y))
    };

    // Standardize with statistics from the whole version (epoch 0's read).
    let (x0, _) = read(0)?;
    let n = x0.len() as f64;
    let mean: Vec<f64> = (0..FEATURES.len())
        .map(|j| x0.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let std: Vec<f64> = (0..FEATURES.len())
        .map(|j| {
            (x0.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n)
                .sqrt()
                .max(1e-9)
        })
        .collect();

    let mut w = vec![0.0; FEATURES.len()];
    let mut b = 0.0;
    let rate = 0.05;
    for epoch in 0..5 {
        let (x, y) = read(epoch)?;
        let mut loss = 0.0;
        for (row, label) in x.iter().zip(&y) {
            let z: f64 = b + row
                .iter()
                .enumerate()
                .map(|(j, v)| w[j] * (v - mean[j]) / std[j])
                .sum::<f64>();
            let p = 1.0 / (1.0 + (-z).exp());
            loss -= label * p.max(1e-12).ln() + (1.0 - label) * (1.0 - p).max(1e-12).ln();
            let g = p - label;
            for j in 0..w.len() {
                w[j] -= rate * g * (row[j] - mean[j]) / std[j];
            }
            b -= rate * g;
        }
        println!(
            "epoch {epoch}: {} rows, mean log loss {:.6}",
            x.len(),
            loss / x.len() as f64
        );
    }
    let weights: Vec<String> = FEATURES
        .iter()
        .zip(&w)
        .map(|(f, v)| format!("{f}={v:+.4}"))
        .collect();
    println!("weights: {} bias={b:+.4}", weights.join(" "));
    Ok(())
}
