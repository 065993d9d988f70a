//! Quoted CSV fields, watched: a stray quote must not swallow rows without a word.
//!
//! A `"` at the start of a field opens a quoted field that runs to the next lone `"`, newlines
//! and all. One stray quote (`5,"abc`) therefore merges every following line into one field, and
//! the CSV decoder, which only sees a long field, reads on. This scan follows the same rules over
//! the bytes the decoder consumes and fails when a quoted field is still open at the end of the
//! file, or grows past [`MAX_QUOTED_FIELD`], naming the line where its quote opened. It jumps
//! between the bytes that matter (`memchr`), so it costs little beside decoding.

/// The longest quoted field accepted; past it, the quote that opened it is taken for a stray.
pub const MAX_QUOTED_FIELD: u64 = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: the field closes, unless another `"` follows (an escape).
    QuoteInQuoted,
}

/// Where quoting has gone wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteProblem {
    /// The file ended inside a quoted field that opened on this line.
    Unterminated { line: u64 },
    /// A quoted field that opened on this line passed [`MAX_QUOTED_FIELD`] bytes.
    TooLong { line: u64 },
}

impl QuoteProblem {
    pub fn line(&self) -> u64 {
        match self {
            QuoteProblem::Unterminated { line } | QuoteProblem::TooLong { line } => *line,
        }
    }

    pub fn message(&self) -> String {
        match self {
            QuoteProblem::Unterminated { .. } => {
                "a quoted field opens here and never closes: a stray `\"` would swallow every line after it".into()
            }
            QuoteProblem::TooLong { .. } => format!(
                "a quoted field opens here and runs past {} MiB: most likely a stray `\"`",
                MAX_QUOTED_FIELD >> 20
            ),
        }
    }
}

/// The quote state of a CSV stream, fed in chunks.
#[derive(Debug)]
pub struct QuoteScan {
    delimiter: u8,
    state: State,
    line: u64,
    opened_at: u64,
    quoted_bytes: u64,
}

impl QuoteScan {
    pub fn new(delimiter: u8) -> QuoteScan {
        QuoteScan {
            delimiter,
            state: State::FieldStart,
            line: 1,
            opened_at: 0,
            quoted_bytes: 0,
        }
    }

    /// Follow the quoting through `bytes`.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), QuoteProblem> {
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::FieldStart => {
                    let b = bytes[i];
                    i += 1;
                    self.state = if b == b'"' {
                        self.opened_at = self.line;
                        self.quoted_bytes = 0;
                        State::Quoted
                    } else {
                        self.after(b)
                    };
                }
                State::Unquoted => match memchr::memchr2(self.delimiter, b'\n', &bytes[i..]) {
                    None => i = bytes.len(),
                    Some(at) => {
                        if bytes[i + at] == b'\n' {
                            self.line += 1;
                        }
                        i += at + 1;
                        self.state = State::FieldStart;
                    }
                },
                State::Quoted => {
                    let rest = &bytes[i..];
                    let (at, found) = match memchr::memchr(b'"', rest) {
                        Some(at) => (at, true),
                        None => (rest.len(), false),
                    };
                    self.line += memchr::memchr_iter(b'\n', &rest[..at]).count() as u64;
                    self.quoted_bytes += at as u64;
                    if self.quoted_bytes > MAX_QUOTED_FIELD {
                        return Err(QuoteProblem::TooLong {
                            line: self.opened_at,
                        });
                    }
                    i += at + usize::from(found);
                    if found {
                        self.state = State::QuoteInQuoted;
                    }
                }
                State::QuoteInQuoted => {
                    let b = bytes[i];
                    i += 1;
                    self.state = if b == b'"' {
                        self.quoted_bytes += 1;
                        State::Quoted
                    } else {
                        // A closed field: text after the quote belongs to it, unquoted.
                        self.after(b)
                    };
                }
            }
        }
        Ok(())
    }

    /// The state after byte `b` outside quotes: a new field after a delimiter or line end,
    /// otherwise the middle of an unquoted field.
    fn after(&mut self, b: u8) -> State {
        match b {
            b'\n' => {
                self.line += 1;
                State::FieldStart
            }
            b'\r' => State::FieldStart,
            b if b == self.delimiter => State::FieldStart,
            _ => State::Unquoted,
        }
    }

    /// The end of the file: nothing may still be quoted.
    pub fn finish(&self) -> Result<(), QuoteProblem> {
        if self.state == State::Quoted {
            return Err(QuoteProblem::Unterminated {
                line: self.opened_at,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, chunk: usize) -> Result<(), QuoteProblem> {
        let mut s = QuoteScan::new(b',');
        for part in text.as_bytes().chunks(chunk.max(1)) {
            s.feed(part)?;
        }
        s.finish()
    }

    #[test]
    fn well_quoted_files_pass_in_any_chunking() {
        let text = "id,note\n1,\"a, \"\"b\"\"\nc\"\n2,plain \"quote\" inside\n3,\"\"\n4,\"x\"y\r\n";
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(scan(text, chunk), Ok(()), "chunk {chunk}");
        }
    }

    #[test]
    fn a_stray_quote_names_its_line() {
        let text = "id,note\n1,ok\n2,\"oops\n3,more\n4,rows\n";
        for chunk in [1, 5, 1000] {
            assert_eq!(
                scan(text, chunk),
                Err(QuoteProblem::Unterminated { line: 3 }),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_runaway_quoted_field_is_bounded() {
        let mut s = QuoteScan::new(b',');
        s.feed(b"id,note\n1,\"").unwrap();
        let block = vec![b'x'; 1 << 20];
        let mut result = Ok(());
        for _ in 0..17 {
            result = s.feed(&block);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(QuoteProblem::TooLong { line: 2 }));
    }
}
