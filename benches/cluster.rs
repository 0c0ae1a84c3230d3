//! Cluster benchmark: questions over the benchmarks' raw 30-day archive (≈1.02M events in ≈52k
//! log files, see `common`), asked of the `trailscope query` process locally and on a Ballista
//! cluster on this machine, in one run.
//!
//! `cargo bench --features cluster --bench cluster -- [--data DIR] [--runs R]`. Three set-ups,
//! each timed as a user sees it (the client process, start to exit), `--runs` times each
//! (default 3), alternating, medians reported, answers checked equal:
//! - **local**: `trailscope query -a ARCHIVE`, decoding on every core;
//! - **1 executor**: a scheduler and one executor running two tasks at once;
//! - **2 executors**: a scheduler and two executors running one task each.
//!
//! On one 2-core machine the cluster cannot be faster than local: it has the same cores, and
//! adds planning on the scheduler, a shuffle of the decoded rows and a fetch of the results.
//! What it measures is that overhead, and each executor's decoding throughput (events per
//! second per task slot), from which a larger cluster can be projected.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `trailscope cluster ...` process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(args: &[&str], ports: &[u16]) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_trailscope"))
        .arg("cluster")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start trailscope cluster");
    let started = Instant::now();
    for port in ports {
        while TcpStream::connect(("127.0.0.1", *port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Server(child)
}

/// A scheduler and `executors` executors of `tasks` task slots each; its URL.
fn cluster(executors: usize, tasks: usize) -> (String, Vec<Server>) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut servers = vec![start(&["scheduler", "--bind", &bind], &[port])];
    let tasks = tasks.to_string();
    for _ in 0..executors {
        let (flight, grpc) = (free_port(), free_port());
        let flight_bind = format!("127.0.0.1:{flight}");
        let grpc_port = grpc.to_string();
        servers.push(start(
            &[
                "executor",
                "--scheduler",
                &bind,
                "--bind",
                &flight_bind,
                "--grpc-port",
                &grpc_port,
                "--concurrency",
                &tasks,
            ],
            &[flight, grpc],
        ));
    }
    (format!("df://{bind}"), servers)
}

/// One question: a name, the SQL and the scope arguments.
struct Question {
    name: &'static str,
    sql: &'static str,
    scope: &'static [&'static str],
}

const QUESTIONS: &[Question] = &[
    Question {
        name: "count by eventname (every record decoded)",
        sql: "SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY 1 ORDER BY 1",
        scope: &[],
    },
    Question {
        name: "errors by source and account",
        sql: "SELECT account_id, eventsource, errorcode, count(*) AS n FROM cloudtrail \
              WHERE errorcode IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        scope: &[],
    },
    Question {
        name: "one day of 30 (--from/--to)",
        sql: "SELECT eventsource, count(*) AS n FROM cloudtrail GROUP BY 1 ORDER BY 1",
        scope: &["--from", "2026-10-15", "--to", "2026-10-16"],
    },
];

/// Runs the client once: seconds from start to exit, its CSV answer and its summary line.
fn ask(archive: &Path, q: &Question, url: Option<&str>) -> (f64, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailscope"));
    cmd.args(["query", "-a", archive.to_str().unwrap(), "--format", "csv"])
        .args(q.scope);
    if let Some(url) = url {
        cmd.args(["--cluster", url]);
    }
    cmd.arg(q.sql);
    let started = Instant::now();
    let out = cmd.output().expect("run trailscope query");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{}: {stderr}", q.name);
    let summary = stderr.lines().last().unwrap_or_default().to_string();
    (
        seconds,
        String::from_utf8_lossy(&out.stdout).into(),
        summary,
    )
}

fn main() {
    let archive = common::prepare(&common::data_dir());
    let runs: usize = common::option("--runs").map_or(3, |v| v.parse().expect("--runs R"));
    let (url_one, _one) = cluster(1, 2);
    let (url_two, _two) = cluster(2, 1);
    let setups: [(&str, Option<&str>); 3] = [
        ("local", None),
        ("1 executor x 2 tasks", Some(&url_one)),
        ("2 executors x 1 task", Some(&url_two)),
    ];
    println!(
        "cluster benchmark: {} ({runs} runs each, medians)",
        archive.display()
    );
    for q in QUESTIONS {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); setups.len()];
        let mut answer: Option<String> = None;
        let mut summaries = vec![String::new(); setups.len()];
        for _ in 0..runs {
            for (i, (_, url)) in setups.iter().enumerate() {
                let (seconds, csv, summary) = ask(&archive, q, *url);
                match &answer {
                    None => answer = Some(csv),
                    Some(a) => {
                        assert_eq!(&csv, a, "{}: {} answered differently", q.name, setups[i].0)
                    }
                }
                times[i].push(seconds);
                summaries[i] = summary;
            }
        }
        let local = common::median(times[0].clone());
        println!("\n{}", q.name);
        println!("  local summary: {}", summaries[0]);
        println!("  cluster summary: {}", summaries[1]);
        for (i, (name, _)) in setups.iter().enumerate() {
            let m = common::median(times[i].clone());
            println!(
                "  {name:<22} {m:>6.2} s  ({:.2}x local)  runs: {:?}",
                m / local,
                times[i]
                    .iter()
                    .map(|t| (t * 100.0).round() / 100.0)
                    .collect::<Vec<_>>()
            );
        }
    }
}
