//! Splits a JSON source into records: one object per line (NDJSON), a stream of objects, or
//! the elements of one top-level array. Each record comes with the line it starts on, so a
//! decoder's complaint can name it. The scan tracks only nesting and strings; the decoder
//! validates the rest.

use std::io::BufRead;
use std::path::Path;

use crate::error::{Error, Location};

pub(crate) enum ScanError {
    Io(std::io::Error),
    Bad { line: u64, problem: String },
}

impl ScanError {
    pub(crate) fn at(self, path: &Path) -> Error {
        match self {
            ScanError::Io(source) => Error::Io {
                path: path.to_path_buf(),
                source,
            },
            ScanError::Bad { line, problem } => Error::BadInput {
                path: path.to_path_buf(),
                at: Location::Line(line),
                problem,
            },
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outer {
    /// Nothing but white space seen yet.
    Start,
    /// Between top-level objects.
    Stream,
    /// Inside a top-level `[ … ]`, between elements.
    Array,
    /// After the closing `]`.
    Closed,
}

/// The deepest nesting of objects and arrays read. Deeper records are refused, naming their
/// line, before any decoder recurses into them (deep enough to overflow a thread's stack).
pub(crate) const MAX_NESTING: usize = 32;

pub(crate) struct JsonRecords<R> {
    reader: R,
    outer: Outer,
    line: u64,
    /// A UTF-8 byte order mark at the start has been looked for.
    bom_checked: bool,
}

impl<R: BufRead> JsonRecords<R> {
    pub(crate) fn new(reader: R) -> Self {
        JsonRecords {
            reader,
            outer: Outer::Start,
            line: 1,
            bom_checked: false,
        }
    }

    /// Records of a part of a source that starts on `line`, after its start (no byte order
    /// mark is looked for).
    pub(crate) fn starting_at(reader: R, line: u64) -> Self {
        JsonRecords {
            reader,
            outer: Outer::Start,
            line,
            bom_checked: line > 1,
        }
    }

    pub(crate) fn get_ref(&self) -> &R {
        &self.reader
    }

    pub(crate) fn into_inner(self) -> R {
        self.reader
    }

    fn bad(&self, problem: String) -> ScanError {
        ScanError::Bad {
            line: self.line,
            problem,
        }
    }

    /// The next record and the line it starts on, or `None` at the end.
    pub(crate) fn next_record(&mut self) -> Result<Option<(u64, Vec<u8>)>, ScanError> {
        if !self.bom_checked {
            self.bom_checked = true;
            let buf = self.reader.fill_buf().map_err(ScanError::Io)?;
            if buf.starts_with(b"\xEF\xBB\xBF") {
                self.reader.consume(3);
            }
        }
        // Skip to the start of the next object.
        loop {
            let buf = self.reader.fill_buf().map_err(ScanError::Io)?;
            if buf.is_empty() {
                return match self.outer {
                    Outer::Array => {
                        Err(self.bad("the file ends before the closing `]` of its array".into()))
                    }
                    _ => Ok(None),
                };
            }
            let mut used = 0;
            let mut found = false;
            for &b in buf {
                match b {
                    b'\n' => self.line += 1,
                    b' ' | b'\t' | b'\r' => {}
                    b'[' if self.outer == Outer::Start => self.outer = Outer::Array,
                    b',' if self.outer == Outer::Array => {}
                    b']' if self.outer == Outer::Array => self.outer = Outer::Closed,
                    b'{' if self.outer != Outer::Closed => {
                        found = true;
                        break;
                    }
                    other => {
                        let problem = if self.outer == Outer::Closed {
                            "unexpected data after the closing `]`".to_string()
                        } else {
                            format!(
                                "expected a JSON object, found `{}`",
                                char::from(other).escape_default()
                            )
                        };
                        return Err(self.bad(problem));
                    }
                }
                used += 1;
            }
            self.reader.consume(used);
            if found {
                break;
            }
        }
        if self.outer == Outer::Start {
            self.outer = Outer::Stream;
        }
        // Copy the object through its matching close.
        let start_line = self.line;
        let mut record = Vec::new();
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let buf = self.reader.fill_buf().map_err(ScanError::Io)?;
            if buf.is_empty() {
                return Err(ScanError::Bad {
                    line: start_line,
                    problem: "the file ends inside the JSON object that starts here".into(),
                });
            }
            let mut end = None;
            for (i, &b) in buf.iter().enumerate() {
                if b == b'\n' {
                    self.line += 1;
                }
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => {
                        depth += 1;
                        if depth > MAX_NESTING {
                            return Err(ScanError::Bad {
                                line: self.line,
                                problem: format!(
                                    "nested more than {MAX_NESTING} levels deep; lake reads at most {MAX_NESTING}"
                                ),
                            });
                        }
                    }
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let take = end.unwrap_or(buf.len());
            record.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            if end.is_some() {
                return Ok(Some((start_line, record)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Result<Vec<(u64, String)>, String> {
        let mut r = JsonRecords::new(std::io::BufReader::with_capacity(3, text.as_bytes()));
        let mut out = Vec::new();
        loop {
            match r.next_record() {
                Ok(Some((line, bytes))) => out.push((line, String::from_utf8(bytes).unwrap())),
                Ok(None) => return Ok(out),
                Err(ScanError::Bad { line, problem }) => return Err(format!("{line}: {problem}")),
                Err(ScanError::Io(e)) => return Err(e.to_string()),
            }
        }
    }

    #[test]
    fn splits_ndjson_streams_and_arrays() {
        let nd = "{\"a\":1}\n\n{\"a\":\"}\"}\n";
        assert_eq!(
            records(nd).unwrap(),
            [(1, r#"{"a":1}"#.into()), (3, r#"{"a":"}"}"#.into())]
        );
        let arr = "[\n {\"a\": [1,2]},\n {\"b\": {\"c\": \"\\\"\"}}\n]\n";
        let got = records(arr).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 3);
        assert_eq!(records("[]").unwrap(), []);
    }

    #[test]
    fn names_the_line_of_structural_problems() {
        assert_eq!(
            records("{\"a\":1}\n42\n").unwrap_err(),
            "2: expected a JSON object, found `4`"
        );
        assert_eq!(
            records("[{\"a\":1},\n{\"a\":").unwrap_err(),
            "2: the file ends inside the JSON object that starts here"
        );
        assert_eq!(
            records("[{\"a\":1}\n").unwrap_err(),
            "2: the file ends before the closing `]` of its array"
        );
        assert_eq!(
            records("[{\"a\":1}] x").unwrap_err(),
            "1: unexpected data after the closing `]`"
        );
    }
}
