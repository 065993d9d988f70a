//! The behaviours every storage backend must show: memory, local disk, S3 and Azure run the same
//! list.
//!
//! Each check works under its own fresh prefix, so the list can run against a shared bucket.

use bytes::Bytes;

use super::{PART_SIZE, Storage, is_already_exists, is_not_found, layout};

fn scratch(name: &str) -> String {
    format!("conformance/{}/{name}", layout::new_write_id())
}

/// Run every check in this module.
pub(super) async fn run_all(storage: &Storage) {
    put_new_is_write_once(storage).await;
    get_returns_what_was_put(storage).await;
    ranged_get_returns_the_slice(storage).await;
    list_is_sorted_and_scoped_to_the_prefix(storage).await;
    copy_duplicates_an_object(storage).await;
    delete_is_idempotent(storage).await;
    large_objects_upload_in_parts(storage).await;
    aborted_writer_leaves_nothing(storage).await;
}

pub(super) async fn put_new_is_write_once(storage: &Storage) {
    let key = scratch("once.txt");
    storage
        .put_new(&key, Bytes::from_static(b"first"))
        .await
        .unwrap();
    let err = storage
        .put_new(&key, Bytes::from_static(b"second"))
        .await
        .expect_err("a second create at the same key must lose");
    assert!(is_already_exists(&err), "unexpected error: {err:?}");
    assert_eq!(
        storage.get(&key).await.unwrap(),
        Bytes::from_static(b"first")
    );
}

pub(super) async fn get_returns_what_was_put(storage: &Storage) {
    let key = scratch("get.bin");
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    storage
        .put_new(&key, Bytes::from(data.clone()))
        .await
        .unwrap();
    assert_eq!(storage.get(&key).await.unwrap().as_ref(), data.as_slice());
    let info = storage.head(&key).await.unwrap().expect("object exists");
    assert_eq!(info.size, data.len() as u64);
    let missing = storage.get(&scratch("missing")).await.unwrap_err();
    assert!(is_not_found(&missing), "unexpected error: {missing:?}");
    assert!(storage.head(&scratch("missing")).await.unwrap().is_none());
}

pub(super) async fn ranged_get_returns_the_slice(storage: &Storage) {
    let key = scratch("range.bin");
    let data: Vec<u8> = (0..4096u32).map(|i| (i % 256) as u8).collect();
    storage
        .put_new(&key, Bytes::from(data.clone()))
        .await
        .unwrap();
    let slice = storage.get_range(&key, 100..1100).await.unwrap();
    assert_eq!(slice.as_ref(), &data[100..1100]);
}

pub(super) async fn list_is_sorted_and_scoped_to_the_prefix(storage: &Storage) {
    let base = scratch("list");
    for name in ["b", "a", "c/d", "c/e"] {
        storage
            .put_new(&format!("{base}/{name}"), Bytes::from_static(b"x"))
            .await
            .unwrap();
    }
    storage
        .put_new(&format!("{base}-sibling/z"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    let keys: Vec<String> = storage
        .list(&format!("{base}/"))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    let expect: Vec<String> = ["a", "b", "c/d", "c/e"]
        .iter()
        .map(|n| format!("{base}/{n}"))
        .collect();
    assert_eq!(keys, expect);
    assert!(storage.list(&scratch("empty/")).await.unwrap().is_empty());
}

pub(super) async fn copy_duplicates_an_object(storage: &Storage) {
    let from = scratch("copy-from");
    let to = scratch("copy-to");
    storage
        .put_new(&from, Bytes::from_static(b"payload"))
        .await
        .unwrap();
    storage.copy(&from, &to).await.unwrap();
    assert_eq!(
        storage.get(&to).await.unwrap(),
        Bytes::from_static(b"payload")
    );
    assert_eq!(
        storage.get(&from).await.unwrap(),
        Bytes::from_static(b"payload")
    );
}

pub(super) async fn delete_is_idempotent(storage: &Storage) {
    let key = scratch("delete");
    storage
        .put_new(&key, Bytes::from_static(b"x"))
        .await
        .unwrap();
    storage.delete(&key).await.unwrap();
    assert!(storage.head(&key).await.unwrap().is_none());
    storage.delete(&key).await.unwrap();
}

pub(super) async fn large_objects_upload_in_parts(storage: &Storage) {
    let key = scratch("large.bin");
    let total = PART_SIZE * 2 + 12_345;
    let data: Vec<u8> = (0..total).map(|i| (i % 253) as u8).collect();
    let mut writer = storage.writer(&key);
    for chunk in data.chunks(1 << 20) {
        writer.write(chunk).await.unwrap();
    }
    assert_eq!(writer.finish().await.unwrap(), total as u64);
    assert_eq!(
        storage.head(&key).await.unwrap().unwrap().size,
        total as u64
    );
    let tail = storage
        .get_range(&key, (total - 5000) as u64..total as u64)
        .await
        .unwrap();
    assert_eq!(tail.as_ref(), &data[total - 5000..]);
    assert_eq!(storage.get(&key).await.unwrap().as_ref(), data.as_slice());
}

pub(super) async fn aborted_writer_leaves_nothing(storage: &Storage) {
    let key = scratch("aborted.bin");
    let mut writer = storage.writer(&key);
    writer.write(&vec![7u8; PART_SIZE + 10]).await.unwrap();
    writer.abort().await;
    assert!(storage.head(&key).await.unwrap().is_none());
}
