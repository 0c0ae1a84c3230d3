//! Trino's two date format languages, turned into chrono's: MySQL-style for `date_parse` and
//! `date_format` (`%Y-%m-%d %H:%i:%s`), Joda-style for `format_datetime` (`yyyy-MM-dd HH:mm`).

/// A MySQL-style format (Trino's `date_parse`) as a chrono format.
pub fn mysql_to_chrono(format: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = chars
            .next()
            .ok_or_else(|| format!("format {format:?} ends with '%'"))?;
        out.push_str(match spec {
            'Y' => "%Y",
            'y' => "%y",
            'm' => "%m",
            'c' => "%-m",
            'd' => "%d",
            'e' => "%-d",
            'H' | 'k' => "%H",
            'h' | 'I' | 'l' => "%I",
            'i' => "%M",
            's' | 'S' => "%S",
            'f' => "%6f",
            'p' => "%p",
            'T' => "%H:%M:%S",
            'r' => "%I:%M:%S %p",
            'b' => "%b",
            'M' => "%B",
            'a' => "%a",
            'W' => "%A",
            'j' => "%j",
            '%' => "%%",
            other => return Err(format!("format {format:?}: %{other} is not supported")),
        });
    }
    Ok(out)
}

/// A Joda-style pattern (Trino's `format_datetime`) as a chrono format. Letters repeat to say
/// width; text in single quotes is literal.
pub fn joda_to_chrono(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&q| q == '\'')
                .ok_or_else(|| format!("pattern {pattern:?} has an unclosed quote"))?;
            let literal: String = chars[i + 1..i + 1 + end].iter().collect();
            out.push_str(&if literal.is_empty() {
                "'".into()
            } else {
                literal.replace('%', "%%")
            });
            i += end + 2;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push_str(if c == '%' { "%%" } else { "" });
            if c != '%' {
                out.push(c);
            }
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        i += run;
        out.push_str(match (c, run) {
            ('y' | 'Y' | 'x', 2) => "%y",
            ('y' | 'Y' | 'x', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('D', _) => "%j",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', 1) => "%-I",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', 1) => "%1f",
            ('S', 2) => "%2f",
            ('S', 3) => "%3f",
            ('S', _) => "%6f",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('a', _) => "%p",
            ('Z', 1) => "%z",
            ('Z', _) => "%:z",
            ('z', _) => "UTC",
            (other, _) => {
                return Err(format!(
                    "pattern {pattern:?}: letter {other:?} is not supported"
                ));
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_convert() {
        assert_eq!(
            mysql_to_chrono("%Y-%m-%dT%H:%i:%sZ").unwrap(),
            "%Y-%m-%dT%H:%M:%SZ"
        );
        assert_eq!(mysql_to_chrono("%Y/%m/%d %T").unwrap(), "%Y/%m/%d %H:%M:%S");
        assert!(mysql_to_chrono("%Q").is_err());
        assert_eq!(
            joda_to_chrono("yyyy-MM-dd HH:mm:ss").unwrap(),
            "%Y-%m-%d %H:%M:%S"
        );
        assert_eq!(
            joda_to_chrono("EEEE, MMM d ''yy").unwrap(),
            "%A, %b %-d '%y"
        );
        assert_eq!(joda_to_chrono("yyyy-MM-dd'T'HH").unwrap(), "%Y-%m-%dT%H");
        assert!(joda_to_chrono("yyyy 'open").is_err());
    }
}
