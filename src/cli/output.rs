//! Where results go, and `--format`: the formats themselves are the library's
//! (`trailscope::output`).

use std::io::Write;
use std::path::Path;

use clap::builder::TypedValueParser;
use trailscope::archive::location::is_within;
use trailscope::error::{Error, Result};
use trailscope::output::{FORMATS, FormatDef, format};

/// `--format` for row results: any name or alias of the library's format list.
pub fn format_parser() -> impl TypedValueParser<Value = &'static FormatDef> {
    let names = FORMATS.iter().map(|f| {
        clap::builder::PossibleValue::new(f.name)
            .help(f.about)
            .aliases(f.aliases)
    });
    clap::builder::PossibleValuesParser::new(names)
        .map(|name: String| format(&name).unwrap_or(&FORMATS[0]))
}

/// Where results go: stdout, or a file that must not be inside the archive being read.
pub fn open_output(
    path: Option<&Path>,
    archive_dir: Option<&Path>,
) -> Result<Box<dyn Write + Send>> {
    let Some(path) = path else {
        return Ok(Box::new(std::io::BufWriter::new(std::io::stdout())));
    };
    if let Some(dir) = archive_dir
        && is_within(&path.to_string_lossy(), &dir.to_string_lossy())
    {
        return Err(Error::usage(format!(
            "-o {}: refusing to write inside the archive being read ({}); trailscope never alters evidence",
            path.display(),
            dir.display()
        )));
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io(path.display(), e))?;
    Ok(Box::new(std::io::BufWriter::new(file)))
}

/// `s` cut to `n` characters with an ellipsis, for the columns of tables people read.
pub fn short(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!(
            "{}…",
            s.chars().take(n.saturating_sub(1)).collect::<String>()
        )
    } else {
        s.to_string()
    }
}
