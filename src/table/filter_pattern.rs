//! The CloudWatch Logs filter-pattern language, enough to decide whether a metric filter
//! would count a given CloudTrail event; exposed to SQL as
//! `cwl_filter_matches(pattern, event_json) -> boolean` (NULL when the pattern does not parse).
//!
//! Alarm controls ask "does some alarmed filter cover StopLogging?". Comparing pattern text
//! would miss equivalent spellings (`$.eventName=StopLogging`, quoted or not, inside a larger
//! `||`, or a superset such as `$.eventSource = cloudtrail.amazonaws.com`), so we evaluate the
//! pattern against a sample event instead, as CloudWatch would.
//!
//! Supported: JSON patterns `{ ... }` with `$.a.b[0]` selectors, `=`, `!=`, `<`, `<=`, `>`, `>=`,
//! `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS`, `EXISTS`, `&&`, `||`, parentheses, quoted or bare
//! values, `*` wildcards in strings; and term patterns (`ERROR "two words" -excluded ?any ?of`)
//! matched against the raw event text.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use crate::snapshot::policy::wildcard_match;

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `{ expr }`
    Json(Expr),
    /// Space-separated terms: every plain term present, no `-term` present, and at least one of
    /// the `?term`s if there are any. An empty pattern matches everything.
    Terms {
        all: Vec<String>,
        none: Vec<String>,
        any: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Vec<Step>, Op, Literal),
    IsNull(Vec<Step>),
    IsBool(Vec<Step>, bool),
    Exists(Vec<Step>, bool),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Number(f64),
}

impl Pattern {
    pub fn parse(text: &str) -> std::result::Result<Pattern, String> {
        // CloudWatch Logs takes patterns of at most 1,024 characters (PutMetricFilter); longer
        // ones are not real, and bound how deep the expression and its evaluation go.
        let length = text.chars().count();
        if length > MAX_PATTERN_CHARS {
            return Err(format!(
                "a filter pattern has at most {MAX_PATTERN_CHARS} characters, this one {length}"
            ));
        }
        let trimmed = text.trim();
        if let Some(inner) = trimmed.strip_prefix('{') {
            let inner = inner
                .strip_suffix('}')
                .ok_or("a JSON pattern must end with '}'")?;
            let mut p = Parser {
                tokens: tokenize(inner)?,
                pos: 0,
                depth: 0,
            };
            let expr = p.or()?;
            if p.pos != p.tokens.len() {
                return Err(format!("unexpected {:?}", p.tokens[p.pos]));
            }
            return Ok(Pattern::Json(expr));
        }
        let (mut all, mut none, mut any) = (Vec::new(), Vec::new(), Vec::new());
        for term in terms(trimmed) {
            if let Some(t) = term.strip_prefix('-') {
                none.push(t.to_string());
            } else if let Some(t) = term.strip_prefix('?') {
                any.push(t.to_string());
            } else {
                all.push(term);
            }
        }
        Ok(Pattern::Terms { all, none, any })
    }

    /// Would CloudWatch count this event (given as its JSON text)?
    pub fn matches(&self, event_text: &str) -> bool {
        match self {
            Pattern::Json(expr) => serde_json::from_str::<Value>(event_text)
                .map(|v| expr.eval(&v))
                .unwrap_or(false),
            Pattern::Terms { all, none, any } => {
                all.iter().all(|t| event_text.contains(t.as_str()))
                    && !none.iter().any(|t| event_text.contains(t.as_str()))
                    && (any.is_empty() || any.iter().any(|t| event_text.contains(t.as_str())))
            }
        }
    }
}

/// Splits term patterns on spaces, keeping `"quoted phrases"` whole.
fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn lookup<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(*i),
    })
}

impl Expr {
    fn eval(&self, v: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.eval(v) && b.eval(v),
            Expr::Or(a, b) => a.eval(v) || b.eval(v),
            Expr::IsNull(path) => matches!(lookup(v, path), Some(Value::Null)),
            Expr::IsBool(path, b) => lookup(v, path) == Some(&Value::Bool(*b)),
            Expr::Exists(path, exists) => lookup(v, path).is_some() == *exists,
            Expr::Compare(path, op, lit) => {
                let Some(found) = lookup(v, path) else {
                    return false;
                };
                match lit {
                    Literal::Number(n) => {
                        let Some(x) = found.as_f64().or_else(|| found.as_str()?.parse().ok())
                        else {
                            return false;
                        };
                        match op {
                            Op::Eq => x == *n,
                            Op::Ne => x != *n,
                            Op::Lt => x < *n,
                            Op::Le => x <= *n,
                            Op::Gt => x > *n,
                            Op::Ge => x >= *n,
                        }
                    }
                    Literal::Text(t) => {
                        let text = match found {
                            Value::String(s) => s.clone(),
                            Value::Null => return false,
                            other => other.to_string(),
                        };
                        // Wildcards compare case-sensitively in CloudWatch; our matcher folds
                        // ASCII case, so check exact equality first for the plain case.
                        let equal = if t.contains('*') {
                            wildcard_match(t, &text)
                        } else {
                            *t == text
                        };
                        match op {
                            Op::Eq => equal,
                            Op::Ne => !equal,
                            _ => false,
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Op(Op),
    Selector(Vec<Step>),
    Word(String),
    Quoted(String),
}

fn selector(text: &str) -> std::result::Result<Vec<Step>, String> {
    let rest = text
        .strip_prefix("$.")
        .ok_or_else(|| format!("selector {text:?} must start with $."))?;
    let mut steps = Vec::new();
    for part in rest.split('.') {
        let (key, mut indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            steps.push(Step::Key(key.to_string()));
        }
        while let Some(inner) = indexes.strip_prefix('[') {
            let end = inner.find(']').ok_or("unclosed [ in selector")?;
            let n = inner[..end]
                .parse()
                .map_err(|_| format!("bad index in {text:?}"))?;
            steps.push(Step::Index(n));
            indexes = &inner[end + 1..];
        }
    }
    Ok(steps)
}

fn tokenize(text: &str) -> std::result::Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Token::Open);
            i += 1;
        } else if c == ')' {
            out.push(Token::Close);
            i += 1;
        } else if two == "&&" {
            out.push(Token::And);
            i += 2;
        } else if two == "||" {
            out.push(Token::Or);
            i += 2;
        } else if let Some(op) = match two.as_str() {
            "!=" => Some(Op::Ne),
            "<=" => Some(Op::Le),
            ">=" => Some(Op::Ge),
            _ => None,
        } {
            out.push(Token::Op(op));
            i += 2;
        } else if let Some(op) = match c {
            '=' => Some(Op::Eq),
            '<' => Some(Op::Lt),
            '>' => Some(Op::Gt),
            _ => None,
        } {
            out.push(Token::Op(op));
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err("unclosed quote".into());
            }
            out.push(Token::Quoted(s));
            i += 1;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"()=!<>&|\"".contains(chars[i]) {
                i += 1;
            }
            if i == start {
                // A lone `!`, `&` or `|`: no token starts here (found by fuzzing: the loop
                // pushed empty words without moving on, until memory ran out).
                return Err(format!("unexpected '{c}'"));
            }
            let word: String = chars[start..i].iter().collect();
            if word.starts_with("$.") {
                out.push(Token::Selector(selector(&word)?));
            } else {
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

/// The longest filter pattern CloudWatch Logs accepts.
const MAX_PATTERN_CHARS: usize = 1024;

/// How deep parentheses may nest: each level is a few frames of recursion, and a deep stack of
/// them overflowed the parser's thread (found by fuzzing). Real metric filters nest two or three.
const MAX_NESTING: usize = 32;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn or(&mut self) -> std::result::Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> std::result::Result<Expr, String> {
        let mut left = self.atom()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }

    fn word_is(&self, offset: usize, word: &str) -> bool {
        matches!(self.tokens.get(self.pos + offset), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn atom(&mut self) -> std::result::Result<Expr, String> {
        match self.next() {
            Some(Token::Open) => {
                self.depth += 1;
                if self.depth > MAX_NESTING {
                    return Err(format!(
                        "parentheses nested deeper than {MAX_NESTING} levels"
                    ));
                }
                let e = self.or()?;
                self.depth -= 1;
                match self.next() {
                    Some(Token::Close) => Ok(e),
                    other => Err(format!("expected ')', found {other:?}")),
                }
            }
            Some(Token::Selector(path)) => {
                if self.word_is(0, "IS") {
                    self.pos += 1;
                    return match self.next() {
                        Some(Token::Word(w)) if w.eq_ignore_ascii_case("NULL") => {
                            Ok(Expr::IsNull(path))
                        }
                        Some(Token::Word(w)) if w.eq_ignore_ascii_case("TRUE") => {
                            Ok(Expr::IsBool(path, true))
                        }
                        Some(Token::Word(w)) if w.eq_ignore_ascii_case("FALSE") => {
                            Ok(Expr::IsBool(path, false))
                        }
                        other => Err(format!(
                            "expected NULL, TRUE or FALSE after IS, found {other:?}"
                        )),
                    };
                }
                if self.word_is(0, "NOT") && self.word_is(1, "EXISTS") {
                    self.pos += 2;
                    return Ok(Expr::Exists(path, false));
                }
                if self.word_is(0, "EXISTS") {
                    self.pos += 1;
                    return Ok(Expr::Exists(path, true));
                }
                let op = match self.next() {
                    Some(Token::Op(op)) => op,
                    other => return Err(format!("expected an operator, found {other:?}")),
                };
                let literal = match self.next() {
                    Some(Token::Quoted(s)) => Literal::Text(s),
                    Some(Token::Word(w)) => match w.parse::<f64>() {
                        Ok(n) if !matches!(op, Op::Eq | Op::Ne) || !w.contains('*') => {
                            Literal::Number(n)
                        }
                        _ => Literal::Text(w),
                    },
                    other => return Err(format!("expected a value, found {other:?}")),
                };
                Ok(Expr::Compare(path, op, literal))
            }
            other => Err(format!("expected a selector or '(', found {other:?}")),
        }
    }
}

/// `cwl_filter_matches(pattern, event_json)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FilterMatches {
    signature: Signature,
}

pub fn udf() -> ScalarUDF {
    ScalarUDF::from(FilterMatches {
        signature: Signature::string(2, Volatility::Immutable),
    })
}

impl ScalarUDFImpl for FilterMatches {
    fn name(&self) -> &str {
        "cwl_filter_matches"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let text = |a: &ArrayRef| -> Result<StringArray> {
            Ok(cast(a, &DataType::Utf8)?
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .unwrap_or_else(|| StringArray::from(Vec::<Option<&str>>::new())))
        };
        let patterns = text(&arrays[0])?;
        let events = text(&arrays[1])?;
        let mut cache: Option<(String, Option<Pattern>)> = None;
        let out: BooleanArray = (0..patterns.len())
            .map(|i| {
                if patterns.is_null(i) || events.is_null(i) {
                    return None;
                }
                let p = patterns.value(i);
                if cache.as_ref().is_none_or(|(text, _)| text != p) {
                    cache = Some((p.to_string(), Pattern::parse(p).ok()));
                }
                let parsed = cache.as_ref().and_then(|(_, parsed)| parsed.as_ref())?;
                Some(parsed.matches(events.value(i)))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, event: &str) -> bool {
        Pattern::parse(pattern).unwrap().matches(event)
    }

    /// Inputs `cargo fuzz` found (fuzz/): each once ran out of memory or time.
    #[test]
    fn lone_operator_characters_are_refused_not_looped_on() {
        for pattern in [
            "{ ($.eventName = CreateNatGateway) || ($.eventName = DeleteNatGateway)! }",
            "{ ($.eventSource = guardduty.amazonaws.com) $(& &(.eventName = DeleteDetector) }",
            "{ $.a = 1 | $.b = 2 }",
            "{ ! }",
        ] {
            let err = Pattern::parse(pattern).unwrap_err();
            assert!(err.starts_with("unexpected '"), "{pattern}: {err}");
        }
    }

    #[test]
    fn deep_nesting_and_overlong_patterns_are_refused_not_overflowed() {
        // About 2,000 '(' overflowed the stack of the fuzz target's debug build (SIGSEGV, found
        // by fuzzing); the length limit alone refuses that many, the nesting limit fewer.
        let deep = format!("{{ {}$.a = 1 }}", "(".repeat(900));
        let refused = Pattern::parse(&deep).unwrap_err();
        assert!(refused.contains("nested deeper than 32"), "{refused}");
        let nested = |n: usize| format!("{{ {}$.a = 1{} }}", "(".repeat(n), ")".repeat(n));
        assert!(m(&nested(32), r#"{"a":1}"#));
        assert!(Pattern::parse(&nested(33)).is_err());
        let long = format!("{{ $.a = \"{}\" }}", "x".repeat(1100));
        let refused = Pattern::parse(&long).unwrap_err();
        assert!(refused.contains("at most 1024 characters"), "{refused}");
    }

    #[test]
    fn cis_filters_match_their_events() {
        let cis_4_5 = "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }";
        assert!(m(cis_4_5, r#"{"eventName":"StopLogging"}"#));
        assert!(m(cis_4_5, r#"{"eventName":"DeleteTrail"}"#));
        assert!(!m(cis_4_5, r#"{"eventName":"PutEventSelectors"}"#));

        let login =
            r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#;
        assert!(m(
            login,
            r#"{"eventName":"ConsoleLogin","errorMessage":"Failed authentication"}"#
        ));
        assert!(!m(login, r#"{"eventName":"ConsoleLogin"}"#));

        let root = r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#;
        assert!(m(
            root,
            r#"{"userIdentity":{"type":"Root"},"eventType":"AwsApiCall"}"#
        ));
        assert!(!m(
            root,
            r#"{"userIdentity":{"type":"Root","invokedBy":"x"},"eventType":"AwsApiCall"}"#
        ));

        // A superset: every CloudTrail API call.
        assert!(m(
            "{ $.eventSource = cloudtrail.amazonaws.com }",
            r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging"}"#
        ));
        assert!(m(
            r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#,
            r#"{"errorCode":"AccessDenied"}"#
        ));
        assert!(m(
            "{$.eventName=StopLogging}",
            r#"{"eventName":"StopLogging"}"#
        ));
        assert!(m(
            "{ $.responseElements.x IS NULL }",
            r#"{"responseElements":{"x":null}}"#
        ));
        assert!(m("{ $.a[1] > 2 }", r#"{"a":[1,3]}"#));
        assert!(m(
            "ConsoleLogin ?Failed ?Denied",
            r#"{"eventName":"ConsoleLogin","errorMessage":"Failed authentication"}"#
        ));
        assert!(!m(
            "ConsoleLogin -Failed",
            r#"{"eventName":"ConsoleLogin","errorMessage":"Failed authentication"}"#
        ));
        assert!(m("", "anything"));
        assert!(Pattern::parse("{ $.eventName = ").is_err());
        assert!(Pattern::parse("{ eventName = x }").is_err());
    }
}
