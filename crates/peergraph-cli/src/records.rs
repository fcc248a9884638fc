//! Records from the command line: the commands a running `join` node reads on stdin, one per
//! line, and the lines it prints for records and their changes (see USAGE.md, "Records").

use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use peergraph::{
    Attribute, AttributeValue, Comparison, Condition, GraphEvent, Record, RecordChangeKind,
    RecordContent, RecordId, RecordQuery,
};

use crate::node::LocalNode;
use crate::shown::Shown;

/// The type of records added without `type:`.
pub(crate) const DEFAULT_TYPE: &str = "note";

/// How long a record lives without `ttl:`: one day.
const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A record type from its name: the name's bytes (1 to 16), zero-padded.
pub(crate) fn record_type(name: &str) -> Result<[u8; 16], String> {
    if name.is_empty() || name.len() > 16 {
        return Err(format!("a record type is 1 to 16 bytes: {}", Shown(name)));
    }
    let mut kind = [0; 16];
    kind[..name.len()].copy_from_slice(name.as_bytes());
    Ok(kind)
}

/// A record type's name: its bytes up to the padding, or hex if they are not text.
pub(crate) fn type_name(kind: &[u8; 16]) -> String {
    let end = kind
        .iter()
        .rposition(|byte| *byte != 0)
        .map_or(0, |at| at + 1);
    match std::str::from_utf8(&kind[..end]) {
        Ok(name) if !name.is_empty() && !name.contains('\0') => Shown(name).to_string(),
        _ => crate::node::hex(kind),
    }
}

/// One line for a record: `record ID vN type:T by PEER [NAME=VALUE ...] DATA`.
pub(crate) fn record_line(record: &Record) -> String {
    let mut line = format!(
        "record {} v{} type:{} by {}",
        record.id,
        record.version,
        type_name(&record.record_type),
        Shown(&record.creator_id)
    );
    for attribute in &record.attributes {
        let value = match &attribute.value {
            AttributeValue::Text(text) => Shown(text).to_string(),
            AttributeValue::Integer(integer) => integer.to_string(),
        };
        line.push_str(&format!(" {}={value}", Shown(&attribute.name)));
    }
    line.push(' ');
    line.push_str(&Shown(&String::from_utf8_lossy(&record.data)).to_string());
    line
}

/// The line a `RecordChanged` event prints on a node in a graph.
pub(crate) fn change_line(local: &LocalNode, event: &GraphEvent) -> Option<String> {
    let GraphEvent::RecordChanged(change) = event else {
        return None;
    };
    let me = &local.peer_id;
    let what = match change.change {
        RecordChangeKind::Added => "added",
        RecordChangeKind::Updated => "updated",
        RecordChangeKind::Deleted => "deleted",
        RecordChangeKind::Expired => "expired",
    };
    Some(match local.node.get_record(local.graph, change.record_id) {
        Ok(record) => format!("[{me}] {what}: {}", record_line(&record)),
        Err(_) => format!(
            "[{me}] {what}: record {} type:{}",
            change.record_id,
            type_name(&change.record_type)
        ),
    })
}

/// Runs one command line on `local`; returns what to print.
pub(crate) fn run_command(local: &LocalNode, line: &str) -> Vec<String> {
    let mut words = line.split_whitespace();
    let Some(command) = words.next() else {
        return Vec::new();
    };
    let words: Vec<&str> = words.collect();
    let result = match command {
        "add" => add(local, &words),
        "update" => update(local, &words),
        "delete" => delete(local, &words, false),
        "delete-local" => delete(local, &words, true),
        "get" => get(local, &words),
        "list" | "search" => search(local, &words),
        "export" => transfer(local, &words, true),
        "import" => transfer(local, &words, false),
        "stats" => stats(local),
        "properties" => properties_line(local).map(|line| vec![line]),
        "name" | "comment" => set_property(local, command, line),
        other => Err(format!(
            "unknown command {}: add, update, delete, delete-local, get, list, search, \
             export, import, stats, properties, name, comment",
            Shown(other)
        )),
    };
    result.unwrap_or_else(|error| vec![format!("error: {error}")])
}

/// `[type:T] [ttl:SECS] [NAME=VALUE]... TEXT`: the options, then the text.
fn content(words: &[&str], default_type: &str) -> Result<RecordContent, String> {
    let mut record_type_name = default_type;
    let mut ttl = DEFAULT_TTL;
    let mut attributes = Vec::new();
    let mut rest = words;
    while let Some((word, tail)) = rest.split_first() {
        if let Some(name) = word.strip_prefix("type:") {
            record_type_name = name;
        } else if let Some(seconds) = word.strip_prefix("ttl:") {
            let seconds: u64 = seconds
                .parse()
                .map_err(|_| format!("ttl is whole seconds: {}", Shown(seconds)))?;
            ttl = Duration::from_secs(seconds);
        } else if let Some((name, value)) = word.split_once('=') {
            attributes.push(attribute(name, value));
        } else {
            break;
        }
        rest = tail;
    }
    if rest.is_empty() {
        return Err("the record has no text".to_owned());
    }
    Ok(RecordContent {
        record_type: record_type(record_type_name)?,
        attributes,
        data: Bytes::from(rest.join(" ")),
        expires_at: SystemTime::now() + ttl,
    })
}

/// An attribute: an integer if the value reads as one, text otherwise.
fn attribute(name: &str, value: &str) -> Attribute {
    match value.parse::<i64>() {
        Ok(integer) => Attribute::integer(name, integer),
        Err(_) => Attribute::text(name, value),
    }
}

fn record_id(word: Option<&&str>) -> Result<RecordId, String> {
    let word = word.ok_or("a record id is missing")?;
    word.parse()
        .map_err(|_| format!("not a record id: {}", Shown(word)))
}

fn add(local: &LocalNode, words: &[&str]) -> Result<Vec<String>, String> {
    let content = content(words, DEFAULT_TYPE)?;
    let id = local
        .node
        .add_record(local.graph, content)
        .map_err(|error| error.to_string())?;
    Ok(vec![format!("added {id}")])
}

fn update(local: &LocalNode, words: &[&str]) -> Result<Vec<String>, String> {
    let id = record_id(words.first())?;
    let held = local
        .node
        .get_record(local.graph, id)
        .map_err(|error| error.to_string())?;
    let mut content = content(&words[1..], &type_name(&held.record_type))?;
    content.expires_at = content.expires_at.max(held.expires_at);
    local
        .node
        .update_record(local.graph, id, content)
        .map_err(|error| error.to_string())?;
    Ok(vec![format!("updated {id}")])
}

fn delete(local: &LocalNode, words: &[&str], only_here: bool) -> Result<Vec<String>, String> {
    let id = record_id(words.first())?;
    local
        .node
        .delete_record(local.graph, id, only_here)
        .map_err(|error| error.to_string())?;
    Ok(vec![format!("deleted {id}")])
}

fn get(local: &LocalNode, words: &[&str]) -> Result<Vec<String>, String> {
    let id = record_id(words.first())?;
    let record = local
        .node
        .get_record(local.graph, id)
        .map_err(|error| error.to_string())?;
    Ok(vec![record_line(&record)])
}

/// `[type:T] [creator:PEER] [NAME OP VALUE]...` with OP one of `=`, `!=`, `<`, `<=`, `>`, `>=`,
/// `~` (contains) and `^` (starts with); then one line per record and `found N`.
fn search(local: &LocalNode, words: &[&str]) -> Result<Vec<String>, String> {
    let mut query = RecordQuery::default();
    for word in words {
        if let Some(name) = word.strip_prefix("type:") {
            query.record_type = Some(record_type(name)?);
        } else if let Some(creator) = word.strip_prefix("creator:") {
            query.creator_id = Some(creator.to_owned());
        } else {
            query.conditions.push(condition(word)?);
        }
    }
    let mut records = local
        .node
        .search_records(local.graph, &query)
        .map_err(|error| error.to_string())?;
    records.sort_by_key(|record| record.created_at);
    let mut lines: Vec<String> = records.iter().map(record_line).collect();
    lines.push(format!("found {}", records.len()));
    Ok(lines)
}

fn condition(word: &str) -> Result<Condition, String> {
    // Longest operators first, so `<=` is not read as `<`.
    const OPERATORS: [(&str, Comparison); 8] = [
        ("!=", Comparison::NotEqual),
        ("<=", Comparison::LessOrEqual),
        (">=", Comparison::GreaterOrEqual),
        ("=", Comparison::Equal),
        ("<", Comparison::Less),
        (">", Comparison::Greater),
        ("~", Comparison::Contains),
        ("^", Comparison::StartsWith),
    ];
    let found = OPERATORS
        .iter()
        .filter_map(|(text, comparison)| word.find(text).map(|at| (at, *text, *comparison)))
        .min_by_key(|(at, text, _)| (*at, std::cmp::Reverse(text.len())));
    let Some((at, text, comparison)) = found else {
        return Err(format!(
            "not a condition (NAME OP VALUE, OP one of = != < <= > >= ~ ^): {}",
            Shown(word)
        ));
    };
    let (name, value) = (&word[..at], &word[at + text.len()..]);
    if name.is_empty() {
        return Err(format!("a condition names no attribute: {}", Shown(word)));
    }
    Ok(Condition {
        name: name.to_owned(),
        comparison,
        value: attribute(name, value).value,
    })
}

fn transfer(local: &LocalNode, words: &[&str], export: bool) -> Result<Vec<String>, String> {
    let path = Path::new(words.first().ok_or("a file is missing")?);
    let count = if export {
        local.node.export_database(local.graph, path)
    } else {
        local.node.import_database(local.graph, path)
    }
    .map_err(|error| error.to_string())?;
    let what = if export { "exported" } else { "imported" };
    Ok(vec![format!("{what} {count} records")])
}

/// `properties: name "NAME" comment "COMMENT" creator PEER`: the graph's properties as this
/// node reads them now.
pub(crate) fn properties_line(local: &LocalNode) -> Result<String, String> {
    let properties = local
        .node
        .graph_properties(local.graph)
        .map_err(|error| error.to_string())?;
    Ok(format!(
        "properties: name \"{}\" comment \"{}\" creator {}",
        Shown(&properties.friendly_name),
        Shown(&properties.comment),
        Shown(&properties.creator_id)
    ))
}

/// `name TEXT` or `comment TEXT`: sets that property for the whole graph, keeping the others.
fn set_property(local: &LocalNode, which: &str, line: &str) -> Result<Vec<String>, String> {
    let text = line.trim_start()[which.len()..].trim();
    let mut properties = local
        .node
        .graph_properties(local.graph)
        .map_err(|error| error.to_string())?;
    if which == "name" {
        properties.friendly_name = text.to_owned();
    } else {
        properties.comment = text.to_owned();
    }
    local
        .node
        .set_graph_properties(
            local.graph,
            &properties.friendly_name,
            &properties.comment,
            properties.presence_lifetime,
        )
        .map_err(|error| error.to_string())?;
    Ok(vec![format!("set {which}")])
}

fn stats(local: &LocalNode) -> Result<Vec<String>, String> {
    let stats = local
        .node
        .record_stats(local.graph)
        .map_err(|error| error.to_string())?;
    Ok(vec![format!(
        "held {} ({} bytes), received {}, stale {}, rejected {}, sent {}, reconciliation {} \
         frames ({} bytes)",
        stats.held,
        stats.bytes,
        stats.received,
        stats.stale,
        stats.rejected,
        stats.sent,
        stats.reconcile_frames,
        stats.reconcile_bytes
    )])
}
