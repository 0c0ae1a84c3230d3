//! A Sigma detection compiled to one SQL boolean expression over `cloudtrail`.
//!
//! Sigma's matching, exactly: values compare case-insensitively unless `|cased`; `*` and `?` are
//! wildcards; a list of values is an OR (`|all`: an AND); a list of maps is an OR of ANDs; `null`
//! is "absent or null"; JSON numbers and booleans compare as their text; an array matches when
//! any element does (`json_match`). SQL's NULL never leaks into a verdict: `not x` is
//! `x IS NOT TRUE`, so a rule's `not filter` keeps events that lack the filtered field, as Sigma
//! means. What cannot be expressed is refused with the reason, never half-compiled.

use super::condition::{self, Condition};
use super::fields::{Target, resolve};
use super::pattern::{Pattern, base64, base64_offsets, windash};
use super::rule::{Detection, FieldItem, RuleValue, Search};
use crate::table::sigma_functions::JsonOp;

/// Why a rule cannot be compiled.
pub type Refusal = String;

pub use crate::table::statements::sql_literal as quote;

#[derive(Debug, Clone, Copy, PartialEq)]
enum MatchKind {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    Regex,
    Cidr,
    Exists,
    FieldRef,
    Compare(JsonOp),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Base64,
    Base64Offset,
}

/// A field's modifier chain, read once.
#[derive(Debug)]
struct Modifiers {
    kind: MatchKind,
    all: bool,
    cased: bool,
    negate: bool,
    windash: bool,
    encoding: Option<Encoding>,
    regex_flags: String,
}

impl Modifiers {
    fn parse(names: &[String]) -> Result<Modifiers, Refusal> {
        let mut m = Modifiers {
            kind: MatchKind::Equals,
            all: false,
            cased: false,
            negate: false,
            windash: false,
            encoding: None,
            regex_flags: String::new(),
        };
        let set_kind = |m: &mut Modifiers, kind: MatchKind| {
            if m.kind != MatchKind::Equals {
                return Err(format!(
                    "modifiers {} combine two kinds of comparison",
                    names.join("|")
                ));
            }
            m.kind = kind;
            Ok(())
        };
        for name in names {
            match name.as_str() {
                "contains" => set_kind(&mut m, MatchKind::Contains)?,
                "startswith" => set_kind(&mut m, MatchKind::StartsWith)?,
                "endswith" => set_kind(&mut m, MatchKind::EndsWith)?,
                "re" => set_kind(&mut m, MatchKind::Regex)?,
                "cidr" => set_kind(&mut m, MatchKind::Cidr)?,
                "exists" => set_kind(&mut m, MatchKind::Exists)?,
                "fieldref" => set_kind(&mut m, MatchKind::FieldRef)?,
                "lt" => set_kind(&mut m, MatchKind::Compare(JsonOp::Lt))?,
                "lte" => set_kind(&mut m, MatchKind::Compare(JsonOp::Lte))?,
                "gt" => set_kind(&mut m, MatchKind::Compare(JsonOp::Gt))?,
                "gte" => set_kind(&mut m, MatchKind::Compare(JsonOp::Gte))?,
                "all" => m.all = true,
                "cased" => m.cased = true,
                "neq" => m.negate = true,
                "windash" => m.windash = true,
                "base64" => m.encoding = Some(Encoding::Base64),
                "base64offset" => m.encoding = Some(Encoding::Base64Offset),
                "i" | "ignorecase" => m.regex_flags.push('i'),
                "m" | "multiline" => m.regex_flags.push('m'),
                "s" | "dotall" => m.regex_flags.push('s'),
                "expand" => {
                    return Err(
                        "modifier expand needs placeholder values from a processing pipeline, which trailscope does not take"
                            .to_string(),
                    );
                }
                "utf16" | "utf16le" | "utf16be" | "wide" => {
                    return Err(format!(
                        "modifier {name} (a Windows text encoding) is not compiled: CloudTrail text is UTF-8"
                    ));
                }
                other => return Err(format!("modifier {other:?} is not one Sigma defines")),
            }
        }
        if !m.regex_flags.is_empty() && m.kind != MatchKind::Regex {
            return Err(format!(
                "modifiers {}: i, m and s apply to re only",
                names.join("|")
            ));
        }
        let transforms = m.windash || m.encoding.is_some();
        if transforms
            && !matches!(
                m.kind,
                MatchKind::Equals
                    | MatchKind::Contains
                    | MatchKind::StartsWith
                    | MatchKind::EndsWith
            )
        {
            return Err(format!(
                "modifiers {}: base64, base64offset and windash apply to text comparisons only",
                names.join("|")
            ));
        }
        Ok(m)
    }
}

/// The SQL for `target` compared with one value's spellings (ORed).
fn text_test(target: &Target, spellings: &[Pattern], cased: bool) -> String {
    let mut plain = Vec::new();
    let mut parts = Vec::new();
    for p in spellings {
        let p = if cased { p.clone() } else { p.lowercase() };
        match (target, p.as_text()) {
            (Target::Text(_), Some(text)) => plain.push(quote(&text)),
            (Target::Text(expr), None) => parts.push(format!(
                "{expr} {} {}",
                if cased { "LIKE" } else { "ILIKE" },
                quote(&p.like())
            )),
            (Target::Json { .. }, Some(text)) => parts.push(op_sql(
                target,
                if cased { JsonOp::EqCased } else { JsonOp::Eq },
                &text,
            )),
            (Target::Json { .. }, None) => parts.push(op_sql(
                target,
                if cased {
                    JsonOp::LikeCased
                } else {
                    JsonOp::Like
                },
                &p.like(),
            )),
        }
    }
    if let Target::Text(expr) = target {
        let subject = if cased {
            expr.clone()
        } else {
            format!("lower({expr})")
        };
        match plain.len() {
            0 => {}
            1 => parts.insert(0, format!("{subject} = {}", plain[0])),
            _ => parts.insert(0, format!("{subject} IN ({})", plain.join(", "))),
        }
    }
    join(parts, "OR")
}

/// One test of `target` as SQL: `json_match` inside JSON, the plain SQL form on a text column.
fn op_sql(target: &Target, op: JsonOp, argument: &str) -> String {
    match target {
        Target::Json { doc, path } => format!(
            "json_match({doc}, {}, '{}', {})",
            quote(path),
            op.as_str(),
            quote(argument)
        ),
        Target::Text(expr) => match op {
            JsonOp::Regex => format!("regexp_like({expr}, {})", quote(argument)),
            JsonOp::Cidr => format!("cidr_match({expr}, {})", quote(argument)),
            JsonOp::Exists => format!("{expr} IS NOT NULL"),
            JsonOp::Lt | JsonOp::Lte | JsonOp::Gt | JsonOp::Gte => {
                let symbol = match op {
                    JsonOp::Lt => "<",
                    JsonOp::Lte => "<=",
                    JsonOp::Gt => ">",
                    _ => ">=",
                };
                format!("TRY_CAST({expr} AS DOUBLE) {symbol} {argument}")
            }
            JsonOp::Like => format!("{expr} ILIKE {}", quote(argument)),
            JsonOp::LikeCased => format!("{expr} LIKE {}", quote(argument)),
            JsonOp::Eq => format!("lower({expr}) = {}", quote(&argument.to_lowercase())),
            JsonOp::EqCased => format!("{expr} = {}", quote(argument)),
        },
    }
}

/// Sigma's `not`: true where `sql` is false or NULL (an absent field).
fn not(sql: &str) -> String {
    format!("({sql}) IS NOT TRUE")
}

fn join(parts: Vec<String>, op: &str) -> String {
    match parts.len() {
        0 => "FALSE".to_string(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("({})", parts.join(&format!(" {op} "))),
    }
}

fn value_text(value: &RuleValue) -> Option<&str> {
    match value {
        RuleValue::Text(s) | RuleValue::Scalar(s) => Some(s),
        RuleValue::Null => None,
    }
}

/// One value of an item, as SQL.
fn value_sql(target: &Target, m: &Modifiers, value: &RuleValue) -> Result<String, Refusal> {
    if *value == RuleValue::Null {
        return match m.kind {
            MatchKind::Equals => Ok(not(&op_sql(target, JsonOp::Exists, ""))),
            _ => Err("null can only be compared for equality".to_string()),
        };
    }
    let text = value_text(value).unwrap_or_default();
    match m.kind {
        MatchKind::Equals | MatchKind::Contains | MatchKind::StartsWith | MatchKind::EndsWith => {
            let base = match value {
                RuleValue::Text(s) => Pattern::parse(s),
                _ => Pattern::literal(text),
            };
            let mut spellings = if m.windash {
                windash(&base)?
            } else {
                vec![base]
            };
            spellings = match m.encoding {
                None => spellings,
                Some(Encoding::Base64) => spellings.iter().map(base64).collect::<Result<_, _>>()?,
                Some(Encoding::Base64Offset) => {
                    let mut all = Vec::new();
                    for s in &spellings {
                        all.extend(base64_offsets(s)?);
                    }
                    all
                }
            };
            let spellings: Vec<Pattern> = spellings
                .into_iter()
                .map(|p| match m.kind {
                    MatchKind::Contains => p.contains(),
                    MatchKind::StartsWith => p.starts_with(),
                    MatchKind::EndsWith => p.ends_with(),
                    _ => p,
                })
                .collect();
            Ok(text_test(target, &spellings, m.cased))
        }
        MatchKind::Regex => {
            let pattern = if m.regex_flags.is_empty() {
                text.to_string()
            } else {
                format!("(?{}){text}", m.regex_flags)
            };
            regex::Regex::new(&pattern).map_err(|e| {
                format!(
                    "regular expression {text:?} does not compile in Rust's regex syntax (no look-around or back-references): {}",
                    e.to_string().lines().last().unwrap_or_default()
                )
            })?;
            Ok(op_sql(target, JsonOp::Regex, &pattern))
        }
        MatchKind::Cidr => {
            let valid = text.split_once('/').is_some_and(|(ip, bits)| {
                ip.parse::<std::net::IpAddr>().is_ok_and(|ip| {
                    bits.parse::<u8>()
                        .is_ok_and(|b| b <= if ip.is_ipv4() { 32 } else { 128 })
                })
            });
            if !valid {
                return Err(format!(
                    "cidr value {text:?} is not a network such as 10.0.0.0/8"
                ));
            }
            Ok(op_sql(target, JsonOp::Cidr, text))
        }
        MatchKind::Exists => {
            let present = op_sql(target, JsonOp::Exists, "");
            match text.to_ascii_lowercase().as_str() {
                "true" | "yes" => Ok(present),
                "false" | "no" => Ok(not(&present)),
                _ => Err(format!("exists takes true or false, not {text:?}")),
            }
        }
        MatchKind::Compare(op) => {
            let number: f64 = text
                .trim()
                .parse()
                .map_err(|_| format!("{} compares numbers; {text:?} is not one", op.as_str()))?;
            Ok(op_sql(target, op, &number.to_string()))
        }
        MatchKind::FieldRef => {
            let (a, b) = (target.value_sql(), resolve(text).value_sql());
            Ok(if m.cased {
                format!("{a} = {b}")
            } else {
                format!("lower({a}) = lower({b})")
            })
        }
    }
}

fn item_sql(item: &FieldItem) -> Result<String, Refusal> {
    let target = match &item.field {
        Some(f) => resolve(f),
        None => Target::record(),
    };
    let mut m = Modifiers::parse(&item.modifiers)?;
    // A keyword with no modifier is searched for anywhere in the record.
    if item.field.is_none() && m.kind == MatchKind::Equals {
        m.kind = MatchKind::Contains;
    }
    if item.values.is_empty() {
        return Err(format!(
            "field {} has an empty list of values",
            item.field.as_deref().unwrap_or("(keywords)")
        ));
    }
    // Plain values ORed on one column read better (and run faster) as one IN list.
    if !m.all && !m.negate && m.kind == MatchKind::Equals && m.encoding.is_none() && !m.windash {
        let spellings: Option<Vec<Pattern>> = item
            .values
            .iter()
            .map(|v| match v {
                RuleValue::Text(s) => Some(Pattern::parse(s)),
                RuleValue::Scalar(s) => Some(Pattern::literal(s)),
                RuleValue::Null => None,
            })
            .collect();
        if let (Some(spellings), Target::Text(_)) = (spellings, &target) {
            return Ok(text_test(&target, &spellings, m.cased));
        }
    }
    let mut parts = Vec::new();
    for value in &item.values {
        let sql = value_sql(&target, &m, value)?;
        parts.push(if m.negate { not(&sql) } else { sql });
    }
    Ok(join(parts, if m.all { "AND" } else { "OR" }))
}

fn search_sql(name: &str, search: &Search) -> Result<String, Refusal> {
    match search {
        Search::Keywords(values) => item_sql(&FieldItem {
            field: None,
            modifiers: Vec::new(),
            values: values.clone(),
        }),
        Search::Maps(maps) => {
            let mut alternatives = Vec::new();
            for map in maps {
                if map.is_empty() {
                    return Err(format!("search identifier {name} holds an empty map"));
                }
                let items = map.iter().map(item_sql).collect::<Result<Vec<_>, _>>()?;
                alternatives.push(join(items, "AND"));
            }
            Ok(join(alternatives, "OR"))
        }
    }
}

fn condition_sql(condition: &Condition, searches: &[(String, String)]) -> Result<String, Refusal> {
    let of = |target: &condition::Target, op: &str| {
        let names = target.select(searches.iter().map(|(n, _)| n.as_str()));
        if names.is_empty() {
            return Err(format!("{target:?} names no search identifier"));
        }
        Ok(join(
            names
                .iter()
                .filter_map(|n| searches.iter().find(|(s, _)| s == n))
                .map(|(_, sql)| sql.clone())
                .collect(),
            op,
        ))
    };
    match condition {
        Condition::Search(name) => searches
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, sql)| sql.clone())
            .ok_or_else(|| format!("the condition names {name}, which detection does not define")),
        Condition::AnyOf(target) => of(target, "OR"),
        Condition::AllOf(target) => of(target, "AND"),
        Condition::Not(inner) => Ok(not(&condition_sql(inner, searches)?)),
        Condition::And(parts) | Condition::Or(parts) => {
            let op = if matches!(condition, Condition::And(_)) {
                "AND"
            } else {
                "OR"
            };
            let parts = parts
                .iter()
                .map(|p| condition_sql(p, searches))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(join(parts, op))
        }
    }
}

/// A detection's condition(s) as one SQL boolean, and the aggregation tail if it has one.
pub fn detection_sql(
    detection: &Detection,
) -> Result<(String, Option<condition::Aggregation>), Refusal> {
    let searches = detection
        .searches
        .iter()
        .map(|(name, search)| Ok((name.clone(), search_sql(name, search)?)))
        .collect::<Result<Vec<_>, Refusal>>()?;
    let mut parts = Vec::new();
    let mut aggregation = None;
    for text in &detection.conditions {
        let (condition, agg) =
            condition::parse(text).map_err(|e| format!("condition {text:?}: {e}"))?;
        if agg.is_some() {
            if detection.conditions.len() > 1 {
                return Err("an aggregation among several conditions is not compiled".into());
            }
            aggregation = agg;
        }
        parts.push(condition_sql(&condition, &searches)?);
    }
    Ok((join(parts, "OR"), aggregation))
}
