//! The enrichment config file: the data files a team pins once, instead of four options on every
//! command. YAML, like the rules:
//!
//! ```yaml
//! geoip: /data/GeoLite2-City.mmdb
//! asn: GeoLite2-ASN.mmdb          # relative paths are from this file's folder
//! ip_ranges: ip-ranges.json
//! ip_lists: [tor-exits.txt, incident-4711.txt]
//! ```
//!
//! An option given on the command line wins over the file's entry for it; lists add up.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::EnrichOptions;
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    geoip: Option<PathBuf>,
    asn: Option<PathBuf>,
    ip_ranges: Option<PathBuf>,
    #[serde(default)]
    ip_lists: Vec<PathBuf>,
}

impl EnrichOptions {
    /// The files `path` names (relative ones resolved against its folder). `option` is how the
    /// user named the file, for errors.
    pub fn from_config(path: &Path, option: &str) -> Result<EnrichOptions> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(format!(
                "{option} {}: cannot read it ({e}); give the enrichment config file's path",
                path.display()
            ))
        })?;
        let file: ConfigFile = if text.trim().is_empty() {
            ConfigFile::default()
        } else {
            serde_yaml::from_str(&text).map_err(|e| {
                Error::usage(format!(
                    "{option} {}: {}; the keys are geoip, asn, ip_ranges and ip_lists (docs/identities.md)",
                    path.display(),
                    first_line(&e.to_string())
                ))
            })?
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
        Ok(EnrichOptions {
            geoip: file.geoip.map(resolve),
            asn: file.asn.map(resolve),
            ip_ranges: file.ip_ranges.map(resolve),
            ip_lists: file.ip_lists.into_iter().map(resolve).collect(),
        })
    }

    /// These options over `defaults`: each file given here replaces the default's; lists add up
    /// (a list named twice is read once).
    pub fn over(self, defaults: EnrichOptions) -> EnrichOptions {
        let mut ip_lists = defaults.ip_lists;
        for list in self.ip_lists {
            if !ip_lists.contains(&list) {
                ip_lists.push(list);
            }
        }
        EnrichOptions {
            geoip: self.geoip.or(defaults.geoip),
            asn: self.asn.or(defaults.asn),
            ip_ranges: self.ip_ranges.or(defaults.ip_ranges),
            ip_lists,
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enrichment.yml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn relative_paths_are_from_the_config_folder() {
        let (dir, path) = config(
            "geoip: /data/GeoLite2-City.mmdb\nasn: asn/GeoLite2-ASN.mmdb\nip_lists: [tor-exits.txt]\n",
        );
        let options = EnrichOptions::from_config(&path, "--enrich-config").unwrap();
        assert_eq!(
            options.geoip.as_deref(),
            Some(Path::new("/data/GeoLite2-City.mmdb"))
        );
        assert_eq!(options.asn, Some(dir.path().join("asn/GeoLite2-ASN.mmdb")));
        assert_eq!(options.ip_ranges, None);
        assert_eq!(options.ip_lists, vec![dir.path().join("tor-exits.txt")]);
    }

    #[test]
    fn the_command_line_wins_and_lists_add_up() {
        let file = EnrichOptions {
            geoip: Some("file-geo.mmdb".into()),
            asn: Some("file-asn.mmdb".into()),
            ip_ranges: None,
            ip_lists: vec!["tor.txt".into()],
        };
        let given = EnrichOptions {
            geoip: Some("cli-geo.mmdb".into()),
            ip_lists: vec!["tor.txt".into(), "case.txt".into()],
            ..EnrichOptions::default()
        };
        let merged = given.over(file);
        assert_eq!(merged.geoip, Some("cli-geo.mmdb".into()));
        assert_eq!(merged.asn, Some("file-asn.mmdb".into()));
        assert_eq!(
            merged.ip_lists,
            vec![PathBuf::from("tor.txt"), PathBuf::from("case.txt")]
        );
    }

    #[test]
    fn a_misspelt_key_names_the_file_and_the_keys() {
        let (_dir, path) = config("geo_ip: x.mmdb\n");
        let err = EnrichOptions::from_config(&path, "--enrich-config")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("enrichment.yml") && err.contains("geo_ip") && err.contains("ip_lists"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
        let missing =
            EnrichOptions::from_config(Path::new("/nonexistent/e.yml"), "--enrich-config")
                .unwrap_err()
                .to_string();
        assert!(missing.starts_with("--enrich-config /nonexistent/e.yml: cannot read it"));
    }
}
