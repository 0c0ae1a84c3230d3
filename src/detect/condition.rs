//! Sigma's condition language: `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`,
//! `them`, and the older aggregation tail (`| count(field) by group > N`).

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Search(String),
    /// `1 of` (or `any of`) the matching search identifiers.
    AnyOf(Target),
    AllOf(Target),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

/// What `x of` ranges over.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Every search identifier not starting with `_`.
    Them,
    /// A name, maybe with `*` wildcards.
    Pattern(String),
}

impl Target {
    /// The search identifiers this target names, in the order given.
    pub fn select<'a>(&self, names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
        names
            .filter(|n| match self {
                Target::Them => !n.starts_with('_'),
                Target::Pattern(p) => glob(p, n),
            })
            .collect()
    }
}

/// `| count(field) by group op N`, Sigma's first aggregation form.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    /// `count(field)`: distinct values of `field`; `count()`: events.
    pub field: Option<String>,
    pub group_by: Option<String>,
    /// `gt`, `gte`, `lt`, `lte`, `eq`.
    pub op: String,
    pub bound: i64,
}

fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, rest)) => {
            let Some(tail) = name.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
}

fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Token>| {
        if !word.is_empty() {
            out.push(Token::Word(std::mem::take(word)));
        }
    };
    for c in text.chars() {
        match c {
            '(' => {
                flush(&mut word, &mut out);
                out.push(Token::Open);
            }
            ')' => {
                flush(&mut word, &mut out);
                out.push(Token::Close);
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Parses a condition (and its aggregation tail, if any).
pub fn parse(text: &str) -> Result<(Condition, Option<Aggregation>), String> {
    let (head, tail) = match text.split_once('|') {
        Some((h, t)) => (h, Some(t)),
        None => (text, None),
    };
    let tokens = tokens(head);
    let mut parser = Parser { tokens, at: 0 };
    let condition = parser.or()?;
    if let Some(t) = parser.tokens.get(parser.at) {
        return Err(format!("condition {text:?}: unexpected {t:?}"));
    }
    let aggregation = tail.map(parse_aggregation).transpose()?;
    Ok((condition, aggregation))
}

fn parse_aggregation(text: &str) -> Result<Aggregation, String> {
    let text = text.trim();
    let unsupported = || {
        format!(
            "the aggregation `| {text}` is not one trailscope compiles (count() [by field] with >, >=, <, <= or =)"
        )
    };
    let rest = text.strip_prefix("count(").ok_or_else(unsupported)?;
    let (field, rest) = rest.split_once(')').ok_or_else(unsupported)?;
    let mut words = rest.split_whitespace();
    let mut group_by = None;
    let mut op = words.next().ok_or_else(unsupported)?;
    if op == "by" {
        group_by = Some(words.next().ok_or_else(unsupported)?.to_string());
        op = words.next().ok_or_else(unsupported)?;
    }
    let op = match op {
        ">" => "gt",
        ">=" => "gte",
        "<" => "lt",
        "<=" => "lte",
        "=" | "==" => "eq",
        _ => return Err(unsupported()),
    };
    let bound = words
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(unsupported)?;
    if words.next().is_some() {
        return Err(unsupported());
    }
    Ok(Aggregation {
        field: Some(field.trim().to_string()).filter(|f| !f.is_empty()),
        group_by,
        op: op.to_string(),
        bound,
    })
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.tokens.get(self.at) {
            Some(Token::Word(w)) => Some(w.as_str()),
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Condition, String> {
        let mut parts = vec![self.and()?];
        while self.peek_word() == Some("or") {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Condition, String> {
        let mut parts = vec![self.not()?];
        while self.peek_word() == Some("and") {
            self.at += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::And(parts)
        })
    }

    fn not(&mut self) -> Result<Condition, String> {
        if self.peek_word() == Some("not") {
            self.at += 1;
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Open) => {
                let inner = self.or()?;
                if self.tokens.get(self.at) != Some(&Token::Close) {
                    return Err("a parenthesis is not closed".to_string());
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Word(w)) if matches!(w.as_str(), "1" | "any" | "all") => {
                if self.peek_word() != Some("of") {
                    return Err(format!("`{w}` must be followed by `of`"));
                }
                self.at += 1;
                let target = match self.tokens.get(self.at) {
                    Some(Token::Word(t)) if t == "them" => Target::Them,
                    Some(Token::Word(t)) => Target::Pattern(t.clone()),
                    _ => return Err(format!("`{w} of` needs a name or `them`")),
                };
                self.at += 1;
                Ok(if w == "all" {
                    Condition::AllOf(target)
                } else {
                    Condition::AnyOf(target)
                })
            }
            Some(Token::Word(w)) if matches!(w.as_str(), "and" | "or" | "of" | "them") => {
                Err(format!("`{w}` where a search identifier was expected"))
            }
            Some(Token::Word(w)) => Ok(Condition::Search(w)),
            Some(Token::Close) => Err("a closing parenthesis without an opening one".to_string()),
            None => Err("the condition ends where a search identifier was expected".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: &str) -> Condition {
        Condition::Search(n.into())
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let (c, _) = parse("a or b and not c").unwrap();
        assert_eq!(
            c,
            Condition::Or(vec![
                s("a"),
                Condition::And(vec![s("b"), Condition::Not(Box::new(s("c")))])
            ])
        );
        let (c, _) = parse("(a or b) and not 1 of filter_*").unwrap();
        assert_eq!(
            c,
            Condition::And(vec![
                Condition::Or(vec![s("a"), s("b")]),
                Condition::Not(Box::new(Condition::AnyOf(Target::Pattern(
                    "filter_*".into()
                ))))
            ])
        );
        assert_eq!(
            parse("all of them").unwrap().0,
            Condition::AllOf(Target::Them)
        );
    }

    #[test]
    fn bad_conditions_say_why() {
        for bad in ["a and", "(a or b", "a b", "1 them", "a )", "not"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn aggregation_tails_parse_or_are_refused() {
        let (_, agg) = parse("selection | count() by sourceIPAddress > 5").unwrap();
        assert_eq!(
            agg,
            Some(Aggregation {
                field: None,
                group_by: Some("sourceIPAddress".into()),
                op: "gt".into(),
                bound: 5
            })
        );
        let (_, agg) = parse("sel | count(eventName) >= 3").unwrap();
        assert_eq!(agg.unwrap().field.as_deref(), Some("eventName"));
        assert!(parse("selection1 | near selection2").is_err());
    }

    #[test]
    fn targets_glob_and_them_skips_underscores() {
        let names = ["sel_a", "sel_b", "filter", "_hidden"];
        assert_eq!(
            Target::Pattern("sel_*".into()).select(names.into_iter()),
            ["sel_a", "sel_b"]
        );
        assert_eq!(
            Target::Them.select(names.into_iter()),
            ["sel_a", "sel_b", "filter"]
        );
    }
}
