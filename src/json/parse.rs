//! The tokenizer: JSON text → a flat tape of [`Tok`]s with byte offsets into the text.
//!
//! A strict RFC 8259 recursive-descent parser (the same grammar `serde_json` accepts, with the
//! same nesting limit of 128): it validates strings (escapes, surrogate pairs, no raw control
//! characters) and numbers, but converts neither: a string token is the span between its quotes,
//! a number token the span of its digits. Converting only what a column needs, from the exact text
//! the API sent, is what makes decoding cheap and money exact.

use super::{JsonError, Tok};

/// Deepest nesting accepted (as `serde_json`'s default recursion limit).
const MAX_DEPTH: usize = 128;

pub(super) fn tokenize(text: &str) -> Result<(Vec<Tok>, bool), JsonError> {
    if u32::try_from(text.len()).is_err() {
        return Err(JsonError::new(0, "a JSON document over 4 GiB"));
    }
    let mut p = Parser {
        b: text.as_bytes(),
        at: 0,
        tape: Vec::with_capacity(text.len() / 8),
        compact: true,
    };
    p.ws();
    p.value(0)?;
    p.ws();
    if p.at != p.b.len() {
        return Err(p.error("trailing characters after the JSON value"));
    }
    Ok((p.tape, p.compact))
}

struct Parser<'t> {
    b: &'t [u8],
    at: usize,
    tape: Vec<Tok>,
    /// No whitespace between tokens anywhere: raw spans are already compact JSON.
    compact: bool,
}

impl Parser<'_> {
    fn error(&self, why: &'static str) -> JsonError {
        JsonError::new(self.at, why)
    }

    fn ws(&mut self) {
        let start = self.at;
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.at) {
            self.at += 1;
        }
        if self.at != start {
            self.compact = false;
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), JsonError> {
        match self.b.get(self.at) {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => {
                let tok = self.string()?;
                self.tape.push(tok);
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", Tok::True),
            Some(b'f') => self.literal(b"false", Tok::False),
            Some(b'n') => self.literal(b"null", Tok::Null),
            Some(_) => Err(self.error("expected a JSON value")),
            None => Err(self.error("unexpected end of the JSON text")),
        }
    }

    fn literal(&mut self, word: &'static [u8], tok: Tok) -> Result<(), JsonError> {
        if self.b[self.at..].starts_with(word) {
            self.at += word.len();
            self.tape.push(tok);
            Ok(())
        } else {
            Err(self.error("expected true, false or null"))
        }
    }

    fn open(&mut self, depth: usize) -> Result<usize, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("JSON nested deeper than 128 levels"));
        }
        let slot = self.tape.len();
        // Patched by `close` once the container's extent is known.
        self.tape.push(Tok::Null);
        self.at += 1;
        self.ws();
        Ok(slot)
    }

    fn close(&mut self, slot: usize, start: usize, object: bool) {
        self.at += 1;
        let (end, start, stop) = (self.tape.len() as u32, start as u32, self.at as u32);
        self.tape[slot] = if object {
            Tok::Object { end, start, stop }
        } else {
            Tok::Array { end, start, stop }
        };
    }

    fn object(&mut self, depth: usize) -> Result<(), JsonError> {
        let start = self.at;
        let slot = self.open(depth)?;
        if self.b.get(self.at) == Some(&b'}') {
            self.close(slot, start, true);
            return Ok(());
        }
        loop {
            if self.b.get(self.at) != Some(&b'"') {
                return Err(self.error("expected a quoted object key"));
            }
            let key = self.string()?;
            self.tape.push(key);
            self.ws();
            if self.b.get(self.at) != Some(&b':') {
                return Err(self.error("expected `:` after an object key"));
            }
            self.at += 1;
            self.ws();
            self.value(depth)?;
            self.ws();
            match self.b.get(self.at) {
                Some(b',') => {
                    self.at += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.close(slot, start, true);
                    return Ok(());
                }
                _ => return Err(self.error("expected `,` or `}` in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), JsonError> {
        let start = self.at;
        let slot = self.open(depth)?;
        if self.b.get(self.at) == Some(&b']') {
            self.close(slot, start, false);
            return Ok(());
        }
        loop {
            self.value(depth)?;
            self.ws();
            match self.b.get(self.at) {
                Some(b',') => {
                    self.at += 1;
                    self.ws();
                }
                Some(b']') => {
                    self.close(slot, start, false);
                    return Ok(());
                }
                _ => return Err(self.error("expected `,` or `]` in an array")),
            }
        }
    }

    /// A string starting at the opening quote; the token spans its content.
    fn string(&mut self) -> Result<Tok, JsonError> {
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        loop {
            self.skip_plain();
            let Some(&c) = self.b.get(self.at) else {
                return Err(self.error("unterminated string"));
            };
            match c {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                0..=0x1f => return Err(self.error("control character in a string")),
                _ => self.at += 1,
            }
        }
        let tok = Tok::String {
            start: start as u32,
            end: self.at as u32,
            escaped,
        };
        self.at += 1;
        Ok(tok)
    }

    /// Skips string bytes that need no attention (not `"`, `\\`, or a control character),
    /// eight at a time while they last.
    fn skip_plain(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
        while let Some(chunk) = self.b.get(self.at..self.at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let special = has_zero(word ^ (ONES * u64::from(b'"')))
                | has_zero(word ^ (ONES * u64::from(b'\\')))
                | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
            if special != 0 {
                // The lowest flagged byte is the first special one (earlier bytes are exact).
                self.at += (special.trailing_zeros() / 8) as usize;
                return;
            }
            self.at += 8;
        }
    }

    /// One escape sequence at the backslash; a high surrogate must be followed by a low one.
    fn escape(&mut self) -> Result<(), JsonError> {
        match self.b.get(self.at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.at += 2;
                Ok(())
            }
            Some(b'u') => {
                let unit = self.hex4(self.at + 2)?;
                self.at += 6;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = (self.b.get(self.at) == Some(&b'\\')
                            && self.b.get(self.at + 1) == Some(&b'u'))
                        .then(|| self.hex4(self.at + 2))
                        .transpose()?;
                        match low {
                            Some(0xDC00..=0xDFFF) => {
                                self.at += 6;
                                Ok(())
                            }
                            _ => Err(self.error("lone leading surrogate in \\u escape")),
                        }
                    }
                    0xDC00..=0xDFFF => Err(self.error("lone trailing surrogate in \\u escape")),
                    _ => Ok(()),
                }
            }
            _ => Err(self.error("invalid escape in a string")),
        }
    }

    fn hex4(&self, at: usize) -> Result<u32, JsonError> {
        let digits = self
            .b
            .get(at..at + 4)
            .ok_or_else(|| self.error("short \\u escape"))?;
        digits.iter().try_fold(0u32, |acc, d| {
            let v = (*d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            Ok(acc * 16 + v)
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.b.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<(), JsonError> {
        let start = self.at;
        if self.b[self.at] == b'-' {
            self.at += 1;
        }
        match self.b.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.b.get(self.at) == Some(&b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number: no digits after `.`"));
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.b.get(self.at) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number: no digits in the exponent"));
            }
        }
        self.tape.push(Tok::Number {
            start: start as u32,
            end: self.at as u32,
        });
        Ok(())
    }
}

/// Whether `doc`'s text was compact (used by tests).
#[cfg(test)]
pub(super) fn is_compact(doc: &super::Doc) -> bool {
    doc.compact
}
