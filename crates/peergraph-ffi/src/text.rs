//! The text forms C uses where Windows uses XML: a record's attributes (`pwzAttributes`) and
//! the criteria of `PeerGraphSearchRecords`; and GUIDs as text. Both forms are read strictly:
//! anything not described here is refused, never guessed at.
//!
//! **Attributes**: one attribute a line, lines ended by `\n` (the last `\n` may be left out; no
//! empty lines, no `\r`):
//! - `name=text` is a text attribute (the text may be empty);
//! - `name:int=42` is an integer attribute (`-?[0-9]+`, a signed 64-bit value).
//!
//! A name is 1 to 64 characters of `A-Z a-z 0-9 _ . -`, unique within the record, and may not
//! start with `peer` (reserved). In a text value `\\` is a backslash, `\n` a line feed and `\r`
//! a carriage return; any other backslash, and a raw carriage return, is refused. The empty
//! string (or a null pointer) is no attributes. The library writes the same form back, one line
//! per attribute in the record's order, each line ended by `\n`.
//!
//! **Search criteria**: lines as above, all of which must hold (AND):
//! - `type=<GUID>` the record's type, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hexadecimal,
//!   optionally within braces (at most once);
//! - `creator=<peer id>` the peer id that added it, the rest of the line (at most once);
//! - `attr <name> <op> <value>` or `attr <name>:int <op> <value>`, one space between the parts:
//!   the record's attribute `name` compares with the value (text, escaped as above, or an
//!   integer), `op` being one of `=` `!=` `<` `<=` `>` `>=` (same type; `!=` also matches a record
//!   without the attribute) or, for text only, `contains` and `startswith`.
//!
//! Empty criteria match every record.

use peergraph::{Attribute, AttributeValue, Comparison, Condition, RecordQuery};

/// The longest attribute name, in bytes (the core's limit).
const MAX_NAME_LEN: usize = 64;

/// Reads attribute text; `None` if it is not of the form above.
pub(crate) fn parse_attributes(text: &str) -> Option<Vec<Attribute>> {
    let mut attributes: Vec<Attribute> = Vec::new();
    for line in lines(text)? {
        let (key, value) = line.split_once('=')?;
        let attribute = match key.split_once(':') {
            Some((name, "int")) => Attribute::integer(name, parse_integer(value)?),
            Some(_) => return None,
            None => Attribute::text(key, unescape(value)?),
        };
        if !valid_name(&attribute.name)
            || attributes.iter().any(|other| other.name == attribute.name)
        {
            return None;
        }
        attributes.push(attribute);
    }
    Some(attributes)
}

/// Writes attributes in the form [`parse_attributes`] reads.
pub(crate) fn format_attributes(attributes: &[Attribute]) -> String {
    let mut text = String::new();
    for attribute in attributes {
        match &attribute.value {
            AttributeValue::Text(value) => {
                text.push_str(&attribute.name);
                text.push('=');
                escape_into(&mut text, value);
            }
            AttributeValue::Integer(value) => {
                text.push_str(&format!("{}:int={value}", attribute.name));
            }
        }
        text.push('\n');
    }
    text
}

/// Reads search criteria; `None` if they are not of the form above.
pub(crate) fn parse_criteria(text: &str) -> Option<RecordQuery> {
    let mut query = RecordQuery::default();
    for line in lines(text)? {
        if let Some(guid) = line.strip_prefix("type=") {
            if query.record_type.is_some() {
                return None;
            }
            query.record_type = Some(parse_guid(guid)?);
        } else if let Some(creator) = line.strip_prefix("creator=") {
            if query.creator_id.is_some() || creator.is_empty() {
                return None;
            }
            query.creator_id = Some(creator.to_owned());
        } else if let Some(condition) = line.strip_prefix("attr ") {
            query.conditions.push(parse_condition(condition)?);
        } else {
            return None;
        }
    }
    Some(query)
}

/// `<name>[:int] <op> <value>`.
fn parse_condition(text: &str) -> Option<Condition> {
    let (key, rest) = text.split_once(' ')?;
    let (op, value) = rest.split_once(' ')?;
    let comparison = match op {
        "=" => Comparison::Equal,
        "!=" => Comparison::NotEqual,
        "<" => Comparison::Less,
        "<=" => Comparison::LessOrEqual,
        ">" => Comparison::Greater,
        ">=" => Comparison::GreaterOrEqual,
        "contains" => Comparison::Contains,
        "startswith" => Comparison::StartsWith,
        _ => return None,
    };
    let (name, value) = match key.split_once(':') {
        Some((name, "int")) => {
            if matches!(comparison, Comparison::Contains | Comparison::StartsWith) {
                return None;
            }
            (name, AttributeValue::Integer(parse_integer(value)?))
        }
        Some(_) => return None,
        None => (key, AttributeValue::Text(unescape(value)?)),
    };
    valid_name(name).then(|| Condition {
        name: name.to_owned(),
        comparison,
        value,
    })
}

/// The lines of `text`: ended by `\n`, the last one's optional; none empty, none with `\r`.
fn lines(text: &str) -> Option<Vec<&str>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<&str> = body.split('\n').collect();
    lines
        .iter()
        .all(|line| !line.is_empty() && !line.contains('\r'))
        .then_some(lines)
}

fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && !name.starts_with("peer")
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'))
}

/// `-?[0-9]+` as a signed 64-bit integer.
fn parse_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn unescape(text: &str) -> Option<String> {
    let mut value = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        value.push(match c {
            '\\' => match chars.next()? {
                '\\' => '\\',
                'n' => '\n',
                'r' => '\r',
                _ => return None,
            },
            c => c,
        });
    }
    Some(value)
}

fn escape_into(text: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => text.push_str("\\\\"),
            '\n' => text.push_str("\\n"),
            '\r' => text.push_str("\\r"),
            c => text.push(c),
        }
    }
}

/// A GUID's 16 bytes (Windows' order, as [`crate::abi::GUID::to_bytes`]) from
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, optionally within braces.
pub(crate) fn parse_guid(text: &str) -> Option<[u8; 16]> {
    let text = match text.strip_prefix('{') {
        Some(inner) => inner.strip_suffix('}')?,
        None => text,
    };
    let parts: Vec<&str> = text.split('-').collect();
    let [a, b, c, d, e] = parts.as_slice() else {
        return None;
    };
    if [a.len(), b.len(), c.len(), d.len(), e.len()] != [8, 4, 4, 4, 12]
        || !text
            .bytes()
            .all(|byte| byte == b'-' || byte.is_ascii_hexdigit())
    {
        return None;
    }
    let data4 = format!("{d}{e}");
    let mut tail = [0u8; 8];
    for (byte, index) in tail.iter_mut().zip((0..16).step_by(2)) {
        *byte = u8::from_str_radix(&data4[index..index + 2], 16).ok()?;
    }
    let guid = crate::abi::GUID {
        Data1: u32::from_str_radix(a, 16).ok()?,
        Data2: u16::from_str_radix(b, 16).ok()?,
        Data3: u16::from_str_radix(c, 16).ok()?,
        Data4: tail,
    };
    Some(guid.to_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn attributes_read_and_write_back() {
        let text = "room=lobby\\nfloor 2\nseats:int=-42\nempty=\n";
        let attributes = parse_attributes(text).unwrap();
        assert_eq!(
            attributes,
            [
                Attribute::text("room", "lobby\nfloor 2"),
                Attribute::integer("seats", -42),
                Attribute::text("empty", ""),
            ]
        );
        assert_eq!(format_attributes(&attributes), text);
        assert_eq!(
            parse_attributes("a=1").unwrap(),
            [Attribute::text("a", "1")]
        );
        assert_eq!(parse_attributes("").unwrap(), []);
        assert_eq!(
            parse_attributes("a=x=y\\\\").unwrap(),
            [Attribute::text("a", "x=y\\")]
        );
    }

    #[test]
    fn bad_attribute_text_is_refused() {
        for bad in [
            "\n",
            "a=1\n\nb=2",
            "noequals",
            "=value",
            "a:int=",
            "a:int=+1",
            "a:int=1.5",
            "a:int=99999999999999999999",
            "a:float=1",
            "a=1\nb:int=2\na=3",
            "peerrecordid=1",
            "sp ace=1",
            "a=line\r",
            "a=bad\\escape",
            "a=trailing\\",
            &format!("{}=1", "n".repeat(65)),
        ] {
            assert_eq!(parse_attributes(bad), None, "{bad:?}");
        }
        assert!(parse_attributes(&format!("{}=1", "n".repeat(64))).is_some());
    }

    #[test]
    fn criteria_read_as_a_query() {
        let query = parse_criteria(
            "type={01020304-0506-0708-090a-0B0C0D0E0F10}\ncreator=bob smith\n\
             attr room startswith lob\nattr seats:int >= 3\nattr x != a b\n",
        )
        .unwrap();
        assert_eq!(
            query.record_type,
            Some([4, 3, 2, 1, 6, 5, 8, 7, 9, 10, 11, 12, 13, 14, 15, 16])
        );
        assert_eq!(query.creator_id.as_deref(), Some("bob smith"));
        assert_eq!(
            query.conditions,
            [
                Condition {
                    name: "room".into(),
                    comparison: Comparison::StartsWith,
                    value: AttributeValue::Text("lob".into()),
                },
                Condition {
                    name: "seats".into(),
                    comparison: Comparison::GreaterOrEqual,
                    value: AttributeValue::Integer(3),
                },
                Condition {
                    name: "x".into(),
                    comparison: Comparison::NotEqual,
                    value: AttributeValue::Text("a b".into()),
                },
            ]
        );
        assert_eq!(parse_criteria("").unwrap(), RecordQuery::default());
        assert!(parse_criteria("type=01020304-0506-0708-090a-0b0c0d0e0f10").is_some());
    }

    #[test]
    fn bad_criteria_are_refused() {
        for bad in [
            "type=1234",
            "type={01020304-0506-0708-090a-0b0c0d0e0f10",
            "type=0102030g-0506-0708-090a-0b0c0d0e0f10",
            "type=01020304-0506-0708-090a0b-0c0d0e0f10",
            "type=01020304-0506-0708-090a-0b0c0d0e0f10\ntype=01020304-0506-0708-090a-0b0c0d0e0f10",
            "creator=",
            "creator=a\ncreator=b",
            "attr room",
            "attr room =",
            "attr room == x",
            "attr  room = x",
            "attr seats:int = x",
            "attr seats:int contains 1",
            "attr seats:float = 1",
            "attr peercreatorid = x",
            "select * from records",
            "\n",
        ] {
            assert_eq!(parse_criteria(bad), None, "{bad:?}");
        }
    }
}
