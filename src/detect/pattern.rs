//! Sigma's string values: wildcards, escapes, and the modifiers that rewrite a value before it
//! is compared (`contains`, `startswith`, `endswith`, `base64`, `base64offset`, `windash`).
//!
//! A value becomes a [`Pattern`] of literal text and wildcards, then SQL: a `LIKE` pattern when
//! it has wildcards, a plain literal when it has none.

use base64::Engine as _;

/// One piece of a Sigma string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// `*`: any run of characters, maybe empty.
    AnyRun,
    /// `?`: exactly one character.
    AnyChar,
}

/// A Sigma string value with its wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pattern(pub Vec<Piece>);

impl Pattern {
    /// Parses a value as Sigma writes it: `*` and `?` are wildcards; a backslash escapes a
    /// wildcard or a backslash and is literal before anything else (so `C:\Windows\*` is the text
    /// `C:\Windows\` followed by a wildcard, as the specification's examples read).
    pub fn parse(value: &str) -> Pattern {
        let mut out = Pattern::default();
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&next @ ('*' | '?' | '\\')) => {
                        chars.next();
                        out.push_char(next);
                    }
                    _ => out.push_char('\\'),
                },
                '*' => out.0.push(Piece::AnyRun),
                '?' => out.0.push(Piece::AnyChar),
                c => out.push_char(c),
            }
        }
        out
    }

    /// A value taken as literal text (numbers, booleans, `base64` output).
    pub fn literal(text: &str) -> Pattern {
        Pattern(vec![Piece::Text(text.to_string())])
    }

    fn push_char(&mut self, c: char) {
        match self.0.last_mut() {
            Some(Piece::Text(t)) => t.push(c),
            _ => self.0.push(Piece::Text(c.to_string())),
        }
    }

    pub fn has_wildcards(&self) -> bool {
        self.0.iter().any(|p| !matches!(p, Piece::Text(_)))
    }

    /// The whole value as text, when it has no wildcards.
    pub fn as_text(&self) -> Option<String> {
        if self.has_wildcards() {
            return None;
        }
        Some(
            self.0
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.as_str(),
                    _ => "",
                })
                .collect(),
        )
    }

    /// `contains`: a wildcard on each side (not doubled when the value already has one).
    pub fn contains(self) -> Pattern {
        self.starts_with().ends_with()
    }

    /// `startswith`: anything may follow.
    pub fn starts_with(mut self) -> Pattern {
        if self.0.last() != Some(&Piece::AnyRun) {
            self.0.push(Piece::AnyRun);
        }
        self
    }

    /// `endswith`: anything may precede.
    pub fn ends_with(mut self) -> Pattern {
        if self.0.first() != Some(&Piece::AnyRun) {
            self.0.insert(0, Piece::AnyRun);
        }
        self
    }

    /// The SQL `LIKE` pattern (escape character `\`).
    pub fn like(&self) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::AnyRun => out.push('%'),
                Piece::AnyChar => out.push('_'),
                Piece::Text(t) => {
                    for c in t.chars() {
                        if matches!(c, '%' | '_' | '\\') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
            }
        }
        out
    }

    pub fn lowercase(&self) -> Pattern {
        Pattern(
            self.0
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => Piece::Text(t.to_lowercase()),
                    other => other.clone(),
                })
                .collect(),
        )
    }
}

/// `base64`: the value's bytes base64-encoded, matched as they are. A wildcard cannot be
/// encoded, so a value with one is refused.
pub fn base64(value: &Pattern) -> Result<Pattern, String> {
    let text = value
        .as_text()
        .ok_or("base64 of a value with wildcards cannot be matched")?;
    Ok(Pattern::literal(
        &base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
    ))
}

/// `base64offset`: the three encodings of the value at each offset within a base64 quantum,
/// trimmed to the characters that do not depend on what surrounds it (Sigma's definition:
/// encode 0, 1 or 2 leading filler bytes plus the value, drop the characters the filler and the
/// ragged end touch). Meant to be combined with `contains`.
pub fn base64_offsets(value: &Pattern) -> Result<Vec<Pattern>, String> {
    let text = value
        .as_text()
        .ok_or("base64offset of a value with wildcards cannot be matched")?;
    let engine = base64::engine::general_purpose::STANDARD;
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    let mut out = Vec::new();
    for shift in 0..3 {
        let mut bytes = vec![b' '; shift];
        bytes.extend_from_slice(text.as_bytes());
        let encoded = engine.encode(&bytes);
        let trim = END_TRIM[(text.len() + shift) % 3];
        let end = encoded.len().saturating_sub(trim);
        let start = START[shift].min(end);
        out.push(Pattern::literal(&encoded[start..end]));
    }
    Ok(out)
}

/// The dashes Windows command lines accept where a flag starts.
const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
/// Variants beyond this are refused rather than compiled into a huge OR.
const MAX_WINDASH_VARIANTS: usize = 625;

/// `windash`: every `-` or `/` that starts a word (at the start or after a space) in each of
/// its spellings, all combinations.
pub fn windash(value: &Pattern) -> Result<Vec<Pattern>, String> {
    let mut variants = vec![Pattern::default()];
    let mut previous_is_space = true;
    for piece in &value.0 {
        match piece {
            Piece::Text(t) => {
                for c in t.chars() {
                    let flag = previous_is_space && DASHES[..2].contains(&c);
                    previous_is_space = c.is_whitespace();
                    if flag {
                        variants = variants
                            .into_iter()
                            .flat_map(|v| {
                                DASHES.iter().map(move |d| {
                                    let mut v = v.clone();
                                    v.push_char(*d);
                                    v
                                })
                            })
                            .collect();
                        if variants.len() > MAX_WINDASH_VARIANTS {
                            return Err(format!(
                                "windash gives more than {MAX_WINDASH_VARIANTS} spellings of one value"
                            ));
                        }
                    } else {
                        variants.iter_mut().for_each(|v| v.push_char(c));
                    }
                }
            }
            other => {
                previous_is_space = false;
                variants.iter_mut().for_each(|v| v.0.push(other.clone()));
            }
        }
    }
    Ok(variants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_escapes_follow_the_specification() {
        let p = Pattern::parse(r"a*b?c\*d\?e\\f\g");
        assert_eq!(
            p.0,
            vec![
                Piece::Text("a".into()),
                Piece::AnyRun,
                Piece::Text("b".into()),
                Piece::AnyChar,
                Piece::Text(r"c*d?e\f\g".into()),
            ]
        );
        assert_eq!(p.like(), r"a%b_c*d?e\\f\\g");
        assert_eq!(Pattern::parse("50%_off").like(), r"50\%\_off");
        assert_eq!(Pattern::parse("*x").contains().like(), "%x%");
    }

    #[test]
    fn base64offset_matches_the_published_example() {
        // The Sigma specification's example: /bin/bash at its three offsets.
        let got: Vec<String> = base64_offsets(&Pattern::parse("/bin/bash"))
            .unwrap()
            .iter()
            .map(|p| p.as_text().unwrap())
            .collect();
        assert_eq!(got, ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
        assert!(base64_offsets(&Pattern::parse("a*")).is_err());
        assert_eq!(
            base64(&Pattern::parse("hello")).unwrap().as_text().unwrap(),
            "aGVsbG8="
        );
    }

    #[test]
    fn windash_spells_each_flag_five_ways() {
        let got = windash(&Pattern::parse("-foo /bar a-b")).unwrap();
        assert_eq!(got.len(), 25);
        let texts: Vec<String> = got.iter().map(|p| p.as_text().unwrap()).collect();
        assert!(texts.contains(&"/foo -bar a-b".to_string()));
        assert!(texts.contains(&"\u{2013}foo \u{2015}bar a-b".to_string()));
        assert!(texts.iter().all(|t| t.ends_with(" a-b")));
    }
}
