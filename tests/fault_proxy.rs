//! A fault-injecting HTTP proxy on 127.0.0.1, in front of moto_server: what a flaky network and a
//! throttling S3 do to trailscope, made repeatable.
//!
//! Each connection carries one request (the proxy answers `Connection: close`). A request is
//! matched against the rules in order; the first that applies decides its fate (a 503 or 500
//! answer, a reset, a body cut in half, a stall), and the rest are passed through unchanged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What happens to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `503 SlowDown`, as S3 answers while it scales a prefix.
    SlowDown,
    /// `503 SlowDown` with `Retry-After: N` (seconds).
    SlowDownRetryAfter(u64),
    /// `500 InternalError`.
    InternalError,
    /// The connection is closed without an answer.
    Reset,
    /// The status line and headers, then half the body, then the connection closes.
    TruncateBody,
    /// Answered (correctly) only after this long.
    Stall(Duration),
}

/// Which requests a rule applies to, and how often.
#[derive(Debug, Clone)]
pub struct Rule {
    pub fault: Fault,
    /// A substring of the request line (`GET /bucket/key?list-type=2...`); empty: every request.
    pub matching: String,
    /// Only requests arriving before this instant (a burst).
    pub until: Option<Instant>,
    /// At most this many times (then the rule is spent); `None`: always.
    pub times: Option<usize>,
}

impl Rule {
    pub fn always(fault: Fault, matching: &str) -> Rule {
        Rule {
            fault,
            matching: matching.to_string(),
            until: None,
            times: None,
        }
    }

    pub fn times(fault: Fault, matching: &str, times: usize) -> Rule {
        Rule {
            times: Some(times),
            ..Rule::always(fault, matching)
        }
    }

    /// Every request for `length`, from now.
    pub fn burst(fault: Fault, length: Duration) -> Rule {
        Rule {
            until: Some(Instant::now() + length),
            ..Rule::always(fault, "")
        }
    }
}

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET /bucket/key?query HTTP/1.1`
    pub line: String,
    /// Header lines, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Decides whether a request may pass: `Err(why)` answers `403 AccessDenied`, as an IAM policy
/// that does not allow the request would.
pub type Gate = Arc<dyn Fn(&Request) -> Result<(), String> + Send + Sync>;

/// A running proxy; it stops with the test process.
pub struct FaultProxy {
    pub endpoint: String,
    /// How many requests each fault was applied to.
    pub applied: Arc<Mutex<Vec<Fault>>>,
    /// Every request refused by the gate, with the reason.
    pub denied: Arc<Mutex<Vec<String>>>,
    /// Every request line that arrived, in order, with when.
    pub seen: Arc<Mutex<Vec<(Instant, String)>>>,
}

/// What every connection of one proxy shares.
struct Shared {
    upstream: String,
    rules: Mutex<Vec<Rule>>,
    gate: Option<Gate>,
    applied: Arc<Mutex<Vec<Fault>>>,
    denied: Arc<Mutex<Vec<String>>>,
    seen: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl FaultProxy {
    pub fn start(upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        FaultProxy::start_gated(upstream, rules, None)
    }

    /// A proxy that also refuses what `gate` does not allow.
    pub fn start_gated(upstream: &str, rules: Vec<Rule>, gate: Option<Gate>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            upstream: upstream.trim_start_matches("http://").to_string(),
            rules: Mutex::new(rules),
            gate,
            applied: Arc::default(),
            denied: Arc::default(),
            seen: Arc::default(),
        });
        let proxy = FaultProxy {
            endpoint,
            applied: Arc::clone(&shared.applied),
            denied: Arc::clone(&shared.denied),
            seen: Arc::clone(&shared.seen),
        };
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = serve(client, &shared);
                });
            }
        });
        proxy
    }

    /// How many requests got `fault`.
    pub fn count(&self, fault: Fault) -> usize {
        self.applied
            .lock()
            .unwrap()
            .iter()
            .filter(|f| **f == fault)
            .count()
    }
}

/// The first rule that applies to `request_line`, spending one of its uses.
fn choose(rules: &Mutex<Vec<Rule>>, request_line: &str) -> Option<Fault> {
    let mut rules = rules.lock().unwrap();
    let now = Instant::now();
    for rule in rules.iter_mut() {
        if !request_line.contains(&rule.matching) || rule.until.is_some_and(|u| now >= u) {
            continue;
        }
        match &mut rule.times {
            Some(0) => continue,
            Some(n) => *n -= 1,
            None => {}
        }
        return Some(rule.fault);
    }
    None
}

fn serve(client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
        let end = line == "\r\n";
        // Our answers close the connection: the client must not keep it for another request.
        if !line.to_ascii_lowercase().starts_with("connection:") {
            head.push(line);
        }
        if end {
            break;
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    let request_line = head.first().cloned().unwrap_or_default();
    let arrived = (Instant::now(), request_line.trim_end().to_string());
    shared.seen.lock().unwrap().push(arrived);
    let mut client = client;
    if let Some(gate) = &shared.gate {
        let request = Request {
            line: request_line.trim_end().to_string(),
            headers: head[1..]
                .iter()
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                .collect(),
            body: body.clone(),
        };
        if let Err(why) = gate(&request) {
            shared.denied.lock().unwrap().push(why);
            return answer(
                &mut client,
                "403 Forbidden",
                ("AccessDenied", "Access Denied"),
                "",
            );
        }
    }
    let fault = choose(&shared.rules, &request_line);
    if let Some(f) = fault {
        shared.applied.lock().unwrap().push(f);
    }
    match fault {
        Some(Fault::SlowDown) => {
            return answer(&mut client, "503 Slow Down", SLOW_DOWN, "");
        }
        Some(Fault::SlowDownRetryAfter(seconds)) => {
            let header = format!("Retry-After: {seconds}\r\n");
            return answer(&mut client, "503 Slow Down", SLOW_DOWN, &header);
        }
        Some(Fault::InternalError) => {
            return answer(
                &mut client,
                "500 Internal Server Error",
                (
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                ),
                "",
            );
        }
        Some(Fault::Reset) => {
            return client.shutdown(Shutdown::Both);
        }
        Some(Fault::Stall(d)) => std::thread::sleep(d),
        Some(Fault::TruncateBody) | None => {}
    }
    let mut up = TcpStream::connect(&shared.upstream)?;
    let last = head.len() - 1;
    head.insert(last, "Connection: close\r\n".to_string());
    up.write_all(head.concat().as_bytes())?;
    up.write_all(&body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |p| p + 4);
    let (headers, body) = response.split_at(split);
    let headers = String::from_utf8_lossy(headers);
    let mut out: String = headers
        .split_inclusive("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    out.insert_str(out.len() - 2, "Connection: close\r\n");
    client.write_all(out.as_bytes())?;
    if fault == Some(Fault::TruncateBody) {
        client.write_all(&body[..body.len() / 2])?;
    } else {
        client.write_all(body)?;
    }
    client.flush()?;
    client.shutdown(Shutdown::Both)
}

const SLOW_DOWN: (&str, &str) = ("SlowDown", "Please reduce your request rate.");

/// An S3 error answer: `status`, the XML body's (code, message), and `extra` header lines.
fn answer(
    client: &mut TcpStream,
    status: &str,
    (code, message): (&str, &str),
    extra: &str,
) -> std::io::Result<()> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    write!(
        client,
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    client.flush()?;
    client.shutdown(Shutdown::Both)
}
