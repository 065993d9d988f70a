//! SQL functions for the small transformations every pipeline needs (EtLT), available in
//! promote jobs and `lake query`:
//!
//! | function | result |
//! | --- | --- |
//! | `pseudonymize(text)` | hex sha256 of a per-lake secret salt and the text: the same person maps to the same token in every dataset, and the token cannot be reversed without the salt |
//! | `mask_email(text)` | `j***@example.com`: the first character and the domain |
//! | `url_host(url)` | the host of a URL, lowercase |
//! | `url_param(url, key)` | the first value of a query parameter, decoded |
//!
//! Each maps null to null, and a value it cannot read (not an email, not a URL) to null.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use sha2::{Digest, Sha256};

use crate::format::hash::hex;

/// Every lake SQL function; `salt` keys `pseudonymize`, which refuses to run without one.
pub(crate) fn all(salt: &str) -> Vec<ScalarUDF> {
    let salt = salt.as_bytes().to_vec();
    vec![
        if salt.is_empty() {
            create_udf(
                "pseudonymize",
                vec![DataType::Utf8],
                DataType::Utf8,
                Volatility::Immutable,
                Arc::new(|_: &[ColumnarValue]| {
                    Err(DataFusionError::Configuration(
                        "pseudonymize() needs a secret: set `salt` under [promote] in lake.toml"
                            .into(),
                    ))
                }),
            )
        } else {
            unary("pseudonymize", move |s| Some(pseudonymize(&salt, s)))
        },
        unary("mask_email", mask_email),
        unary("url_host", url_host),
        binary("url_param", url_param),
    ]
}

pub(crate) fn pseudonymize(salt: &[u8], value: &str) -> String {
    let mut h = Sha256::new();
    h.update((salt.len() as u64).to_be_bytes());
    h.update(salt);
    h.update(value.as_bytes());
    hex(&h.finalize())
}

pub(crate) fn mask_email(value: &str) -> Option<String> {
    let (local, domain) = value.trim().rsplit_once('@')?;
    let first = local.chars().next()?;
    if domain.is_empty() || !domain.contains('.') {
        return None;
    }
    Some(format!("{first}***@{}", domain.to_lowercase()))
}

pub(crate) fn url_host(value: &str) -> Option<String> {
    let url = url::Url::parse(value.trim()).ok()?;
    url.host_str().map(|h| h.to_lowercase())
}

pub(crate) fn url_param(value: &str, key: &str) -> Option<String> {
    let url = url::Url::parse(value.trim()).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The argument as a string array of `len` rows (a scalar is repeated).
fn strings(arg: &ColumnarValue, len: usize) -> DfResult<StringArray> {
    let array: ArrayRef = arg.to_array(len)?;
    let array = cast(&array, &DataType::Utf8)?;
    array
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| DataFusionError::Internal("a string cast gave no string array".into()))
}

fn rows(args: &[ColumnarValue]) -> usize {
    args.iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1)
}

fn finish(args: &[ColumnarValue], out: StringArray) -> DfResult<ColumnarValue> {
    if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
    }
    Ok(ColumnarValue::Array(Arc::new(out)))
}

fn unary(name: &str, f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let n = rows(args);
            let input = strings(&args[0], n)?;
            let out: StringArray = input.iter().map(|v| v.and_then(&f)).collect();
            finish(args, out)
        }),
    )
}

fn binary(
    name: &str,
    f: impl Fn(&str, &str) -> Option<String> + Send + Sync + 'static,
) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let n = rows(args);
            let a = strings(&args[0], n)?;
            let b = strings(&args[1], n)?;
            let out: StringArray = a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| match (x, y) {
                    (Some(x), Some(y)) => f(x, y),
                    _ => None,
                })
                .collect();
            finish(args, out)
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_per_salt() {
        assert_eq!(pseudonymize(b"s", "ana"), pseudonymize(b"s", "ana"));
        assert_ne!(pseudonymize(b"s", "ana"), pseudonymize(b"t", "ana"));
        assert_ne!(pseudonymize(b"s", "ana"), pseudonymize(b"s", "ben"));
        assert_eq!(pseudonymize(b"s", "ana").len(), 64);
    }

    #[test]
    fn emails_keep_first_letter_and_domain() {
        assert_eq!(
            mask_email(" Jane.Doe@Example.COM ").as_deref(),
            Some("J***@example.com")
        );
        assert_eq!(mask_email("not an email"), None);
        assert_eq!(mask_email("@example.com"), None);
    }

    #[test]
    fn urls_give_host_and_params() {
        let u = "https://Shop.Example.com/shoes?utm_source=mail&page=2&q=trail%20shoes";
        assert_eq!(url_host(u).as_deref(), Some("shop.example.com"));
        assert_eq!(url_param(u, "q").as_deref(), Some("trail shoes"));
        assert_eq!(url_param(u, "missing"), None);
        assert_eq!(url_host("not a url"), None);
    }
}
