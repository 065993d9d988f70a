//! Schemas: stable type names, the manifest's schema JSON, unification across sources and
//! versions, and drift (added / removed / retyped columns).
//!
//! Type names are those `pyarrow.type_for_alias` accepts (`int64`, `float64`, `string`,
//! `timestamp[us]`, …), so a reader without `lake` can rebuild a schema from a manifest.

use std::sync::Arc;

use arrow::array::{RecordBatch, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A stable, pyarrow-compatible name for `dt`.
pub fn type_name(dt: &DataType) -> String {
    fn unit(u: &TimeUnit) -> &'static str {
        match u {
            TimeUnit::Second => "s",
            TimeUnit::Millisecond => "ms",
            TimeUnit::Microsecond => "us",
            TimeUnit::Nanosecond => "ns",
        }
    }
    match dt {
        DataType::Null => "null".into(),
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float16 => "float16".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 => "string".into(),
        DataType::LargeUtf8 => "large_string".into(),
        DataType::Utf8View => "string_view".into(),
        DataType::Binary => "binary".into(),
        DataType::LargeBinary => "large_binary".into(),
        DataType::BinaryView => "binary_view".into(),
        DataType::Date32 => "date32".into(),
        DataType::Date64 => "date64".into(),
        DataType::Time32(u) => format!("time32[{}]", unit(u)),
        DataType::Time64(u) => format!("time64[{}]", unit(u)),
        DataType::Duration(u) => format!("duration[{}]", unit(u)),
        DataType::Timestamp(u, None) => format!("timestamp[{}]", unit(u)),
        DataType::Timestamp(u, Some(tz)) => format!("timestamp[{}, tz={tz}]", unit(u)),
        DataType::Decimal128(p, s) => format!("decimal128({p}, {s})"),
        DataType::Decimal256(p, s) => format!("decimal256({p}, {s})"),
        DataType::List(f) => format!("list<{}>", type_name(f.data_type())),
        DataType::LargeList(f) => format!("large_list<{}>", type_name(f.data_type())),
        DataType::FixedSizeBinary(n) => format!("fixed_size_binary[{n}]"),
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", field_name(f.name()), type_name(f.data_type())))
                .collect();
            format!("struct<{}>", inner.join(", "))
        }
        other => other.to_string(),
    }
}

/// A struct field's name in a type name: as it is when plain, else quoted as a JSON string, so
/// names with `:`, `,`, brackets, quotes or edge spaces survive the round trip.
fn field_name(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.');
    if plain {
        name.to_string()
    } else {
        serde_json::to_string(name).expect("a string serializes")
    }
}

/// The inverse of [`type_name`] on [`storable`] types: scalar types, `list<T>`, `large_list<T>`
/// and `struct<name: T, …>` (nested fields nullable, list items named `item`).
pub(crate) fn parse_type(name: &str) -> Option<DataType> {
    let name = name.trim();
    for (prefix, large) in [("list<", false), ("large_list<", true)] {
        if let Some(inner) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix('>')) {
            let item = Arc::new(Field::new("item", parse_type(inner)?, true));
            return Some(if large {
                DataType::LargeList(item)
            } else {
                DataType::List(item)
            });
        }
    }
    if let Some(inner) = name
        .strip_prefix("struct<")
        .and_then(|r| r.strip_suffix('>'))
    {
        let mut fields = Vec::new();
        for part in split_top_level(inner) {
            let part = part.trim_start();
            let (field, ty) = if part.starts_with('"') {
                // A quoted name: a JSON string, then `:`.
                let mut de = serde_json::Deserializer::from_str(part).into_iter::<String>();
                let name = de.next()?.ok()?;
                let rest = part[de.byte_offset()..].trim_start().strip_prefix(':')?;
                (name, rest)
            } else {
                let (field, ty) = part.split_once(':')?;
                (field.trim().to_string(), ty)
            };
            fields.push(Field::new(field, parse_type(ty)?, true));
        }
        return Some(DataType::Struct(fields.into()));
    }
    parse_scalar(name)
}

/// `a: int64, b: struct<c: string, d: bool>` split at the commas outside brackets and parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        if quoted {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !s[start..].trim().is_empty() {
        parts.push(&s[start..]);
    }
    parts
}

fn parse_scalar(name: &str) -> Option<DataType> {
    let unit = |u: &str| match u {
        "s" => Some(TimeUnit::Second),
        "ms" => Some(TimeUnit::Millisecond),
        "us" => Some(TimeUnit::Microsecond),
        "ns" => Some(TimeUnit::Nanosecond),
        _ => None,
    };
    let name = name.trim();
    let simple = match name {
        "null" => DataType::Null,
        "bool" | "boolean" => DataType::Boolean,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float16" => DataType::Float16,
        "float32" | "float" => DataType::Float32,
        "float64" | "double" => DataType::Float64,
        "string" | "utf8" | "str" => DataType::Utf8,
        "large_string" => DataType::LargeUtf8,
        "binary" => DataType::Binary,
        "large_binary" => DataType::LargeBinary,
        "date32" | "date" => DataType::Date32,
        "date64" => DataType::Date64,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ => {
            if let Some(rest) = name
                .strip_prefix("timestamp[")
                .and_then(|r| r.strip_suffix(']'))
            {
                let (u, tz) = match rest.split_once(',') {
                    Some((u, tz)) => (u.trim(), Some(tz.trim().strip_prefix("tz=")?.trim())),
                    None => (rest.trim(), None),
                };
                return Some(DataType::Timestamp(unit(u)?, tz.map(Arc::from)));
            }
            for (prefix, wide) in [("decimal128(", false), ("decimal256(", true)] {
                if let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(')')) {
                    let (p, s) = rest.split_once(',')?;
                    let (p, s) = (p.trim().parse().ok()?, s.trim().parse().ok()?);
                    return Some(if wide {
                        DataType::Decimal256(p, s)
                    } else {
                        DataType::Decimal128(p, s)
                    });
                }
            }
            let bracketed = |prefix: &str| {
                name.strip_prefix(prefix)
                    .and_then(|r| r.strip_prefix('['))
                    .and_then(|r| r.strip_suffix(']'))
                    .map(str::trim)
            };
            if let Some(u) = bracketed("time32") {
                return Some(DataType::Time32(unit(u)?));
            }
            if let Some(u) = bracketed("time64") {
                return Some(DataType::Time64(unit(u)?));
            }
            if let Some(u) = bracketed("duration") {
                return Some(DataType::Duration(unit(u)?));
            }
            if let Some(n) = bracketed("fixed_size_binary") {
                return Some(DataType::FixedSizeBinary(n.parse().ok()?));
            }
            return None;
        }
    };
    Some(simple)
}

/// `schema` in the form lake stores, or which column cannot be stored and why. Dictionaries are
/// stored as their values, view and large string types as plain ones, nested fields as nullable
/// with list items named `item`; every name must be there and distinct. What comes back parses
/// back from its type names exactly (see [`type_name`], [`parse_type`]).
pub(crate) fn storable(schema: &Schema) -> Result<Schema, String> {
    if schema.fields().is_empty() {
        // A version of rows with no columns would read back as no rows at all.
        return Err("the records have no fields, so there are no columns to store".into());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let dt = storable_type(f.data_type())
            .map_err(|problem| format!("column `{}`: {problem}", f.name()))?;
        fields.push(Field::new(f.name(), dt, f.is_nullable()));
    }
    check_names(fields.iter().map(|f| f.name().as_str()))?;
    let out = Schema::new(fields);
    // The promise, checked: the stored form reads back as itself.
    let back = schema_from_json(&schema_json(&out))
        .map_err(|e| format!("the schema does not read back: {e}"))?;
    if back != out {
        let column = out
            .fields()
            .iter()
            .zip(back.fields())
            .find(|(a, b)| a != b)
            .map_or_else(String::new, |(a, _)| a.name().clone());
        return Err(format!(
            "column `{column}`: its type does not read back as itself; this is a bug in lake"
        ));
    }
    Ok(out)
}

/// `schema` as the SQL engine reads it: top-level strings and binaries as views, which scans
/// decode without copying the bytes and group-bys and joins hash faster. What leaves the engine
/// goes back through [`storable`] or [`without_views`].
pub(crate) fn with_views(schema: &Schema) -> Schema {
    retype_top_level(schema, |dt| match dt {
        DataType::Utf8 => Some(DataType::Utf8View),
        DataType::Binary => Some(DataType::BinaryView),
        _ => None,
    })
}

/// `schema` with the engine's string and binary views as plain strings and binaries again
/// (at the top level, where [`with_views`] puts them).
pub(crate) fn without_views(schema: &Schema) -> Schema {
    retype_top_level(schema, |dt| match dt {
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::BinaryView => Some(DataType::Binary),
        _ => None,
    })
}

/// `schema` with each top-level column whose type `retype` maps given the new type.
fn retype_top_level(schema: &Schema, retype: impl Fn(&DataType) -> Option<DataType>) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match retype(f.data_type()) {
            Some(dt) => f.as_ref().clone().with_data_type(dt),
            None => f.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

fn storable_type(dt: &DataType) -> Result<DataType, String> {
    use DataType::*;
    Ok(match dt {
        Utf8View | LargeUtf8 => Utf8,
        BinaryView => Binary,
        Dictionary(_, values) => storable_type(values)?,
        List(f) | ListView(f) | LargeListView(f) => List(Arc::new(Field::new(
            "item",
            storable_type(f.data_type())?,
            true,
        ))),
        LargeList(f) => LargeList(Arc::new(Field::new(
            "item",
            storable_type(f.data_type())?,
            true,
        ))),
        Struct(fields) => {
            let mut out = Vec::with_capacity(fields.len());
            for f in fields {
                if f.name().trim().is_empty() {
                    return Err("a nested field has an empty name".into());
                }
                out.push(Field::new(f.name(), storable_type(f.data_type())?, true));
            }
            Struct(out.into())
        }
        Null
        | Boolean
        | Int8
        | Int16
        | Int32
        | Int64
        | UInt8
        | UInt16
        | UInt32
        | UInt64
        | Float16
        | Float32
        | Float64
        | Utf8
        | Binary
        | LargeBinary
        | FixedSizeBinary(_)
        | Date32
        | Date64
        | Timestamp(_, _)
        | Decimal128(_, _)
        | Decimal256(_, _) => dt.clone(),
        Time32(TimeUnit::Second | TimeUnit::Millisecond)
        | Time64(TimeUnit::Microsecond | TimeUnit::Nanosecond)
        | Duration(_) => dt.clone(),
        other => {
            return Err(format!(
                "lake cannot store type {other} (maps, unions, intervals and fixed-size lists are not supported; cast it in SQL or convert it first)"
            ));
        }
    })
}

/// One column as the manifest and catalog describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// The column's name.
    pub name: String,
    /// Its type, as `lake` names it (`int64`, `string`, `timestamp[us]`).
    #[serde(rename = "type")]
    pub data_type: String,
    /// It may hold NULLs.
    #[serde(default = "yes")]
    pub nullable: bool,
}

fn yes() -> bool {
    true
}

pub(crate) fn columns(schema: &Schema) -> Vec<ColumnSpec> {
    schema
        .fields()
        .iter()
        .map(|f| ColumnSpec {
            name: f.name().clone(),
            data_type: type_name(f.data_type()),
            nullable: f.is_nullable(),
        })
        .collect()
}

/// The manifest's `schema` object: `{"fields": [{"name", "type", "nullable"}]}`.
pub(crate) fn schema_json(schema: &Schema) -> Value {
    json!({ "fields": columns(schema) })
}

/// A schema from the manifest form (also the `--schema FILE` format).
pub(crate) fn schema_from_json(value: &Value) -> Result<Schema, String> {
    let fields = value
        .get("fields")
        .and_then(Value::as_array)
        .ok_or("expected an object with a `fields` array")?;
    let mut out = Vec::with_capacity(fields.len());
    for (i, f) in fields.iter().enumerate() {
        let spec: ColumnSpec =
            serde_json::from_value(f.clone()).map_err(|e| format!("field {}: {e}", i + 1))?;
        let dt = parse_type(&spec.data_type).ok_or_else(|| {
            format!(
                "field `{}`: unknown type `{}` (use int64, float64, bool, string, date32, timestamp[us], …)",
                spec.name, spec.data_type
            )
        })?;
        out.push(Field::new(spec.name, dt, spec.nullable));
    }
    check_names(out.iter().map(|f| f.name().as_str()))?;
    Ok(Schema::new(out))
}

/// Column names must be present and distinct.
pub(crate) fn check_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for (i, name) in names.enumerate() {
        if name.trim().is_empty() {
            return Err(format!("column {} has an empty name", i + 1));
        }
        if !seen.insert(name) {
            return Err(format!("column `{name}` appears twice"));
        }
    }
    Ok(())
}

/// The narrowest type that holds values of both `a` and `b`, if there is one.
pub(crate) fn supertype(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    if a == b {
        return Some(a.clone());
    }
    let int = |t: &DataType| matches!(t, Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32);
    let float = |t: &DataType| matches!(t, Float16 | Float32 | Float64);
    let text = |t: &DataType| matches!(t, Utf8 | LargeUtf8 | Utf8View);
    let scalar = |t: &DataType| {
        t.is_primitive() || matches!(t, Boolean | Utf8 | LargeUtf8 | Utf8View | Date32 | Date64)
    };
    Some(match (a, b) {
        (Null, t) | (t, Null) => t.clone(),
        (x, y) if int(x) && int(y) => Int64,
        (x, y) if (int(x) || float(x)) && (int(y) || float(y)) => Float64,
        (Date32, Timestamp(u, tz)) | (Timestamp(u, tz), Date32) => Timestamp(*u, tz.clone()),
        (Timestamp(u1, tz1), Timestamp(u2, tz2)) if tz1 == tz2 => {
            Timestamp((*u1).max(*u2), tz1.clone())
        }
        (x, y) if text(x) && text(y) => Utf8,
        (x, y) if scalar(x) && scalar(y) => Utf8,
        _ => return None,
    })
}

/// `b` merged into `a`: `a`'s columns in order (widened where `b` needs it), then `b`'s new ones.
/// Every column of the result is nullable, since rows from either side may lack it.
pub(crate) fn unify(a: &Schema, b: &Schema) -> Result<Schema, crate::error::Error> {
    let mut fields: Vec<Field> = Vec::with_capacity(a.fields().len() + b.fields().len());
    for fa in a.fields() {
        let dt = match b.field_with_name(fa.name()) {
            Ok(fb) => supertype(fa.data_type(), fb.data_type()).ok_or_else(|| {
                crate::error::Error::SchemaConflict {
                    column: fa.name().clone(),
                    left: type_name(fa.data_type()),
                    right: type_name(fb.data_type()),
                }
            })?,
            Err(_) => fa.data_type().clone(),
        };
        fields.push(Field::new(fa.name(), dt, true));
    }
    for fb in b.fields() {
        if a.field_with_name(fb.name()).is_err() {
            fields.push(Field::new(fb.name(), fb.data_type().clone(), true));
        }
    }
    Ok(Schema::new(fields))
}

/// One column's drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// `added`, `removed` or `retyped`
    pub change: &'static str,
    /// The column.
    pub column: String,
    /// Its type before.
    pub old_type: Option<String>,
    /// Its type now.
    pub new_type: Option<String>,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.change {
            "added" => write!(
                f,
                "+ {} {}",
                self.column,
                self.new_type.as_deref().unwrap_or("")
            ),
            "removed" => write!(
                f,
                "- {} {}",
                self.column,
                self.old_type.as_deref().unwrap_or("")
            ),
            _ => write!(
                f,
                "~ {} {} -> {}",
                self.column,
                self.old_type.as_deref().unwrap_or(""),
                self.new_type.as_deref().unwrap_or("")
            ),
        }
    }
}

/// What changed from `old` to `new`, column by column (nullability aside).
pub(crate) fn diff(old: &Schema, new: &Schema) -> Vec<Drift> {
    let mut out = Vec::new();
    for fo in old.fields() {
        match new.field_with_name(fo.name()) {
            Err(_) => out.push(Drift {
                change: "removed",
                column: fo.name().clone(),
                old_type: Some(type_name(fo.data_type())),
                new_type: None,
            }),
            Ok(fnew) if fnew.data_type() != fo.data_type() => out.push(Drift {
                change: "retyped",
                column: fo.name().clone(),
                old_type: Some(type_name(fo.data_type())),
                new_type: Some(type_name(fnew.data_type())),
            }),
            Ok(_) => {}
        }
    }
    for fnew in new.fields() {
        if old.field_with_name(fnew.name()).is_err() {
            out.push(Drift {
                change: "added",
                column: fnew.name().clone(),
                old_type: None,
                new_type: Some(type_name(fnew.data_type())),
            });
        }
    }
    out
}

/// `batch` with exactly `target`'s columns, by name: cast where types differ, nulls where absent.
pub(crate) fn conform(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    if batch.schema().fields() == target.fields() {
        return Ok(batch.clone());
    }
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let columns = target
        .fields()
        .iter()
        .map(|field| match batch.schema().index_of(field.name()) {
            Ok(i) => {
                let col = batch.column(i);
                if col.data_type() == field.data_type() {
                    Ok(col.clone())
                } else {
                    cast_with_options(col, field.data_type(), &options)
                }
            }
            Err(_) => Ok(new_null_array(field.data_type(), batch.num_rows())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(target.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generated storable type, from a SplitMix64 stream (deterministic, no extra crates).
    fn step(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn generated(seed: &mut u64, depth: u32) -> DataType {
        let units = [
            TimeUnit::Second,
            TimeUnit::Millisecond,
            TimeUnit::Microsecond,
            TimeUnit::Nanosecond,
        ];
        let names = [
            "a", "b c", " edge ", "k:v", "x,y", "q\"uote", "<>", "ünï", "dot.ted",
        ];
        let pick = step(seed) % if depth > 3 { 22 } else { 25 };
        let u = units[(step(seed) % 4) as usize];
        match pick {
            0 => DataType::Null,
            1 => DataType::Boolean,
            2 => DataType::Int8,
            3 => DataType::Int16,
            4 => DataType::Int32,
            5 => DataType::Int64,
            6 => DataType::UInt8,
            7 => DataType::UInt32,
            8 => DataType::UInt64,
            9 => DataType::Float16,
            10 => DataType::Float32,
            11 => DataType::Float64,
            12 => DataType::Utf8,
            13 => DataType::Binary,
            14 => DataType::LargeBinary,
            15 => DataType::FixedSizeBinary((step(seed) % 64) as i32 + 1),
            16 => DataType::Date32,
            17 => DataType::Date64,
            18 => DataType::Timestamp(u, step(seed).is_multiple_of(2).then(|| Arc::from("+02:00"))),
            19 => DataType::Decimal128((step(seed) % 38) as u8 + 1, (step(seed) % 10) as i8),
            20 => DataType::Decimal256((step(seed) % 76) as u8 + 1, (step(seed) % 10) as i8),
            21 => match step(seed) % 3 {
                0 => DataType::Duration(u),
                1 => DataType::Time32(units[(step(seed) % 2) as usize]),
                _ => DataType::Time64(units[2 + (step(seed) % 2) as usize]),
            },
            22 => DataType::List(Arc::new(Field::new(
                "item",
                generated(seed, depth + 1),
                true,
            ))),
            23 => DataType::LargeList(Arc::new(Field::new(
                "item",
                generated(seed, depth + 1),
                true,
            ))),
            _ => {
                let n = 1 + (step(seed) % 4) as usize;
                let fields: Vec<Field> = (0..n)
                    .map(|i| {
                        let name =
                            format!("{}{i}", names[(step(seed) % names.len() as u64) as usize]);
                        Field::new(name, generated(seed, depth + 1), true)
                    })
                    .collect();
                DataType::Struct(fields.into())
            }
        }
    }

    #[test]
    fn stored_type_names_read_back_exactly() {
        let mut seed = 42;
        for i in 0..5_000 {
            let dt = generated(&mut seed, 0);
            let name = type_name(&dt);
            assert_eq!(parse_type(&name), Some(dt.clone()), "case {i}: {name}");
            let schema = Schema::new(vec![Field::new("c", dt, true)]);
            assert_eq!(storable(&schema).unwrap(), schema, "case {i}");
        }
    }

    #[test]
    fn unstorable_types_are_converted_or_refused_with_the_column_named() {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let schema = Schema::new(vec![
            Field::new("d", dict, true),
            Field::new("v", DataType::Utf8View, true),
        ]);
        let stored = storable(&schema).unwrap();
        assert_eq!(stored.field(0).data_type(), &DataType::Utf8);
        assert_eq!(stored.field(1).data_type(), &DataType::Utf8);
        let map = DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(
                    vec![
                        Field::new("key", DataType::Utf8, false),
                        Field::new("value", DataType::Int64, true),
                    ]
                    .into(),
                ),
                false,
            )),
            false,
        );
        let err = storable(&Schema::new(vec![Field::new("tags", map, true)])).unwrap_err();
        assert!(err.contains("column `tags`"), "{err}");
        for bad in ["", "  "] {
            let err =
                storable(&Schema::new(vec![Field::new(bad, DataType::Int64, true)])).unwrap_err();
            assert!(err.contains("empty name"), "{err}");
        }
    }
    use arrow::array::{Int64Array, StringArray};

    fn schema(cols: &[(&str, DataType)]) -> Schema {
        Schema::new(
            cols.iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn type_names_round_trip() {
        for dt in [
            DataType::Int64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Utf8,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            DataType::Decimal128(12, 2),
            DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
            DataType::Struct(
                vec![
                    Field::new("device", DataType::Utf8, true),
                    Field::new(
                        "tags",
                        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                        true,
                    ),
                    Field::new("price", DataType::Decimal128(10, 2), true),
                ]
                .into(),
            ),
        ] {
            assert_eq!(parse_type(&type_name(&dt)), Some(dt.clone()), "{dt}");
        }
    }

    #[test]
    fn supertypes_widen_and_fall_back_to_string() {
        use DataType::*;
        assert_eq!(supertype(&Int64, &Float64), Some(Float64));
        assert_eq!(supertype(&Null, &Date32), Some(Date32));
        assert_eq!(
            supertype(&Date32, &Timestamp(TimeUnit::Microsecond, None)),
            Some(Timestamp(TimeUnit::Microsecond, None))
        );
        assert_eq!(supertype(&Int64, &Boolean), Some(Utf8));
        let list = List(Arc::new(Field::new("item", Int64, true)));
        assert_eq!(supertype(&list, &Int64), None);
    }

    #[test]
    fn unify_keeps_order_and_adds_new_columns() {
        let a = schema(&[("id", DataType::Int64), ("amount", DataType::Int64)]);
        let b = schema(&[("amount", DataType::Float64), ("note", DataType::Utf8)]);
        let u = unify(&a, &b).unwrap();
        assert_eq!(
            u,
            schema(&[
                ("id", DataType::Int64),
                ("amount", DataType::Float64),
                ("note", DataType::Utf8)
            ])
        );
    }

    #[test]
    fn diff_names_added_removed_and_retyped_columns() {
        let a = schema(&[
            ("id", DataType::Int64),
            ("old", DataType::Utf8),
            ("amount", DataType::Int64),
        ]);
        let b = schema(&[
            ("id", DataType::Int64),
            ("amount", DataType::Float64),
            ("new", DataType::Boolean),
        ]);
        let d: Vec<String> = diff(&a, &b).iter().map(|d| d.to_string()).collect();
        assert_eq!(
            d,
            ["- old string", "~ amount int64 -> float64", "+ new bool"]
        );
    }

    #[test]
    fn conform_casts_reorders_and_fills_nulls() {
        let batch = RecordBatch::try_from_iter([
            ("b", Arc::new(StringArray::from(vec!["x", "y"])) as _),
            ("a", Arc::new(Int64Array::from(vec![1, 2])) as _),
        ])
        .unwrap();
        let target = Arc::new(schema(&[
            ("a", DataType::Float64),
            ("b", DataType::Utf8),
            ("c", DataType::Int64),
        ]));
        let out = conform(&batch, &target).unwrap();
        assert_eq!(out.schema(), target);
        assert_eq!(out.column(2).null_count(), 2);
    }

    #[test]
    fn schema_files_name_the_bad_field() {
        let err =
            schema_from_json(&json!({"fields": [{"name": "x", "type": "int65"}]})).unwrap_err();
        assert!(err.contains("`x`") && err.contains("int65"), "{err}");
        let err = schema_from_json(
            &json!({"fields": [{"name": "x", "type": "int64"}, {"name": "x", "type": "string"}]}),
        )
        .unwrap_err();
        assert!(err.contains("twice"), "{err}");
    }
}
