//! Sets of IP networks with longest-prefix lookup: one hash map per prefix length, so a lookup
//! costs at most 33 (IPv4) or 129 (IPv6) probes, whatever the number of networks.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::Deserialize;

/// Networks, each with a value.
#[derive(Debug, Clone)]
pub struct Networks<V> {
    /// (is IPv6, prefix length) -> masked address -> value.
    by_length: BTreeMap<(bool, u8), HashMap<u128, V>>,
    len: usize,
}

impl<V> Default for Networks<V> {
    fn default() -> Self {
        Networks {
            by_length: BTreeMap::new(),
            len: 0,
        }
    }
}

fn bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (false, u128::from(u32::from(v4))),
            None => (true, u128::from(v6)),
        },
    }
}

fn mask(value: u128, v6: bool, length: u8) -> u128 {
    let width = if v6 { 128 } else { 32 };
    if length == 0 {
        return 0;
    }
    let keep = u32::from(length.min(width));
    let ones = if keep >= 128 {
        u128::MAX
    } else {
        (1u128 << keep) - 1
    };
    value & (ones << (u32::from(width) - keep))
}

/// `a.b.c.d`, `a.b.c.d/n`, `x::y`, `x::/n`.
pub fn parse_network(text: &str) -> Option<(IpAddr, u8)> {
    let text = text.trim();
    let (address, length) = match text.split_once('/') {
        Some((a, n)) => (a, Some(n.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let ip: IpAddr = address.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let length = length.unwrap_or(max);
    (length <= max).then_some((ip, length))
}

impl<V> Networks<V> {
    pub fn insert(&mut self, ip: IpAddr, length: u8, value: V) {
        let (v6, value_bits) = bits(ip);
        // An IPv4-mapped IPv6 network is stored as the IPv4 network it is.
        let length = if !v6 && ip.is_ipv6() {
            length.saturating_sub(96)
        } else {
            length
        };
        let slot = self.by_length.entry((v6, length)).or_default();
        if slot.insert(mask(value_bits, v6, length), value).is_none() {
            self.len += 1;
        }
    }

    /// The value of the most specific network holding `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<&V> {
        let (v6, value) = bits(ip);
        self.by_length
            .range((v6, 0)..=(v6, 128))
            .rev()
            .find_map(|((_, length), map)| map.get(&mask(value, v6, *length)))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[derive(Deserialize)]
struct IpRanges {
    #[serde(rename = "syncToken", default)]
    sync_token: String,
    #[serde(rename = "createDate", default)]
    create_date: String,
    #[serde(default)]
    prefixes: Vec<Prefix>,
    #[serde(default)]
    ipv6_prefixes: Vec<Prefix>,
}

#[derive(Deserialize)]
struct Prefix {
    #[serde(alias = "ipv6_prefix")]
    ip_prefix: String,
    service: String,
}

/// AWS's `ip-ranges.json`: each network's service (a specific service over the catch-all
/// `AMAZON`, which lists every range again), its `createDate` as RFC 3339, and its `syncToken`.
pub fn aws_ranges(bytes: &[u8]) -> Result<(Networks<String>, Option<String>, String), String> {
    let doc: IpRanges =
        serde_json::from_slice(bytes).map_err(|e| format!("not ip-ranges.json ({e})"))?;
    if doc.prefixes.is_empty() && doc.ipv6_prefixes.is_empty() {
        return Err("it lists no prefixes".into());
    }
    let mut best: HashMap<(IpAddr, u8), String> = HashMap::new();
    for p in doc.prefixes.iter().chain(&doc.ipv6_prefixes) {
        let Some(network) = parse_network(&p.ip_prefix) else {
            return Err(format!("prefix {:?} is not a network", p.ip_prefix));
        };
        let entry = best.entry(network).or_insert_with(|| p.service.clone());
        if entry == "AMAZON" {
            *entry = p.service.clone();
        }
    }
    let mut networks = Networks::default();
    for ((ip, length), service) in best {
        networks.insert(ip, length, service);
    }
    // createDate is `YYYY-MM-DD-hh-mm-ss`, UTC.
    let created = chrono::NaiveDateTime::parse_from_str(&doc.create_date, "%Y-%m-%d-%H-%M-%S")
        .ok()
        .map(|t| t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    Ok((networks, created, doc.sync_token))
}

/// A list file: one address or network per line; blank lines and `#` comments ignored.
pub fn ip_list(bytes: &[u8]) -> Result<Networks<()>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not text".to_string())?;
    let mut networks = Networks::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let (ip, length) = parse_network(line)
            .ok_or_else(|| format!("line {}: {line:?} is not an address or network", n + 1))?;
        networks.insert(ip, length, ());
    }
    Ok(networks)
}
