//! A Sigma rule file read into our model: metadata, the detection (search identifiers and
//! condition) or a correlation. Parsing keeps everything the compiler may refuse later, so
//! "cannot be expressed" is decided in one place ([`super::compile`]) with a reason.

use std::fmt;

use serde_yaml::Value as Yaml;

/// Severity, lowest first (Sigma's `level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Informational,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value as a rule writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleValue {
    Text(String),
    /// Numbers and booleans, as YAML writes them: compared as their text.
    Scalar(String),
    Null,
}

/// `field|mod|mod: values` (`field` is `None` for a keyword search with modifiers).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldItem {
    pub field: Option<String>,
    pub modifiers: Vec<String>,
    pub values: Vec<RuleValue>,
}

/// One search identifier of `detection`.
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    /// A list of plain values: any of them anywhere in the event.
    Keywords(Vec<RuleValue>),
    /// Maps ORed together; each map's items ANDed.
    Maps(Vec<Vec<FieldItem>>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// In the order written.
    pub searches: Vec<(String, Search)>,
    /// Several conditions are ORed.
    pub conditions: Vec<String>,
    /// The old aggregation form's window (`timeframe: 5m`).
    pub timeframe: Option<String>,
}

/// Sigma correlation rule types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

impl CorrelationType {
    fn parse(s: &str) -> Option<CorrelationType> {
        Some(match s {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
        }
    }
}

/// A comparison of a count: `gte: 10`, several ANDed (`gt: 5, lte: 100`).
#[derive(Debug, Clone, PartialEq)]
pub struct CountCondition {
    /// (`gt|gte|lt|lte|eq|neq`, bound).
    pub bounds: Vec<(String, i64)>,
    /// `value_count`: the field whose distinct values are counted.
    pub field: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub kind: CorrelationType,
    /// Names or ids of the rules it correlates.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan: String,
    pub condition: Option<CountCondition>,
    /// `aliases`: one field name standing for differently named fields of each rule.
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    /// `generate: true`: the correlated rules also report their own matches.
    pub generate: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Detection(Detection),
    Correlation(Correlation),
}

/// A rule file's document.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub title: String,
    pub id: Option<String>,
    /// `name`: how correlations refer to it (beside its id).
    pub name: Option<String>,
    pub status: Option<String>,
    pub level: Level,
    /// Travels with every hit (the Detection Rule License asks it).
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub body: Body,
    /// Where it came from: a path (with `#n` for the n-th document of a file) or `builtin:...`.
    pub origin: String,
}

impl Rule {
    /// The id if it has one, else the title: what output and `--show-sql` call it.
    pub fn key(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.title)
    }

    pub fn is_cloudtrail(&self) -> bool {
        let is = |v: &Option<String>, want: &str| {
            v.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(want))
        };
        match &self.body {
            // A correlation's log source is its rules'.
            Body::Correlation(_) => true,
            Body::Detection(_) => is(&self.product, "aws") && is(&self.service, "cloudtrail"),
        }
    }

    /// Whether `reference` (a correlation's `rules:` entry) names this rule: its id or name, as
    /// Sigma says, or its title, as Suzaku's and Hayabusa's packs write them.
    pub fn answers_to(&self, reference: &str) -> bool {
        self.id.as_deref() == Some(reference)
            || self.name.as_deref() == Some(reference)
            || self.title == reference
    }
}

/// Reads every document of a rule file. A document that is not a rule (or not one we can
/// read) is an error naming why.
pub fn parse_file(origin: &str, text: &str) -> Vec<Result<Rule, String>> {
    let many = text
        .lines()
        .any(|l| l.trim_end() == "---" || l.starts_with("--- "));
    let mut out = Vec::new();
    for (n, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let origin = if many {
            format!("{origin}#{}", n + 1)
        } else {
            origin.to_string()
        };
        match <Yaml as serde::Deserialize>::deserialize(document) {
            Ok(yaml) => match parse_rule(&origin, &yaml) {
                Err(e) if e == EMPTY => {}
                other => out.push(other),
            },
            // The parser cannot find the next document after a syntax error (it would yield
            // the same error for ever): the rest of the file is lost with this one.
            Err(e) => {
                out.push(Err(format!("not YAML: {e}")));
                break;
            }
        }
    }
    out
}

const EMPTY: &str = "an empty document";

fn text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn texts(v: Option<&Yaml>) -> Vec<String> {
    match v {
        Some(Yaml::Sequence(items)) => items.iter().filter_map(text).collect(),
        Some(other) => text(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn get<'a>(v: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    v.as_mapping()?.get(key)
}

fn get_text(v: &Yaml, key: &str) -> Option<String> {
    get(v, key).and_then(text)
}

fn parse_rule(origin: &str, yaml: &Yaml) -> Result<Rule, String> {
    if yaml.is_null() {
        return Err(EMPTY.to_string());
    }
    if yaml.as_mapping().is_none() {
        return Err("not a Sigma rule: the document is not a mapping".to_string());
    }
    if get(yaml, "action").is_some() {
        return Err(
            "a rule collection (`action:`) of Sigma's first format; split it into rules"
                .to_string(),
        );
    }
    let title = get_text(yaml, "title").ok_or("not a Sigma rule: it has no title")?;
    let level = match get_text(yaml, "level") {
        Some(l) => Level::parse(&l).ok_or_else(|| {
            format!("level {l:?} is not informational, low, medium, high or critical")
        })?,
        None => Level::Medium,
    };
    let logsource = get(yaml, "logsource");
    let body = if let Some(detection) = get(yaml, "detection") {
        Body::Detection(parse_detection(detection)?)
    } else if let Some(correlation) = get(yaml, "correlation") {
        Body::Correlation(parse_correlation(correlation)?)
    } else {
        return Err("not a Sigma rule: it has neither detection nor correlation".to_string());
    };
    Ok(Rule {
        title,
        id: get_text(yaml, "id"),
        name: get_text(yaml, "name"),
        status: get_text(yaml, "status"),
        level,
        author: get_text(yaml, "author"),
        tags: texts(get(yaml, "tags")),
        description: get_text(yaml, "description"),
        references: texts(get(yaml, "references")),
        falsepositives: texts(get(yaml, "falsepositives")),
        product: logsource.and_then(|l| get_text(l, "product")),
        service: logsource.and_then(|l| get_text(l, "service")),
        category: logsource.and_then(|l| get_text(l, "category")),
        body,
        origin: origin.to_string(),
    })
}

fn rule_value(v: &Yaml) -> Result<RuleValue, String> {
    Ok(match v {
        Yaml::String(s) => RuleValue::Text(s.clone()),
        Yaml::Number(n) => RuleValue::Scalar(n.to_string()),
        Yaml::Bool(b) => RuleValue::Scalar(b.to_string()),
        Yaml::Null => RuleValue::Null,
        other => {
            return Err(format!(
                "a value must be text, a number, a boolean or null, not {}",
                kind(other)
            ));
        }
    })
}

fn kind(v: &Yaml) -> &'static str {
    match v {
        Yaml::Null => "null",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "text",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

fn field_items(map: &serde_yaml::Mapping) -> Result<Vec<FieldItem>, String> {
    let mut items = Vec::new();
    for (key, value) in map {
        let key = text(key).ok_or("a field name must be text")?;
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or_default().trim();
        let modifiers = parts.map(|m| m.trim().to_string()).collect();
        let values = match value {
            Yaml::Sequence(list) => list.iter().map(rule_value).collect::<Result<_, _>>()?,
            other => vec![rule_value(other)?],
        };
        items.push(FieldItem {
            field: (!field.is_empty()).then(|| field.to_string()),
            modifiers,
            values,
        });
    }
    Ok(items)
}

fn parse_detection(yaml: &Yaml) -> Result<Detection, String> {
    let map = yaml.as_mapping().ok_or("detection must be a mapping")?;
    let mut searches = Vec::new();
    let mut conditions = Vec::new();
    let mut timeframe = None;
    for (key, value) in map {
        let name = text(key).ok_or("a search identifier must be text")?;
        match name.as_str() {
            "condition" => conditions = texts(Some(value)),
            "timeframe" => timeframe = text(value),
            _ => {
                let search = match value {
                    Yaml::Mapping(m) => Search::Maps(vec![field_items(m)?]),
                    Yaml::Sequence(list) if list.iter().all(|v| v.is_mapping()) => Search::Maps(
                        list.iter()
                            .filter_map(Yaml::as_mapping)
                            .map(field_items)
                            .collect::<Result<_, _>>()?,
                    ),
                    Yaml::Sequence(list) => {
                        Search::Keywords(list.iter().map(rule_value).collect::<Result<_, _>>()?)
                    }
                    other => Search::Keywords(vec![rule_value(other)?]),
                };
                searches.push((name, search));
            }
        }
    }
    if conditions.is_empty() {
        return Err("detection has no condition".to_string());
    }
    Ok(Detection {
        searches,
        conditions,
        timeframe,
    })
}

fn parse_count_condition(yaml: &Yaml) -> Result<CountCondition, String> {
    let map = yaml
        .as_mapping()
        .ok_or("correlation condition must be a mapping such as {gte: 10}")?;
    let mut condition = CountCondition {
        bounds: Vec::new(),
        field: None,
    };
    for (key, value) in map {
        let key = text(key).unwrap_or_default();
        if key == "field" {
            condition.field = text(value);
            continue;
        }
        if !["gt", "gte", "lt", "lte", "eq", "neq"].contains(&key.as_str()) {
            return Err(format!(
                "correlation condition {key:?} is not gt, gte, lt, lte, eq, neq or field"
            ));
        }
        let bound = value
            .as_i64()
            .ok_or_else(|| format!("correlation condition {key}: expects a whole number"))?;
        condition.bounds.push((key, bound));
    }
    if condition.bounds.is_empty() {
        return Err("correlation condition has no bound (gte: N, ...)".to_string());
    }
    Ok(condition)
}

fn parse_correlation(yaml: &Yaml) -> Result<Correlation, String> {
    let kind_text = get_text(yaml, "type").ok_or("correlation has no type")?;
    let kind = CorrelationType::parse(&kind_text).ok_or_else(|| {
        format!("correlation type {kind_text:?} is not event_count, value_count, temporal or temporal_ordered")
    })?;
    let rules = texts(get(yaml, "rules"));
    if rules.is_empty() {
        return Err("correlation names no rules".to_string());
    }
    let timespan = get_text(yaml, "timespan")
        .or_else(|| get_text(yaml, "timeframe"))
        .ok_or("correlation has no timespan")?;
    let condition = get(yaml, "condition")
        .map(parse_count_condition)
        .transpose()?;
    let mut aliases = Vec::new();
    if let Some(Yaml::Mapping(map)) = get(yaml, "aliases") {
        for (alias, per_rule) in map {
            let alias = text(alias).unwrap_or_default();
            let mut fields = Vec::new();
            if let Yaml::Mapping(m) = per_rule {
                for (rule, field) in m {
                    fields.push((
                        text(rule).unwrap_or_default(),
                        text(field).unwrap_or_default(),
                    ));
                }
            }
            aliases.push((alias, fields));
        }
    }
    Ok(Correlation {
        kind,
        rules,
        group_by: texts(get(yaml, "group-by")),
        timespan,
        condition,
        aliases,
        generate: get(yaml, "generate")
            .and_then(Yaml::as_bool)
            .unwrap_or(false),
    })
}

/// The ATT&CK tactics among a rule's tags (`attack.defense-evasion`, not technique ids).
pub fn tactics(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|t| t.strip_prefix("attack."))
        // Technique, group and software ids (t1098, g0016, s0002) are not tactics.
        .filter(|t| {
            let mut chars = t.chars();
            !(matches!(chars.next(), Some('t' | 'g' | 's'))
                && chars.next().is_some_and(|c| c.is_ascii_digit()))
        })
        .map(str::to_string)
        .collect()
}
