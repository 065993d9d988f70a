//! Where a CSV source is wrong, once Arrow's reader has refused it.
//!
//! Arrow reports CSV problems as text (`ArrowError::CsvError(String)` and `ParseError(String)`),
//! and its line numbers count records, not the file's lines. So a refused source is read again
//! with the csv crate, whose errors are typed (`ErrorKind::UnequalLengths`, `ErrorKind::Utf8`
//! with the field) and whose `Position` is the file's line even past quoted values that span
//! lines; its records go back through Arrow's own decoder to find the first value that is not
//! of its column's type. This second pass runs only after a read has failed.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use csv::{ErrorKind, StringRecord};

use super::schema::type_name;
use super::source::{CsvOptions, Source, Stored, bad};
use crate::error::{Error, Location};

/// Records checked against the column types together before one is checked alone.
const GROUP: usize = 4096;

/// Bytes read from the source at a time on this second pass.
const READ_CHUNK: usize = 1 << 20;

/// The error to report for Arrow's refusal `arrow` of the CSV `source`: the first bad record's
/// line and what is wrong with it, found with at most `records` records read (all when `None`;
/// inference reads only its first ones); Arrow's own words for the whole file when that pass finds
/// nothing wrong. `schema` holds the source's columns typed as they were being decoded (`None`
/// while inferring them).
pub(super) fn refusal(
    source: &Source,
    csv: &CsvOptions,
    schema: Option<&Schema>,
    records: Option<usize>,
    arrow: &ArrowError,
) -> Error {
    first_bad_record(source, csv, schema, records).unwrap_or_else(|| {
        let text = arrow.to_string();
        let text = text
            .trim_start_matches("Csv error: ")
            .trim_start_matches("Parser error: ");
        bad(&source.path, Location::File, text)
    })
}

fn first_bad_record(
    source: &Source,
    csv: &CsvOptions,
    schema: Option<&Schema>,
    limit: Option<usize>,
) -> Option<Error> {
    let path = source.path.as_path();
    let delimiter = csv.delimiter_for(path);
    let stored = Stored::open(source).ok()?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(csv.has_header)
        .from_reader(BufReader::with_capacity(READ_CHUNK, stored));
    let mut names: Vec<String> = match schema {
        Some(s) => s.fields().iter().map(|f| f.name().clone()).collect(),
        None => Vec::new(),
    };
    if csv.has_header {
        match reader.headers() {
            Ok(header) if names.is_empty() => names = header.iter().map(str::to_string).collect(),
            Ok(_) => {}
            Err(e) => return structural(path, &e, &names),
        }
    }
    let format = csv.format(path).with_header(false);
    let mut types = schema.map(|s| Types::new(path, s, format, delimiter));
    let mut record = StringRecord::new();
    let mut read = 0usize;
    while limit.is_none_or(|n| read < n) {
        match reader.read_record(&mut record) {
            Ok(true) => {
                read += 1;
                if let Some(types) = &mut types
                    && let Some(e) = types.push(&record)
                {
                    return Some(e);
                }
            }
            Ok(false) => break,
            // A value before this record may be wrong too; it comes first in the file.
            Err(e) => {
                return types
                    .as_mut()
                    .and_then(Types::check)
                    .or_else(|| structural(path, &e, &names));
            }
        }
    }
    types.as_mut().and_then(Types::check)
}

/// A problem with the shape or encoding of a record, at the line the record starts on.
fn structural(path: &Path, e: &csv::Error, names: &[String]) -> Option<Error> {
    let at = |pos: &Option<csv::Position>| match pos {
        Some(p) => Location::Line(p.line()),
        None => Location::File,
    };
    match e.kind() {
        ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => Some(bad(
            path,
            at(pos),
            format!("ragged row: expected {expected_len} fields, found {len}"),
        )),
        ErrorKind::Utf8 { pos, err } => Some(bad(
            path,
            at(pos),
            format!(
                "invalid UTF-8 in column {}",
                column_name(names, err.field())
            ),
        )),
        _ => None,
    }
}

fn column_name(names: &[String], index: usize) -> String {
    match names.get(index) {
        Some(name) => format!("`{name}`"),
        None => format!("{}", index + 1),
    }
}

/// Records waiting to be decoded with the columns' types, each with the line it starts on.
struct Types<'a> {
    path: &'a Path,
    schema: SchemaRef,
    format: Format,
    delimiter: u8,
    records: Vec<(u64, StringRecord)>,
}

impl<'a> Types<'a> {
    fn new(path: &'a Path, schema: &Schema, format: Format, delimiter: u8) -> Types<'a> {
        Types {
            path,
            schema: Arc::new(schema.clone()),
            format,
            delimiter,
            records: Vec::with_capacity(GROUP),
        }
    }

    fn push(&mut self, record: &StringRecord) -> Option<Error> {
        let line = record.position().map_or(0, |p| p.line());
        self.records.push((line, record.clone()));
        if self.records.len() >= GROUP {
            self.check()
        } else {
            None
        }
    }

    /// Decode the waiting records; if that fails, find the first that fails alone, and in it
    /// the first column that fails alone.
    fn check(&mut self) -> Option<Error> {
        let records = std::mem::take(&mut self.records);
        if records.is_empty() || self.decodes(&self.schema, records.iter().map(|(_, r)| r)) {
            return None;
        }
        let (line, record) = records
            .iter()
            .find(|(_, r)| !self.decodes(&self.schema, std::iter::once(r)))?;
        let at = Location::Line(*line);
        for (i, field) in self.schema.fields().iter().enumerate() {
            if field.data_type() == &DataType::Utf8 {
                continue;
            }
            // Only this column typed: whether it is the one that fails.
            let one = Schema::new(
                self.schema
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(j, f)| {
                        let dt = if i == j {
                            f.data_type().clone()
                        } else {
                            DataType::Utf8
                        };
                        Field::new(f.name(), dt, true)
                    })
                    .collect::<Vec<_>>(),
            );
            if !self.decodes(&Arc::new(one), std::iter::once(record)) {
                return Some(bad(
                    self.path,
                    at,
                    format!(
                        "value `{}` in column `{}` is not {} (the type was inferred from the first rows; pass --schema to set it)",
                        record.get(i).unwrap_or(""),
                        field.name(),
                        type_name(field.data_type()),
                    ),
                ));
            }
        }
        Some(bad(
            self.path,
            at,
            "the row's values are not of the columns' types",
        ))
    }

    /// Whether Arrow's decoder, with the source's options, reads `records` as `schema`.
    fn decodes<'r>(
        &self,
        schema: &SchemaRef,
        records: impl Iterator<Item = &'r StringRecord>,
    ) -> bool {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .from_writer(Vec::new());
        let mut count = 0;
        // Writing to memory fails only for records of unequal lengths, which the reader has
        // refused already; such a group is not the one to blame.
        for record in records {
            if writer.write_record(record).is_err() {
                return true;
            }
            count += 1;
        }
        let Ok(bytes) = writer.into_inner() else {
            return true;
        };
        let mut decoder = arrow::csv::ReaderBuilder::new(schema.clone())
            .with_format(self.format.clone())
            .with_batch_size(count + 1)
            .build_decoder();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            match decoder.decode(rest) {
                Ok(0) | Err(_) => return false,
                Ok(n) => rest = &rest[n..],
            }
        }
        decoder.flush().is_ok()
    }
}
