//! Retrying reads of a remote archive, so a transport fault never passes for evidence.
//!
//! object_store retries a request about ten times within two to four seconds, and not at all when
//! a response body breaks off. S3 answers `503 SlowDown` for longer than that while it scales a
//! prefix, so every GET and LIST of the archive (bodies included) is also retried here, with
//! exponential backoff and jitter, until a time budget sized for S3 runs out. Local directories
//! are not retried: a local read error does not go away by waiting.
//!
//! A server that says how long to wait (`Retry-After` on a 429 or 503) is obeyed: its answer is
//! handed to the retrying layers only once that pause is over ([`RetryAfterConnector`]).

use std::future::Future;
use std::time::{Duration, Instant};

use object_store::client::{
    ClientOptions, HttpClient, HttpConnector, HttpError, HttpRequest, HttpResponse, HttpService,
    ReqwestConnector,
};
use rand::Rng;

/// The default time budget for one object or listing request, retries included.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(60);
/// The first pause; each next one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// How long a read may keep failing before it is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Zero: one attempt only.
    pub budget: Duration,
}

impl RetryPolicy {
    pub const NONE: RetryPolicy = RetryPolicy {
        budget: Duration::ZERO,
    };

    /// Runs `attempt` until it succeeds, fails for good, or the budget is spent. Failures that
    /// say something about the object itself (not found, access denied, a bad path) are not
    /// retried. The error of the last attempt is returned with how many were made.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, Exhausted>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, object_store::Error>>,
    {
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let pause = jittered(backoff);
            if !is_transient(&error) || started.elapsed() + pause > self.budget {
                return Err(Exhausted {
                    error,
                    attempts,
                    elapsed: started.elapsed(),
                });
            }
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            budget: DEFAULT_RETRY_BUDGET,
        }
    }
}

/// A read that failed for good.
#[derive(Debug)]
pub struct Exhausted {
    pub error: object_store::Error,
    pub attempts: u32,
    pub elapsed: Duration,
}

impl Exhausted {
    /// The object store's answer says the object is not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self.error, object_store::Error::NotFound { .. })
    }

    /// The reason an object is `unfetched`, as every reader names it.
    pub fn fetch_reason(&self) -> String {
        format!("could not be fetched: {self}")
    }
}

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cause = one_line_cause(&self.error.to_string());
        if self.attempts > 1 {
            write!(
                f,
                "{cause} (gave up after {} attempts over {:.0}s; raise --retry-budget to wait longer)",
                self.attempts,
                self.elapsed.as_secs_f64()
            )
        } else {
            write!(f, "{cause}")
        }
    }
}

/// The cause of a store error in one line: object_store's message repeats the URL and its own
/// retry settings, and a server's answer arrives as a multi-line XML body whose `<Code>` is
/// what matters.
fn one_line_cause(message: &str) -> String {
    // "Error performing GET <url> in 12ms, after 2 retries, max_retries: 2, retry_timeout: 2s  - <cause>"
    let cause = match message.find("retry_timeout") {
        Some(at) => message[at..]
            .split_once(" - ")
            .map_or(message, |(_, rest)| rest),
        None => message,
    };
    let code = cause
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_string());
    let cause = match (cause.find("<?xml").or_else(|| cause.find("<Error>")), code) {
        (Some(at), Some(code)) => format!("{}({code})", &cause[..at]),
        _ => cause.to_string(),
    };
    cause.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Errors that may pass: server errors, throttling, broken connections and bodies. The others
/// are answers about the object or the request (not found, access denied, a bad signature),
/// and the same again on every try.
fn is_transient(error: &object_store::Error) -> bool {
    if !matches!(error, object_store::Error::Generic { .. }) {
        return false;
    }
    // object_store files most HTTP answers as `Generic`; its status type is private, so the
    // status is read from the message ("... non-2xx status code: 403 Forbidden ...").
    match http_status(&crate::error::causes(error)) {
        Some(status) => status >= 500 || status == 408 || status == 429,
        None => true,
    }
}

fn http_status(message: &str) -> Option<u16> {
    let (_, rest) = message.split_once("status code: ")?;
    rest.get(..3)?.parse().ok()
}

/// A pause between half and all of `backoff` ("equal jitter"): clients throttled together do not
/// come back together.
fn jittered(backoff: Duration) -> Duration {
    let half = backoff / 2;
    half + half.mul_f64(rand::thread_rng().r#gen::<f64>())
}

/// Makes object_store's HTTP client wait out a throttling answer's `Retry-After` (at most `cap`,
/// the retry budget) before returning it, so no retry comes sooner than the server asked.
#[derive(Debug)]
pub struct RetryAfterConnector {
    pub cap: Duration,
}

impl HttpConnector for RetryAfterConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(HonourRetryAfter {
            inner: ReqwestConnector::default().connect(options)?,
            cap: self.cap,
        }))
    }
}

#[derive(Debug)]
struct HonourRetryAfter {
    inner: HttpClient,
    cap: Duration,
}

#[async_trait::async_trait]
impl HttpService for HonourRetryAfter {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let response = self.inner.execute(request).await?;
        if matches!(response.status().as_u16(), 429 | 503)
            && let Some(pause) = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, chrono::Utc::now()))
        {
            tokio::time::sleep(pause.min(self.cap)).await;
        }
        Ok(response)
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn transient() -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: "503 SlowDown".into(),
        }
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            budget: Duration::from_secs(10),
        };
        let got = policy
            .run(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0..=2 => Err(transient()),
                    _ => Ok(7),
                }
            })
            .await
            .unwrap();
        assert_eq!((got, calls.load(Ordering::SeqCst)), (7, 4));
    }

    #[tokio::test]
    async fn gives_up_when_the_budget_is_spent() {
        let policy = RetryPolicy {
            budget: Duration::from_millis(500),
        };
        let e = policy
            .run(|| async { Err::<(), _>(transient()) })
            .await
            .unwrap_err();
        assert!(e.attempts >= 2, "{e}");
        assert!(e.to_string().contains("--retry-budget"), "{e}");
    }

    #[tokio::test]
    async fn client_errors_are_answers_not_faults() {
        let calls = AtomicU32::new(0);
        let denied = || object_store::Error::Generic {
            store: "S3",
            source: "Error performing GET http://h/b in 5ms - Server returned non-2xx status \
                     code: 403 Forbidden: (AccessDenied)"
                .into(),
        };
        let e = RetryPolicy::default()
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(denied())
            })
            .await
            .unwrap_err();
        assert_eq!((calls.load(Ordering::SeqCst), e.attempts), (1, 1));
        assert_eq!(http_status("non-2xx status code: 503 Slow Down"), Some(503));
        assert!(is_transient(&transient()));
    }

    #[test]
    fn causes_fit_on_one_line() {
        let message = "Generic S3 error: Error performing GET http://h/b/k in 290ms, after 2 \
            retries, max_retries: 2, retry_timeout: 2s  - Server returned non-2xx status code: \
            500 Internal Server Error: <?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code>\
            <Message>Try again.</Message></Error>";
        assert_eq!(
            one_line_cause(message),
            "Server returned non-2xx status code: 500 Internal Server Error: (InternalError)"
        );
        assert_eq!(one_line_cause("connection\nreset"), "connection reset");
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
    }

    #[tokio::test]
    async fn answers_about_the_object_are_not_retried() {
        let calls = AtomicU32::new(0);
        let e = RetryPolicy::default()
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(object_store::Error::NotFound {
                    path: "k".into(),
                    source: "gone".into(),
                })
            })
            .await
            .unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(!e.to_string().contains("attempts"));
    }
}
