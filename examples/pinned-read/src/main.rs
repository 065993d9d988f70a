//! `pinned-read LAKE_DIR LOCK_FILE`: verify a lock file, then read every version it pins twice,
//! as Arrow batches through a `RecordBatchReader` and through SQL over a `VersionTable`, and
//! print `ref digest rows sql_rows` for each. Exits non-zero if the lock does not verify or
//! the two reads disagree.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use lake::arrow::array::{AsArray, RecordBatchReader};
use lake::arrow::datatypes::Int64Type;
use lake::datafusion::prelude::SessionContext;
use lake::pin::LockFile;
use lake::scan::ScanOptions;
use lake::{DatasetRef, Lake};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, lock] = args.as_slice() else {
        eprintln!("usage: pinned-read LAKE_DIR LOCK_FILE");
        return ExitCode::from(2);
    };
    match run(PathBuf::from(dir), PathBuf::from(lock)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinned-read: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: PathBuf, lock: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let lake = Lake::open(&dir)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(lake.verify(&lock))?;
    if !report.problems.is_empty() {
        return Err(format!("{lock:?} does not verify: {:?}", report.problems).into());
    }
    for pin in LockFile::read(&lock)?.pin {
        let r: DatasetRef = pin.reference.parse()?;
        // Outside the runtime: the blocking scan brings its own.
        let reader = lake
            .scan_blocking(&r, ScanOptions::default())?
            .into_reader();
        if reader.version().digest != pin.digest {
            return Err(format!(
                "{} is {}, the lock says {}",
                r,
                reader.version().digest,
                pin.digest
            )
            .into());
        }
        let schema = reader.schema();
        let mut rows = 0;
        for batch in reader {
            let batch = batch?;
            assert_eq!(batch.schema().fields().len(), schema.fields().len());
            rows += batch.num_rows() as u64;
        }
        let sql_rows = runtime.block_on(async {
            let table = lake.table(&r).await?;
            let ctx = SessionContext::new();
            ctx.register_table("pinned", Arc::new(table))?;
            let batches = ctx
                .sql("SELECT count(*) AS n FROM pinned")
                .await?
                .collect()
                .await?;
            let n = batches[0].column(0).as_primitive::<Int64Type>().value(0);
            Ok::<_, Box<dyn std::error::Error>>(n as u64)
        })?;
        println!("{} {} {rows} {sql_rows}", pin.reference, pin.digest);
        if rows != pin.rows || sql_rows != pin.rows {
            return Err(format!(
                "{} holds {} rows; read {rows}, SQL counted {sql_rows}",
                pin.reference, pin.rows
            )
            .into());
        }
    }
    Ok(())
}
