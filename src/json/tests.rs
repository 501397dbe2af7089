use std::borrow::Cow;

use serde_json::{Value, json};

use super::*;

fn doc(text: &str) -> Doc {
    Doc::parse(text.to_string()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn agrees_with_serde_json_on_valid_documents() {
    let texts = [
        r#"{"patients":[{"id":1,"name":"Ann","amount":"-76.0","teeth":["UL1",null],"n":-1.5e3,
            "user":{"id":2,"x":{}},"e":[],"b":true,"f":false,"z":null}],"meta":{"total_count":1}}"#,
        r#"  [1, 2.50, -0, 0.1, 1E+2, "a\"b\\c\/d\n\u00e9\ud83d\ude00", {"":""}]  "#,
        "\"just a string\"",
        "42",
        "null",
        "{}",
        "[[[]]]",
    ];
    for text in texts {
        let expected: Value = serde_json::from_str(text).unwrap();
        assert_eq!(doc(text).root().to_value(), expected, "{text}");
    }
}

#[test]
fn rejects_what_serde_json_rejects() {
    let bad = [
        "",
        " ",
        "{",
        "[1,]",
        "{\"a\":1,}",
        "{a:1}",
        "[01]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[-]",
        "\"\\x\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"a\u{1}b\"",
        "\"open",
        "tru",
        "[1] 2",
        "nul",
        "{\"a\" 1}",
        "[+1]",
    ];
    for text in bad {
        assert!(
            serde_json::from_str::<Value>(text).is_err(),
            "serde accepts {text:?}"
        );
        assert!(Doc::parse(text.to_string()).is_err(), "we accept {text:?}");
    }
    let deep = "[".repeat(129) + &"]".repeat(129);
    assert!(Doc::parse(deep).is_err(), "nesting is limited");
    let ok = "[".repeat(128) + &"]".repeat(128);
    assert!(Doc::parse(ok).is_ok());
    let err = Doc::from_bytes(vec![b'"', 0xff, b'"']).unwrap_err();
    assert_eq!(err.why, "invalid UTF-8");
}

#[test]
fn reads_values_without_converting_the_rest() {
    let d = doc(r#"{"id":7,"amount":"-76.0","fee":12.50,"big":18446744073709551615,"s":"a\tb"}"#);
    let root = d.root();
    assert_eq!(root.kind(), Kind::Object);
    assert_eq!(root.get("id").and_then(Node::as_i64), Some(7));
    assert_eq!(
        root.get("fee").and_then(Node::number),
        Some("12.50"),
        "digits as sent"
    );
    assert_eq!(root.get("big").and_then(Node::as_i64), None);
    assert!(matches!(
        root.get("amount").and_then(Node::as_str),
        Some(Cow::Borrowed("-76.0"))
    ));
    assert!(matches!(root.get("s").and_then(Node::as_str), Some(Cow::Owned(s)) if s == "a\tb"));
    assert_eq!(root.get("missing"), None);
    let keys: Vec<_> = root.entries().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(keys, ["id", "amount", "fee", "big", "s"], "document order");
}

#[test]
fn json_text_is_compact_and_borrowed_when_possible() {
    let compact = doc(r#"{"a":[1,{"b":"x y"}],"c":null}"#);
    assert!(parse::is_compact(&compact));
    let a = compact.root().get("a").unwrap();
    assert!(matches!(a.json(), Cow::Borrowed(r#"[1,{"b":"x y"}]"#)));
    let spaced = doc("{ \"a\" : [ 1 , { \"b\" : \"x y\" } ] }");
    assert!(!parse::is_compact(&spaced));
    assert_eq!(spaced.root().get("a").unwrap().json(), r#"[1,{"b":"x y"}]"#);
    let escaped = doc(r#"{"a":{"b":"caf\u00e9"}}"#);
    assert_eq!(escaped.root().get("a").unwrap().json(), r#"{"b":"café"}"#);
}

#[test]
fn positions_find_the_same_node_again() {
    let value = json!({"rows": [{"id": 1}, {"id": 2}, {"id": 3}]});
    let d = Doc::from_value(&value);
    let positions: Vec<u32> = d
        .root()
        .get("rows")
        .unwrap()
        .items()
        .map(Node::position)
        .collect();
    let ids: Vec<_> = positions
        .iter()
        .map(|p| d.node(*p).get("id").unwrap().as_i64())
        .collect();
    assert_eq!(ids, [Some(1), Some(2), Some(3)]);
}
