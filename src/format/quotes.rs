//! Quoted CSV fields, watched: a stray quote must not swallow rows without a word.
//!
//! A `"` at the start of a field opens a quoted field that runs to the next lone `"`, newlines
//! and all. One stray quote (`5,"abc`) therefore merges every following line into one field, and
//! the CSV decoder, which only sees a long field, reads on. This scan follows the same rules over
//! the bytes the decoder consumes and fails when a quoted field is still open at the end of the
//! file, or grows past [`MAX_QUOTED_FIELD`], naming the line where its quote opened. It jumps
//! between the bytes that matter (`memchr`), so it costs little beside decoding.

/// The longest quoted field accepted; past it, the quote that opened it is taken for a stray.
pub(crate) const MAX_QUOTED_FIELD: u64 = 16 << 20;

/// Where quoting has gone wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QuoteProblem {
    /// The file ended inside a quoted field that opened on this line.
    Unterminated { line: u64 },
    /// A quoted field that opened on this line passed [`MAX_QUOTED_FIELD`] bytes.
    TooLong { line: u64 },
}

impl QuoteProblem {
    pub(crate) fn line(&self) -> u64 {
        match self {
            QuoteProblem::Unterminated { line } | QuoteProblem::TooLong { line } => *line,
        }
    }

    pub(crate) fn message(&self) -> String {
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
///
/// Outside a quoted field only quotes matter, and a quote opens one only at the start of a
/// field, that is right after a delimiter, a line end or the start of the file; so the scan
/// jumps from quote to quote, counting the newlines it passes. Inside, it jumps to the next
/// quote, which closes the field unless another follows at once (an escaped quote).
#[derive(Debug)]
pub(crate) struct QuoteScan {
    delimiter: u8,
    quoted: bool,
    /// Inside a quoted field, the last byte was a quote: the next decides close or escape.
    pending_quote: bool,
    /// The byte before the current position (a field starts after these).
    previous: u8,
    line: u64,
    opened_at: u64,
    quoted_bytes: u64,
}

impl QuoteScan {
    pub(crate) fn new(delimiter: u8) -> QuoteScan {
        QuoteScan {
            delimiter,
            quoted: false,
            pending_quote: false,
            previous: b'\n',
            line: 1,
            opened_at: 0,
            quoted_bytes: 0,
        }
    }

    fn newlines(bytes: &[u8]) -> u64 {
        memchr::memchr_iter(b'\n', bytes).count() as u64
    }

    /// Follow the quoting through `bytes`.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), QuoteProblem> {
        let mut i = 0;
        if self.pending_quote && !bytes.is_empty() {
            // The quote that ended the last chunk: escaped if another follows, else a close.
            self.pending_quote = false;
            if bytes[0] == b'"' {
                self.quoted_bytes += 1;
                self.previous = b'"';
                i = 1;
            } else {
                self.quoted = false;
            }
        }
        while i < bytes.len() {
            let rest = &bytes[i..];
            if self.quoted {
                let Some(at) = memchr::memchr(b'"', rest) else {
                    self.line += Self::newlines(rest);
                    self.quoted_bytes += rest.len() as u64;
                    self.previous = rest[rest.len() - 1];
                    return self.check_length();
                };
                self.line += Self::newlines(&rest[..at]);
                self.quoted_bytes += at as u64;
                self.check_length()?;
                match rest.get(at + 1) {
                    None => {
                        self.pending_quote = true;
                        self.previous = b'"';
                        return Ok(());
                    }
                    Some(b'"') => {
                        // An escaped quote: still inside.
                        self.quoted_bytes += 1;
                        self.previous = b'"';
                        i += at + 2;
                    }
                    Some(_) => {
                        self.quoted = false;
                        self.previous = b'"';
                        i += at + 1;
                    }
                }
            } else {
                let Some(at) = memchr::memchr(b'"', rest) else {
                    self.line += Self::newlines(rest);
                    self.previous = rest[rest.len() - 1];
                    return Ok(());
                };
                self.line += Self::newlines(&rest[..at]);
                let before = if at == 0 { self.previous } else { rest[at - 1] };
                if before == self.delimiter || before == b'\n' || before == b'\r' {
                    self.quoted = true;
                    self.opened_at = self.line;
                    self.quoted_bytes = 0;
                }
                // Else a quote inside an unquoted field: a literal character.
                self.previous = b'"';
                i += at + 1;
            }
        }
        Ok(())
    }

    fn check_length(&self) -> Result<(), QuoteProblem> {
        if self.quoted_bytes > MAX_QUOTED_FIELD {
            return Err(QuoteProblem::TooLong {
                line: self.opened_at,
            });
        }
        Ok(())
    }

    /// The end of the file: nothing may still be quoted.
    pub(crate) fn finish(&self) -> Result<(), QuoteProblem> {
        if self.quoted && !self.pending_quote {
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

    /// The byte-by-byte state machine the scan replaced, kept as its oracle (with a lone `\\r`
    /// ending an unquoted field, as csv_core's default terminator does).
    mod reference {
        use super::super::{MAX_QUOTED_FIELD, QuoteProblem};

        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum State {
            FieldStart,
            Unquoted,
            Quoted,
            /// A `"` inside a quoted field: the field closes, unless another `"` follows (an escape).
            QuoteInQuoted,
        }

        /// The quote state of a CSV stream, fed in chunks.
        #[derive(Debug)]
        pub(super) struct Reference {
            delimiter: u8,
            state: State,
            line: u64,
            opened_at: u64,
            quoted_bytes: u64,
        }

        impl Reference {
            pub(super) fn new(delimiter: u8) -> Reference {
                Reference {
                    delimiter,
                    state: State::FieldStart,
                    line: 1,
                    opened_at: 0,
                    quoted_bytes: 0,
                }
            }

            /// Follow the quoting through `bytes`.
            pub(super) fn feed(&mut self, bytes: &[u8]) -> Result<(), QuoteProblem> {
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
                        State::Unquoted => {
                            match memchr::memchr3(self.delimiter, b'\n', b'\r', &bytes[i..]) {
                                None => i = bytes.len(),
                                Some(at) => {
                                    if bytes[i + at] == b'\n' {
                                        self.line += 1;
                                    }
                                    i += at + 1;
                                    self.state = State::FieldStart;
                                }
                            }
                        }
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
            pub(super) fn finish(&self) -> Result<(), QuoteProblem> {
                if self.state == State::Quoted {
                    return Err(QuoteProblem::Unterminated {
                        line: self.opened_at,
                    });
                }
                Ok(())
            }
        }
    }

    #[test]
    fn the_jumping_scan_agrees_with_the_state_machine() {
        let alphabet = b"\"\"a,\n\r;";
        let mut rng = crate::scan::Rng::new(7, 0);
        let mut next = move || rng.next();
        for case in 0..20_000 {
            let len = (next() % 40) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() as usize) % alphabet.len()])
                .collect();
            let chunk = 1 + (next() % 8) as usize;
            let run_new = || {
                let mut s = QuoteScan::new(b',');
                for part in text.chunks(chunk) {
                    s.feed(part)?;
                }
                s.finish()
            };
            let run_old = || {
                let mut s = reference::Reference::new(b',');
                for part in text.chunks(chunk) {
                    s.feed(part)?;
                }
                s.finish()
            };
            assert_eq!(
                run_new(),
                run_old(),
                "case {case}: {:?} in chunks of {chunk}",
                String::from_utf8_lossy(&text)
            );
        }
    }

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
