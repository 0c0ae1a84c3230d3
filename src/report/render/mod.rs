//! Turning a [`ComplianceReport`] into the formats people and machines read.
//!
//! - `html`: one self-contained page (inline CSS and SVG charts, no scripts or external assets)
//!   that prints well to PDF;
//! - `md`: Markdown that pastes into a ticket;
//! - `json`: the report itself, stable and documented (docs/report-json.md);
//! - `csv`: one finding per row;
//! - `ocsf`: OCSF Compliance Finding objects, one JSON object per line, for SIEMs.

pub mod csv;
pub mod html;
pub mod markdown;
pub mod ocsf;
pub mod svg;

use super::ComplianceReport;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Json,
    Csv,
    Ocsf,
}

/// The report in `format`, as the bytes to write.
pub fn render(report: &ComplianceReport, format: Format) -> Result<Vec<u8>> {
    let failed = |e: serde_json::Error| Error::Runtime(format!("writing the report: {e}"));
    Ok(match format {
        Format::Html => html::render(report).into_bytes(),
        Format::Markdown => markdown::render(report).into_bytes(),
        Format::Json => {
            let mut bytes = serde_json::to_vec_pretty(report).map_err(failed)?;
            bytes.push(b'\n');
            bytes
        }
        Format::Csv => csv::render(report).into_bytes(),
        Format::Ocsf => {
            let mut out = Vec::new();
            for object in ocsf::findings(report) {
                out.extend(serde_json::to_vec(&object).map_err(failed)?);
                out.push(b'\n');
            }
            out
        }
    })
}
