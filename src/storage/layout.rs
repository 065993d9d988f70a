//! Object keys, derived from names; nobody types them.
//!
//! ```text
//! <zone>/<name>/data/<write-id>-00000.parquet   data files: unique names, written once
//! _lake/manifests/<zone>/<name>/v000012.json    one manifest per committed version
//! _lake/datasets/<zone>/<name>.json             tags, lifecycle states, annotations
//! ```
//! Data keys carry a write id, not a version number: the number is known only at commit.

use crate::ident::{DatasetRef, Version};

/// A new write id: time-ordered (UUID v7), so a dataset's files sort in the order they were written.
pub(crate) fn new_write_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Everything of one dataset in a tier: its `data/` and its Delta log.
pub(crate) fn dataset_prefix(dataset: &DatasetRef) -> String {
    format!("{}/{}/", dataset.zone, dataset.name)
}

pub(crate) fn data_prefix(dataset: &DatasetRef) -> String {
    format!("{}data/", dataset_prefix(dataset))
}

/// The folder of a dataset's Delta log, under [`dataset_prefix`].
pub(crate) const DELTA_LOG: &str = "_delta_log";

pub(crate) fn delta_log_prefix(dataset: &DatasetRef) -> String {
    format!("{}{DELTA_LOG}/", dataset_prefix(dataset))
}

/// Every key a write creates starts with this: its data files are `<prefix>00000.parquet`, ….
pub(crate) fn write_prefix(dataset: &DatasetRef, write_id: &str) -> String {
    format!("{}{write_id}-", data_prefix(dataset))
}

pub(crate) fn data_file(dataset: &DatasetRef, write_id: &str, seq: usize) -> String {
    format!("{}{seq:05}.parquet", write_prefix(dataset, write_id))
}

pub(crate) fn manifest_prefix(dataset: &DatasetRef) -> String {
    format!("_lake/manifests/{}/{}/", dataset.zone, dataset.name)
}

pub(crate) fn manifest(dataset: &DatasetRef, version: Version) -> String {
    format!("{}v{:06}.json", manifest_prefix(dataset), version.0)
}

/// Where each dataset's record lives: its tags, the lifecycle states of its versions and its
/// annotations, kept from the catalog so that a catalog rebuilt from storage has them too.
pub(crate) const DATASET_RECORDS: &str = "_lake/datasets/";

pub(crate) fn dataset_record(dataset: &DatasetRef) -> String {
    format!("{DATASET_RECORDS}{}/{}.json", dataset.zone, dataset.name)
}

/// Where a manifest found at a version's key, but never committed, is moved aside to.
pub(crate) fn stale_manifest(dataset: &DatasetRef, version: Version, write_id: &str) -> String {
    format!(
        "_lake/stale/{}/{}/v{:06}-{write_id}.json",
        dataset.zone, dataset.name, version.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_design() {
        let d: DatasetRef = "bronze.orders".parse().unwrap();
        assert_eq!(
            data_file(&d, "abc", 3),
            "bronze/orders/data/abc-00003.parquet"
        );
        assert_eq!(
            manifest(&d, Version(12)),
            "_lake/manifests/bronze/orders/v000012.json"
        );
    }

    #[test]
    fn write_ids_sort_by_time() {
        let a = new_write_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_write_id();
        assert!(a < b);
    }
}
