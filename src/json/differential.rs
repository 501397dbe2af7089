//! Differential property tests: our tape parser against `serde_json` on generated documents
//! (escapes, surrogate pairs, deep nesting, large and tiny numbers, random whitespace), on one-byte
//! mutations of them (what the two accept must agree, and then the values), and on random bytes
//! (invalid UTF-8 included). Fixed seeds and case counts: the same cases on every run, a few
//! seconds in CI.

use serde_json::Value;

use super::Doc;

/// Documents generated per seed.
const CASES: u64 = 400;

struct Gen {
    rng: fastrand::Rng,
}

impl Gen {
    fn ws(&mut self, out: &mut String) {
        for _ in 0..self.rng.usize(0..3) {
            out.push(*self.rng.choice(&[' ', '\n', '\t', '\r']).unwrap());
        }
    }

    fn number(&mut self, out: &mut String) {
        match self.rng.u8(0..6) {
            0 => out.push_str(&self.rng.i64(..).to_string()),
            1 => out.push_str(&self.rng.u64(..).to_string()),
            2 => out.push_str(&format!("{}", self.rng.i32(-1000..1000))),
            3 => {
                let int = self.rng.i64(-99_999..99_999);
                let frac = self.rng.u32(0..1_000_000);
                out.push_str(&format!("{int}.{frac:06}"));
            }
            4 => {
                let m = self.rng.u32(1..1000);
                let e = self.rng.i32(-20..20);
                let mark = *self.rng.choice(&["e", "E", "e+", "E-"]).unwrap();
                out.push_str(&format!("{m}{mark}{}", e.abs()));
            }
            _ => out.push_str(
                self.rng
                    .choice(&["0", "-0", "0.0", "1e0", "-1.5E-7"])
                    .unwrap(),
            ),
        }
    }

    fn string(&mut self, out: &mut String) {
        out.push('"');
        for _ in 0..self.rng.usize(0..12) {
            match self.rng.u8(0..10) {
                0 => out.push_str(
                    self.rng
                        .choice(&["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"])
                        .unwrap(),
                ),
                1 => out.push_str(&format!("\\u{:04x}", self.rng.u32(0x20..0xd7ff))),
                2 => {
                    // A surrogate pair: an astral character escaped.
                    let c = self.rng.u32(0x10000..0x10ffff) - 0x10000;
                    out.push_str(&format!(
                        "\\u{:04X}\\u{:04x}",
                        0xd800 + (c >> 10),
                        0xdc00 + (c & 0x3ff)
                    ));
                }
                3 => out.push(char::from_u32(self.rng.u32(0xa0..0xd7ff)).unwrap_or('é')),
                4 => out.push(
                    *self
                        .rng
                        .choice(&['😀', '€', 'ß', '中', '\u{feff}'])
                        .unwrap(),
                ),
                _ => out.push(self.rng.alphanumeric()),
            }
        }
        out.push('"');
    }

    fn value(&mut self, depth: u32, out: &mut String) {
        self.ws(out);
        let kind = if depth > 6 {
            self.rng.u8(0..4)
        } else {
            self.rng.u8(0..7)
        };
        match kind {
            0 => out.push_str(self.rng.choice(&["null", "true", "false"]).unwrap()),
            1 | 2 => self.number(out),
            3 => self.string(out),
            4 => {
                out.push('[');
                for i in 0..self.rng.usize(0..5) {
                    if i > 0 {
                        out.push(',');
                    }
                    self.value(depth + 1, out);
                }
                self.ws(out);
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..self.rng.usize(0..5) {
                    if i > 0 {
                        out.push(',');
                    }
                    self.ws(out);
                    self.string(out);
                    self.ws(out);
                    out.push(':');
                    self.value(depth + 1, out);
                }
                self.ws(out);
                out.push('}');
            }
        }
        self.ws(out);
    }
}

/// Both parsers on `bytes`: the same verdict, and the same value when valid.
fn agree(bytes: &[u8]) {
    let theirs = serde_json::from_slice::<Value>(bytes);
    let ours = Doc::from_bytes(bytes.to_vec());
    let shown = String::from_utf8_lossy(bytes);
    match (theirs, ours) {
        (Ok(v), Ok(doc)) => assert_eq!(doc.root().to_value(), v, "{shown}"),
        (Err(_), Err(_)) => {}
        // serde_json refuses numbers beyond f64 (we keep their digits as text): not a disagreement
        // about JSON, only about what a number may be.
        (Err(e), Ok(_)) if e.to_string().contains("number out of range") => {}
        (theirs, ours) => panic!(
            "disagree on {shown:?}: serde_json {:?}, ours {:?}",
            theirs.map(|_| ()),
            ours.map(|_| ()).map_err(|e| e.to_string())
        ),
    }
}

#[test]
fn generated_documents_parse_as_serde_json_parses_them() {
    for seed in 0..3u64 {
        let mut g = Gen {
            rng: fastrand::Rng::with_seed(seed),
        };
        for _ in 0..CASES {
            let mut text = String::new();
            g.value(0, &mut text);
            agree(text.as_bytes());
        }
    }
}

#[test]
fn one_byte_mutations_are_accepted_or_refused_by_both() {
    let mut g = Gen {
        rng: fastrand::Rng::with_seed(7),
    };
    for _ in 0..CASES * 3 {
        let mut text = String::new();
        g.value(0, &mut text);
        let mut bytes = text.into_bytes();
        if bytes.is_empty() {
            continue;
        }
        let at = g.rng.usize(0..bytes.len());
        let byte = *g
            .rng
            .choice(b"{}[],:\"\\0123456789eE+-.tfn \x01\xff\xc3")
            .unwrap();
        match g.rng.u8(0..3) {
            0 => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ => {
                bytes.remove(at);
            }
        }
        agree(&bytes);
    }
}

#[test]
fn random_bytes_and_edge_documents_agree() {
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..CASES * 3 {
        let len = rng.usize(0..16);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                *rng.choice(b"[]{}\",:0123456789-.eEtrufalsn \\u\xed\xa0\x80\xf0\x9f")
                    .unwrap()
            })
            .collect();
        agree(&bytes);
    }
    let edges = [
        "\u{feff}[1]".to_string(),
        "[1e400]".to_string(),
        "[-1e-400]".to_string(),
        "[18446744073709551616]".to_string(),
        "[-9223372036854775809]".to_string(),
        "\"\\ud83d\\ude00\"".to_string(),
        "\"\\ud83d\"".to_string(),
        // Deep but within both limits (ours is 128 levels, serde_json's 127).
        "[".repeat(100) + &"]".repeat(100),
    ];
    for text in &edges {
        agree(text.as_bytes());
    }
}
