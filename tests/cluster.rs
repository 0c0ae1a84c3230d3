//! The same SQL on a Ballista cluster: a scheduler and executors started as separate
//! `trailscope cluster` processes on 127.0.0.1 must answer ad-hoc queries and a control's SQL
//! over the lake, the raw archive, or both (a lake behind its archive), from local directories
//! and from S3 on moto, exactly as the local engine does, and name what they could not read.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{copy_tree, plant, stderr, stdout, trailscope, trailscope_with_env};

/// A `trailscope cluster ...` process, killed when the test ends however it ends.
struct Server {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// `trailscope cluster NAME ARGS` with `env` added to ours, its output in `DIR/LABEL.log` and
    /// `DIR/LABEL.err`.
    fn start(
        name: &'static str,
        label: &str,
        args: &[&str],
        env: &[(&str, &str)],
        dir: &Path,
    ) -> Server {
        let log = dir.join(format!("{label}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_trailscope"))
            .args(["cluster", name])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(File::create(&log).unwrap())
            .stderr(File::create(dir.join(format!("{label}.err"))).unwrap())
            .spawn()
            .expect("start trailscope cluster");
        Server { name, child, log }
    }

    /// Waits until every port of `ports` accepts connections; the process's output if it exits
    /// first. Panics if that takes over a minute.
    fn listening(&mut self, ports: &[u16]) -> Result<(), String> {
        let started = Instant::now();
        for &port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Some(status) = self.child.try_wait().unwrap() {
                    return Err(format!(
                        "trailscope cluster {} exited ({status}) before listening on {port}:\n{}",
                        self.name,
                        self.output()
                    ));
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "trailscope cluster {} not listening on {port} after 60 s:\n{}",
                    self.name,
                    self.output()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    fn output(&self) -> String {
        let err = self.log.with_extension("err");
        format!(
            "{}{}",
            std::fs::read_to_string(&err).unwrap_or_default(),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }
}

impl Server {
    /// Kills the process (SIGKILL) and reaps it.
    fn stop(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `N` different free ports: each listener is held until all are taken, since the system may
/// hand a port just released out again.
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").unwrap());
    listeners.map(|l| l.local_addr().unwrap().port())
}

/// The first of `n` consecutive free ports, taken below Linux's ephemeral range (32768 up), so
/// that the ports other tests take with [`free_ports`] meanwhile cannot land among them.
fn free_ports_below_ephemeral(n: u16) -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    let seed = u64::from(std::process::id()) ^ nanos;
    let start = 20_000 + (seed % 10_000) as u16;
    (0..2_000)
        .map(|i| 20_000 + (start - 20_000 + i * 7) % 10_000)
        .find(|base| (0..n).all(|k| TcpListener::bind(("127.0.0.1", base + k)).is_ok()))
        .expect("no run of free ports between 20000 and 30000")
}

/// A scheduler and one executor on free loopback ports; the scheduler's `df://` URL.
fn start_cluster(dir: &Path) -> (String, Vec<Server>) {
    let (url, scheduler_addr, scheduler) = start_scheduler(dir, &[]);
    let executor = start_executor(
        dir,
        "executor",
        &scheduler_addr,
        &["--concurrency", "2"],
        &[],
    );
    (url, vec![scheduler, executor])
}

/// A server started by `start` on `N` free ports, once it listens on all of them. Another test
/// may take a port between our choosing it and the server binding it; the server then says it
/// cannot listen, and it is started again on other ports.
fn start_on_free_ports<const N: usize>(start: impl Fn([u16; N]) -> Server) -> ([u16; N], Server) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let ports = free_ports::<N>();
        let mut server = start(ports);
        match server.listening(&ports) {
            Ok(()) => return (ports, server),
            Err(output) if attempts < 3 && output.contains("cannot listen") => {}
            Err(output) => panic!("{output}"),
        }
    }
}

/// A scheduler on a free loopback port: its `df://` URL and address.
fn start_scheduler(dir: &Path, args: &[&str]) -> (String, String, Server) {
    let ([port], scheduler) = start_on_free_ports(|[port]| {
        let addr = format!("127.0.0.1:{port}");
        Server::start(
            "scheduler",
            "scheduler",
            &[&["--bind", addr.as_str()][..], args].concat(),
            &[],
            dir,
        )
    });
    let addr = format!("127.0.0.1:{port}");
    (format!("df://{addr}"), addr, scheduler)
}

/// An executor of the scheduler at `scheduler_addr`, on free loopback ports, once it listens.
fn start_executor(
    dir: &Path,
    label: &str,
    scheduler_addr: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let (_, executor) = start_on_free_ports(|[flight_port, grpc_port]| {
        let flight = format!("127.0.0.1:{flight_port}");
        let grpc = grpc_port.to_string();
        Server::start(
            "executor",
            label,
            &[
                &[
                    "--scheduler",
                    scheduler_addr,
                    "--bind",
                    flight.as_str(),
                    "--grpc-port",
                    grpc.as_str(),
                ][..],
                args,
            ]
            .concat(),
            env,
            dir,
        )
    });
    executor
}

/// Two executors of one task slot each, with `env` added to ours.
fn two_executors(dir: &Path, scheduler_addr: &str, env: &[(&str, &str)]) -> Vec<Server> {
    ["executor-1", "executor-2"]
        .iter()
        .map(|label| start_executor(dir, label, scheduler_addr, &["--concurrency", "1"], env))
        .collect()
}

/// `sql` over the committed rows of the lake `lake` of `archive`, as CSV.
fn lake_only_csv(archive: &str, lake: &str, sql: &str) -> String {
    let args = [
        "query",
        "-q",
        "-a",
        archive,
        "--lake",
        lake,
        "--lake-only",
        "--format",
        "csv",
        sql,
    ];
    succeeded(trailscope(&args), lake)
}

fn succeeded(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\n{}",
        out.status.code(),
        stderr(&out)
    );
    stdout(&out)
}

fn sorted(csv: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = csv.lines().collect();
    lines.sort_unstable();
    lines
}

const SNAPSHOT: &str = "testdata/snapshot-566424620868.json";
/// A control whose SQL reads `cloudtrail`, `log_files` (through a view) and the snapshot's
/// tables: on the bundled archive it fails on the StopLogging episode.
const CONTROL: &str = "queries/controls/alarms/CTL.CLOUDTRAIL.ALARM.STOPLOGGING.001.sql";

/// Ad-hoc questions: grouping over partition and file columns, our JSON functions, a window,
/// and one principal's events (files skipped by bloom filter on the scheduler).
const AD_HOC: &[&str] = &[
    "SELECT account_id, region, eventname, count(*) AS n, count(DISTINCT useridentity.arn) AS principals, \
     min(eventtime) AS first, max(eventtime) AS last FROM cloudtrail GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    "SELECT eventname, json_extract_scalar(requestparameters, '$.name') AS name, count(*) AS n \
     FROM cloudtrail WHERE eventsource = 'cloudtrail.amazonaws.com' GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT eventtime, eventname, eventid FROM cloudtrail \
     WHERE useridentity.arn = 'arn:aws:iam::823987593460:user/ci-deploy' ORDER BY 1, 3",
    // Athena's partition columns, computed from log_file on the executors.
    "SELECT date_partition, account_partition, region_partition, count(*) AS n FROM cloudtrail \
     WHERE date_partition >= '2026/10/01' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
];

#[test]
fn cluster_answers_as_the_local_engine_from_the_lake_and_the_archive() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let lake = dir.path().join("lake");
    copy_tree(&root.join("testdata/archive"), &archive);
    let (a, l) = (archive.to_str().unwrap(), lake.to_str().unwrap());
    succeeded(
        trailscope(&["convert", "-q", "-a", a, "--lake", l]),
        "convert",
    );

    let (url, servers) = start_cluster(dir.path());
    let snapshot = root.join(SNAPSHOT);
    let control = root.join(CONTROL);
    let (snapshot, control) = (snapshot.to_str().unwrap(), control.to_str().unwrap());
    let local_and_cluster = |args: &[&str]| {
        let base = [
            &["query", "-q", "-a", a, "--lake", l, "--format", "csv"][..],
            args,
        ]
        .concat();
        let local = succeeded(trailscope(&base), &format!("local {args:?}"));
        let cluster = [&base[..], &["--cluster", &url]].concat();
        let remote = succeeded(trailscope(&cluster), &format!("cluster {args:?}"));
        (local, remote)
    };

    for sql in AD_HOC {
        let (local, remote) = local_and_cluster(&[sql]);
        assert!(local.lines().count() > 2, "{sql}: too few rows\n{local}");
        assert_eq!(remote, local, "{sql}");
    }
    // The user's --from/--account restrict the lake's rows exactly on the cluster too.
    let (local, remote) = local_and_cluster(&[
        "--from",
        "2026-10-01T12:00:00Z",
        "--account",
        "566424620868",
        AD_HOC[0],
    ]);
    assert!(local.lines().count() > 1, "{local}");
    assert_eq!(remote, local, "--from/--account");
    // A control's own SQL file, with the snapshot's tables shipped to the cluster.
    let (local, remote) = local_and_cluster(&["-s", snapshot, "-f", control]);
    // Its SQL has no ORDER BY: compare the rows in any order.
    assert!(local.contains("fail"), "{local}");
    assert_eq!(sorted(&remote), sorted(&local), "{CONTROL}");

    // The executor tells its operator what it did: a line per task, with rows and bytes.
    let executor_log = servers[1].output();
    let done: Vec<&str> = executor_log
        .lines()
        .filter(|l| l.starts_with("trailscope: task ") && l.contains(": done in "))
        .collect();
    assert!(done.len() >= AD_HOC.len(), "{executor_log}");
    assert!(
        done.iter().any(|l| !l.contains(" 0 rows")),
        "{executor_log}"
    );

    // A log file delivered after the conversion: executors read it raw beside the lake.
    plant(&archive, LATE_KEY, &crate::util::gzip(LATE_LOG.as_bytes()));
    let (local, remote) = local_and_cluster(&[AD_HOC[0]]);
    assert_eq!(remote, local, "the lake and a late raw log file");
    let (local, remote) = local_and_cluster(&[LATE_QUERY]);
    assert_eq!(local.lines().count(), 2, "{local}");
    assert_eq!(remote, local, "the late event itself");
    // Unless the user asks for the lake's rows alone, and is told what that leaves out.
    let alone = trailscope(&[
        "query",
        "-q",
        "-a",
        a,
        "--lake",
        l,
        "--lake-only",
        "--cluster",
        &url,
        "--format",
        "csv",
        LATE_QUERY,
    ]);
    assert_eq!(alone.status.code(), Some(0), "{}", stderr(&alone));
    assert_eq!(stdout(&alone).lines().count(), 1, "{}", stdout(&alone));
    assert!(
        stderr(&alone).contains("--lake-only: answered from the lake"),
        "{}",
        stderr(&alone)
    );

    // Without a lake, executors read the raw archive: the same answers as the local engine.
    let raw = |sql: &str, cluster: bool| {
        let mut args = vec!["query", "-q", "-a", a, "--format", "csv", sql];
        if cluster {
            args.extend(["--cluster", url.as_str()]);
        }
        succeeded(
            trailscope(&args),
            &format!("raw {sql} (cluster: {cluster})"),
        )
    };
    for sql in AD_HOC.iter().chain([&LATE_QUERY, &RAW_ONLY]) {
        let local = raw(sql, false);
        assert!(local.lines().count() > 1, "{sql}: no rows\n{local}");
        assert_eq!(raw(sql, true), local, "raw: {sql}");
    }
    // The executor's task lines say what its raw scans read.
    let executor_log = servers[1].output();
    assert!(
        executor_log
            .lines()
            .any(|l| l.contains(": done in ") && l.contains(" log files (")),
        "{executor_log}"
    );
}

/// A log file the lake's conversion never saw: one event, delivered late.
const LATE_KEY: &str = "AWSLogs/566424620868/CloudTrail/us-east-1/2026/10/03/\
                        566424620868_CloudTrail_us-east-1_20261003T2355Z_lateLATElate0001.json.gz";
const LATE_LOG: &str = r#"{"Records":[{"eventVersion":"1.08","userIdentity":{"type":"IAMUser",
"principalId":"AIDAEXAMPLELATE","arn":"arn:aws:iam::566424620868:user/late-reader",
"accountId":"566424620868","userName":"late-reader"},"eventTime":"2026-10-03T23:50:00Z",
"eventSource":"s3.amazonaws.com","eventName":"GetBucketAcl","awsRegion":"us-east-1",
"sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0","requestParameters":
{"bucketName":"late-bucket"},"responseElements":null,"eventID":"0f0e0d0c-late-4000-8000-000000000001",
"eventType":"AwsApiCall","recipientAccountId":"566424620868"}]}"#;
const LATE_QUERY: &str = "SELECT eventid, eventname, useridentity.arn, log_file FROM cloudtrail \
                          WHERE useridentity.username = 'late-reader'";
/// Only the raw scan has each record's JSON.
const RAW_ONLY: &str = "SELECT eventid, length(eventjson) AS bytes FROM cloudtrail \
                        WHERE eventname = 'StopLogging' ORDER BY 1";

/// An executor killed (SIGKILL) while the scheduler still counts it: the query gives the local
/// engine's answer (the tasks it could not launch there run on the other executor) or fails with
/// exit 2, never another answer with exit 0 and never a hang; with no executor left, exit 2.
#[test]
fn an_executor_killed_costs_a_retry_never_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, lake) = bundled_lake(dir.path());
    let (a, l) = (archive.to_str().unwrap(), lake.to_str().unwrap());
    let query = |extra: &[&str]| -> Vec<String> {
        ["query", "-q", "-a", a, "--lake", l, "--format", "csv"]
            .iter()
            .chain(extra)
            .chain(&[AD_HOC[0]])
            .map(|s| s.to_string())
            .collect()
    };
    let local = succeeded(trailscope_args(query(&[])), "local");

    // Taken for dead after 4 s without a heartbeat (one a second), so the test waits seconds,
    // not Ballista's default three minutes.
    let (url, scheduler_addr, _scheduler) =
        start_scheduler(dir.path(), &["--executor-timeout", "4"]);
    let executor = |label| {
        let args = ["--concurrency", "1", "--heartbeat", "1"];
        start_executor(dir.path(), label, &scheduler_addr, &args, &[])
    };
    let (mut kept, mut doomed) = (executor("kept"), executor("doomed"));
    let on_cluster = |what| succeeded(trailscope_args(query(&["--cluster", &url])), what);
    // Both serve a query first, so the scheduler counts both.
    assert_eq!(on_cluster("with two executors"), local);
    doomed.stop();
    let out = within_two_minutes(query(&["--cluster", &url]));
    match out.status.code() {
        Some(0) => assert_eq!(
            stdout(&out),
            local,
            "exit 0 with another answer after an executor was killed"
        ),
        Some(2) => assert!(!stderr(&out).trim().is_empty(), "exit 2 without a word"),
        other => panic!("exit {other:?} after the kill:\n{}", stderr(&out)),
    }
    assert_eq!(on_cluster("the next query, with one executor left"), local);

    // With no executor left, a query fails loudly once the timeout has passed.
    kept.stop();
    let none_left = within_two_minutes(query(&["--cluster", &url]));
    assert_eq!(none_left.status.code(), Some(2), "{}", stderr(&none_left));
    // Its job had a task on the executor lost: stopped by our scheduler, or by Ballista's own
    // rule for a cluster left empty.
    let said = stderr(&none_left);
    assert!(
        said.contains("an executor it ran on was lost") || said.contains("executors were lost"),
        "{said}"
    );
}

/// An executor killed (SIGKILL) mid-query, just after its first task of the job: the query fails
/// with exit 2 and says so, or gives the local answer; never another answer with exit 0, never
/// a hang. The executor left then answers the next query exactly. Both planners: a lake query
/// (Ballista's adaptive one) and a raw one (its static one). Before the scheduler gave back the
/// slots of tasks whose stage was rolled back, both hung in every run here; once it did, a raw
/// query rerun after the loss counted some events twice with exit 0 (src/cluster/slots.rs).
#[test]
fn an_executor_killed_mid_query_fails_it_loudly_never_a_wrong_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, lake) = bundled_lake(dir.path());
    let (a, l) = (archive.to_str().unwrap(), lake.to_str().unwrap());
    let (url, scheduler_addr, scheduler) =
        start_scheduler(dir.path(), &["--executor-timeout", "4"]);
    let executor = |label: &str| {
        let args = ["--concurrency", "1", "--heartbeat", "1"];
        start_executor(dir.path(), label, &scheduler_addr, &args, &[])
    };
    let tasks_done = |label: &str| {
        let log = std::fs::read_to_string(dir.path().join(format!("{label}.err")));
        log.unwrap_or_default().matches(": done in ").count()
    };
    let _kept = executor("kept");
    let lake_or_raw: [&[&str]; 2] = [&["--lake", l], &[]];
    for (round, from) in lake_or_raw.into_iter().enumerate() {
        let args = [&["query", "-q", "-a", a, "--format", "csv"], from].concat();
        let query = |extra: &[&str]| -> Vec<String> {
            [&args[..], extra, &[AD_HOC[0]]]
                .concat()
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        let local = succeeded(trailscope_args(query(&[])), "local");
        let label = format!("doomed-{round}");
        let mut doomed = executor(&label);
        let on_cluster = |what| succeeded(trailscope_args(query(&["--cluster", &url])), what);
        assert_eq!(on_cluster("with two executors"), local);
        let before = tasks_done(&label);
        let client = spawn_trailscope(&query(&["--cluster", &url]));
        let started = Instant::now();
        while tasks_done(&label) == before && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(10));
        }
        doomed.stop();
        let out = within_two_minutes_of(client, &query(&["--cluster", &url]));
        match out.status.code() {
            Some(0) => assert_eq!(stdout(&out), local, "exit 0 with another answer"),
            Some(2) => {
                let said = stderr(&out);
                assert!(said.contains("an executor it ran on was lost"), "{said}");
                assert!(
                    scheduler.output().contains("cancelled: executor"),
                    "the scheduler's log does not say which job it stopped and why:\n{}",
                    scheduler.output()
                );
            }
            other => panic!("exit {other:?} after the kill:\n{}", stderr(&out)),
        }
        let next = within_two_minutes(query(&["--cluster", &url]));
        assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
        assert_eq!(stdout(&next), local, "the next query, on the executor left");
    }
}

/// The bundled archive, and its lake converted under `dir`.
fn bundled_lake(dir: &Path) -> (PathBuf, PathBuf) {
    let archive = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/archive");
    let lake = dir.join("lake");
    let (a, l) = (archive.to_str().unwrap(), lake.to_str().unwrap());
    succeeded(
        trailscope(&["convert", "-q", "-a", a, "--lake", l]),
        "convert",
    );
    (archive, lake)
}

fn trailscope_args(args: Vec<String>) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    trailscope(&args)
}

/// `trailscope ARGS`, killed (and the test failed) if it has not ended after two minutes: a
/// cluster that hangs is a failure, not a wait.
fn within_two_minutes(args: Vec<String>) -> Output {
    within_two_minutes_of(spawn_trailscope(&args), &args)
}

/// `trailscope ARGS` started, its output piped.
fn spawn_trailscope(args: &[String]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_trailscope"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The output of `child` (started with `args`), killed if it has not ended after two minutes.
fn within_two_minutes_of(mut child: std::process::Child, args: &[String]) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("trailscope {args:?} still running after 120 s: the cluster hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `scripts/cluster.sh`: a scheduler and two executors that answer as the local engine, all
/// stopped when the script is.
#[test]
fn the_cluster_script_starts_a_scheduler_and_executors_and_stops_them_all() {
    use std::io::{BufRead, BufReader};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let (archive, lake) = bundled_lake(dir.path());
    let logs = dir.path().join("logs");
    let (a, l) = (archive.to_str().unwrap(), lake.to_str().unwrap());
    let base = free_ports_below_ephemeral(5);
    let mut script = Command::new("bash")
        .arg(root.join("scripts/cluster.sh"))
        .args(["-n", "2", "-p", &base.to_string()])
        .args(["-l", logs.to_str().unwrap()])
        .args(["-b", env!("CARGO_BIN_EXE_trailscope")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let logs_now = || {
        std::fs::read_dir(&logs)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    let mut lines = BufReader::new(script.stdout.take().unwrap()).lines();
    let ready = lines
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("the script ended before it was ready:\n{}", logs_now()));
    let url = format!("df://127.0.0.1:{base}");
    assert!(ready.starts_with(&format!("ready: {url} ")), "{ready}");

    let query = |extra: &[&str]| {
        let base_args = ["query", "-q", "-a", a, "--lake", l, "--format", "csv"];
        trailscope(&[&base_args[..], extra, &[AD_HOC[0]]].concat())
    };
    let local = succeeded(query(&[]), "local");
    let remote = succeeded(query(&["--cluster", &url]), "through the script's cluster");
    assert_eq!(remote, local);
    assert!(logs_now().contains(": done in "), "{}", logs_now());

    let stopped = Command::new("kill")
        .args(["-TERM", &script.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    script.wait().unwrap();
    let ports = [base, base + 1, base + 2, base + 3, base + 4];
    let started = Instant::now();
    while let Some(open) = ports
        .iter()
        .find(|p| TcpStream::connect(("127.0.0.1", **p)).is_ok())
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "port {open} still listens after the script stopped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Objects an executor cannot read are named as a local query names them, and the rest answered
/// exactly; under `--strict` they fail the query on the cluster as they do locally.
#[test]
fn executors_name_the_objects_they_cannot_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    copy_tree(&root.join("testdata/archive"), &archive);
    let not_gzip = "AWSLogs/566424620868/CloudTrail/us-east-1/2026/10/02/\
                    566424620868_CloudTrail_us-east-1_20261002T1200Z_notgzipnotgzip01.json.gz";
    let cut_short = "AWSLogs/566424620868/CloudTrail/eu-west-1/2026/10/03/\
                     566424620868_CloudTrail_eu-west-1_20261003T1200Z_cutshortcutshor1.json.gz";
    plant(&archive, not_gzip, b"not gzip at all");
    let whole = crate::util::gzip(LATE_LOG.as_bytes());
    plant(&archive, cut_short, &whole[..whole.len() / 2]);
    let misnamed = "AWSLogs/566424620868/CloudTrail/us-east-1/2026/10/02/notes.txt";
    plant(&archive, misnamed, b"left here by someone");
    let a = archive.to_str().unwrap();

    let (url, _servers) = start_cluster(dir.path());
    let sql = "SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY 1 ORDER BY 1";
    let local = trailscope(&["query", "-a", a, "--format", "csv", sql]);
    assert_eq!(local.status.code(), Some(0), "{}", stderr(&local));
    assert!(stdout(&local).lines().count() > 2, "{}", stdout(&local));
    assert_eq!(
        trailscope(&["query", "-a", a, "--strict", sql])
            .status
            .code(),
        Some(1)
    );
    // The client lists the objects, or (past its listing limit, here none) the executors list
    // the folders it sends: either way the same objects are named.
    for listing in ["100000", "0"] {
        let env = [("TRAILSCOPE_CLUSTER_CLIENT_LISTING", listing)];
        let run = |extra: &[&str]| {
            let args = [&["query", "-a", a, "--cluster", &url][..], extra].concat();
            trailscope_with_env(&args, &env)
        };
        let remote = run(&["--format", "csv", sql]);
        assert_eq!(remote.status.code(), Some(0), "{}", stderr(&remote));
        assert_eq!(stdout(&remote), stdout(&local), "listing limit {listing}");
        let named = stderr(&remote);
        assert!(
            named.contains("3 objects could not be fully read"),
            "{named}"
        );
        for key in [not_gzip, cut_short, misnamed] {
            assert!(named.contains(key), "{key} not named:\n{named}");
        }
        let listed_by = match listing {
            "0" => "folders of raw objects left to the executors to list",
            _ => "raw objects listed",
        };
        assert!(named.contains(listed_by), "{named}");
        // The same objects, in `read_errors`, in the same statement's session.
        let listed = run(&[
            "-q",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM cloudtrail; SELECT key FROM read_errors ORDER BY key",
        ]);
        for key in [not_gzip, cut_short, misnamed] {
            assert!(stdout(&listed).contains(key), "{}", stdout(&listed));
        }

        let strict = run(&["--strict", sql]);
        assert_eq!(strict.status.code(), Some(1), "{}", stderr(&strict));
        assert!(
            stderr(&strict).contains("strict mode"),
            "{}",
            stderr(&strict)
        );
    }
}

/// The archive and its lake in S3 (moto on 127.0.0.1): executors convert the one into the other
/// and read both with their own AWS environment, and answer as the local engine does from the
/// local copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_reads_an_archive_and_a_lake_in_s3() {
    use crate::util::{MOTO_ENV, moto};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let archive = root.join("testdata/archive");
    let moto = moto();
    moto.upload("cluster-trail", &archive, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let nothing = dir.path().join("nothing");
    std::fs::create_dir(&nothing).unwrap();
    moto.upload("cluster-trail-lake", &nothing, &[]).await;
    let executor_env: Vec<(&str, &str)> = MOTO_ENV
        .iter()
        .copied()
        .chain([("AWS_ENDPOINT_URL_S3", moto.endpoint.as_str())])
        .collect();
    let (url, scheduler_addr, _scheduler) = start_scheduler(dir.path(), &[]);
    let _executors = two_executors(dir.path(), &scheduler_addr, &executor_env);
    // With the client's listing limit at zero, executors list the archive's folders in S3.
    let executors_list: Vec<(&str, &str)> = MOTO_ENV
        .iter()
        .copied()
        .chain([("TRAILSCOPE_CLUSTER_CLIENT_LISTING", "0")])
        .collect();
    let s3_with = |args: &[&str], env: &[(&str, &str)]| {
        let (command, rest) = args.split_first().unwrap();
        let args = [
            &[*command, "--endpoint-url", moto.endpoint.as_str()][..],
            rest,
        ]
        .concat();
        trailscope_with_env(&args, env)
    };
    let s3 = |args: &[&str]| succeeded(s3_with(args, MOTO_ENV), &format!("{args:?}"));
    // Converted by the executors, which write the lake's files to S3 themselves.
    s3(&[
        "convert",
        "-q",
        "-a",
        "s3://cluster-trail",
        "--lake",
        "s3://cluster-trail-lake/lake",
        "--commit-mib",
        "0.5",
        "--cluster",
        &url,
    ]);
    let a = archive.to_str().unwrap();
    for sql in [AD_HOC[0], AD_HOC[2], RAW_ONLY] {
        let local = succeeded(
            trailscope(&["query", "-q", "-a", a, "--format", "csv", sql]),
            sql,
        );
        assert!(local.lines().count() > 1, "{sql}: no rows");
        let mut raw = vec!["query", "-q", "-a", "s3://cluster-trail", "--format", "csv"];
        raw.extend(["--cluster", url.as_str(), sql]);
        assert_eq!(s3(&raw), local, "raw from S3 on the cluster: {sql}");
        let listed_there = succeeded(s3_with(&raw, &executors_list), sql);
        assert_eq!(
            listed_there, local,
            "raw from S3 listed by executors: {sql}"
        );
        if sql != RAW_ONLY {
            let lake = [
                &raw[..4],
                &["--lake", "s3://cluster-trail-lake/lake"],
                &raw[4..],
            ]
            .concat();
            assert_eq!(s3(&lake), local, "lake in S3 on the cluster: {sql}");
        }
    }
    // Every control's findings, the scan on the executors over S3, as locally from the copy.
    let snapshot = root.join(SNAPSHOT);
    let s = snapshot.to_str().unwrap();
    let local = trailscope(&["check", "-q", "-a", a, "-s", s, "--format", "jsonl"]);
    assert!(stdout(&local).lines().count() > 48, "{}", stdout(&local));
    let check = [
        "check",
        "-q",
        "-a",
        "s3://cluster-trail",
        "-s",
        s,
        "--format",
        "jsonl",
        "--cluster",
        &url,
    ];
    for env in [MOTO_ENV, &executors_list] {
        let out = s3_with(&check, env);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(stdout(&out), stdout(&local), "check over S3 on the cluster");
    }
}

/// `check`, `report` and `detect` with `--cluster`: the scan of the period runs on two
/// executors, the controls, the report and the rules here, and every output is the local one,
/// byte for byte.
#[test]
fn check_report_and_detect_scan_on_the_cluster_as_they_do_locally() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = BundledCluster::start(dir.path());
    let (a, s, url) = cluster.paths();
    let both = |args: &[&str], out: Option<&str>| {
        let run = |cluster: bool| {
            let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let file = out.map(|name| {
                let side = if cluster { "cluster" } else { "local" };
                dir.path().join(format!("{side}-{name}"))
            });
            if let Some(file) = &file {
                all.extend(["-o".into(), file.to_str().unwrap().into()]);
            }
            if cluster {
                all.extend(["--cluster".into(), url.to_string()]);
            }
            let out = trailscope_args(all);
            // Findings and detections exit 1; anything else is a failure to run.
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
            let output = match file {
                Some(file) => std::fs::read_to_string(file).unwrap(),
                None => stdout(&out),
            };
            (output, stderr(&out))
        };
        let ((local, _), (remote, said)) = (run(false), run(true));
        (local, remote, said)
    };

    let (local, remote, _) = both(
        &["check", "-q", "-a", a, "-s", s, "--format", "jsonl"],
        None,
    );
    let controls: std::collections::BTreeSet<String> = local
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["control_id"].to_string())
        .collect();
    assert_eq!(controls.len(), 48, "{local}");
    assert_eq!(remote, local, "check");

    let (local, remote, said) = both(
        &[
            "report", "-a", a, "-s", s, "--period", "2026-10", "--format", "json",
        ],
        Some("report.json"),
    );
    assert!(local.contains("StopLogging"), "{local}");
    assert_eq!(remote, local, "report");
    // Verify and the manifest took the hashes of the period's log files from the executors.
    let report: serde_json::Value = serde_json::from_str(&local).unwrap();
    let log_files = report["manifest"]["log_files"].as_array().unwrap().len();
    assert!(
        said.contains(&format!(": {log_files} log files hashed on the cluster")),
        "{log_files} log files: {said}"
    );

    let (local, remote, _) = both(&["detect", "-q", "-a", a, "--format", "jsonl"], None);
    assert!(local.lines().count() > 10, "{local}");
    assert_eq!(remote, local, "detect");

    // The scans ran on the executors: each ran tasks that handed on rows.
    for executor in &cluster.executors {
        let log = executor.output();
        assert!(
            log.lines()
                .any(|l| l.contains(": done in ") && !l.contains(" 0 rows")),
            "{log}"
        );
    }
}

/// A scheduler and two executors, with the bundled archive and snapshot's paths.
struct BundledCluster {
    archive: String,
    snapshot: String,
    url: String,
    executors: Vec<Server>,
    _scheduler: Server,
}

impl BundledCluster {
    fn start(dir: &Path) -> BundledCluster {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (url, scheduler_addr, scheduler) = start_scheduler(dir, &[]);
        BundledCluster {
            archive: root.join("testdata/archive").to_str().unwrap().into(),
            snapshot: root.join(SNAPSHOT).to_str().unwrap().into(),
            url,
            executors: two_executors(dir, &scheduler_addr, &[]),
            _scheduler: scheduler,
        }
    }

    /// The archive, the snapshot and the scheduler's URL.
    fn paths(&self) -> (&str, &str, &str) {
        (&self.archive, &self.snapshot, &self.url)
    }
}

/// Every control's SQL, run as a user's query (`query --cluster -f`), answers on the cluster as
/// it does locally. Ballista failed on several of them: dynamic filters and scalar subqueries
/// (its settings were not applied), leaf columns lost in the plan's protobuf, nesting past
/// protobuf's limit, and an ordered aggregate over a union that counted each row twice. SQL it
/// would answer wrongly or cannot ship (the one control with a recursive query) is refused with
/// what to do.
#[test]
fn every_control_runs_as_a_query_on_the_cluster_with_the_local_answer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let cluster = BundledCluster::start(dir.path());
    let (a, s, url) = cluster.paths();
    let query = |sql: Vec<&str>, cluster: bool| {
        let mut args = vec!["query", "-q", "-a", a, "-s", s, "--format", "csv"];
        args.extend(sql);
        if cluster {
            args.extend(["--cluster", url]);
        }
        trailscope(&args)
    };

    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("queries/controls"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .flat_map(|domain| std::fs::read_dir(domain).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 48);
    let mut compared = 0;
    for file in &files {
        let sql = std::fs::read_to_string(file).unwrap();
        let f = file.to_str().unwrap();
        let local = query(vec!["-f", f], false);
        // Only `check` fills in parameters and makes the findings the meta control reads.
        if sql.contains("${") || sql.contains("FROM findings") {
            assert_eq!(local.status.code(), Some(2), "{f}: {}", stderr(&local));
            continue;
        }
        let local = succeeded(local, f);
        let remote = query(vec!["-f", f], true);
        // A recursive query is refused (`check --cluster` runs such a control on the client).
        if sql.contains("WITH RECURSIVE") {
            refused(remote, "cannot run on a cluster");
            continue;
        }
        let remote = succeeded(remote, f);
        assert_eq!(sorted(&remote), sorted(&local), "{f}");
        compared += 1;
    }
    assert!(compared >= 35, "{compared} controls compared");

    // The ordered aggregate over the scan's union, alone: the one StopLogging event, once.
    let ordered = "SELECT account_id, count(*) AS n, array_agg(log_file ORDER BY eventtime) AS files \
                   FROM cloudtrail WHERE eventname = 'StopLogging' GROUP BY 1";
    let local = succeeded(query(vec![ordered], false), ordered);
    assert!(
        local.lines().nth(1).unwrap().starts_with("566424620868,1,"),
        "{local}"
    );
    assert_eq!(succeeded(query(vec![ordered], true), ordered), local);

    let many_rows = "SELECT count(*) FROM cloudtrail WHERE eventname = \
                     (SELECT eventname FROM cloudtrail GROUP BY 1 ORDER BY count(*) DESC LIMIT 2)";
    refused(
        query(vec![many_rows], true),
        "may give more than one row cannot run on a cluster",
    );
    // Made one row by its shape, it runs, with the local answer.
    let one_row = many_rows.replace("LIMIT 2", "LIMIT 1");
    let local = succeeded(query(vec![&one_row], false), &one_row);
    assert_eq!(succeeded(query(vec![&one_row], true), &one_row), local);

    let recursive = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) \
                     SELECT * FROM n";
    refused(
        query(vec![recursive], true),
        "the recursive query \"n\" cannot run on a cluster",
    );
}

/// The enrichment functions answer on the executors from the client's files, which the plan
/// names by absolute path and SHA-256 (the client was given relative paths): the answers and the
/// impossible-travel hunt equal the local ones, the client names the files they used, and
/// without files it says why the answers are NULL. Executors used to answer NULL, silently.
#[test]
fn enrichment_answers_on_the_executors_from_the_clients_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let absolute = crate::enrich::data_files(&data);
    let relative: Vec<String> = absolute
        .iter()
        .map(|a| {
            a.strip_prefix(&format!("{}/", dir.path().display()))
                .unwrap_or(a)
                .to_string()
        })
        .collect();
    let archive = dir.path().join("archive");
    crate::enrich::archive(&archive);
    let (url, _servers) = start_cluster(dir.path());
    let run = |query: &[&str], cluster: bool, files: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailscope"));
        cmd.current_dir(dir.path()).stdin(Stdio::null());
        cmd.args(["query", "-a", "archive", "--format", "jsonl"])
            .args(query);
        if cluster {
            cmd.args(["--cluster", url.as_str()]);
        }
        if files {
            cmd.args(&relative);
        }
        cmd.output().unwrap()
    };
    let sql = "SELECT sourceipaddress AS ip, ip_country(sourceipaddress) AS country, \
               ip_asn(sourceipaddress) AS asn, ip_as_org(sourceipaddress) AS org, \
               ip_aws_service(sourceipaddress) AS aws, ip_in(sourceipaddress, 'tor-exits') AS tor, \
               known_bad(sourceipaddress) AS bad FROM cloudtrail GROUP BY 1 ORDER BY 1";
    let hunt = root.join("queries/hunts/impossible_travel.sql");
    let hunt: &[&str] = &["-f", hunt.to_str().unwrap()];
    for query in [&[sql][..], hunt] {
        let local = succeeded(run(query, false, true), "local");
        let remote = run(query, true, true);
        assert_eq!(succeeded(remote, "cluster"), local, "{query:?}");
    }
    let local = succeeded(run(&[sql], false, true), "local");
    assert!(
        local.contains(r#""country":"DE""#) && local.contains(r#""aws":"EC2""#),
        "{local}"
    );

    let remote = run(&[sql], true, true);
    let err = stderr(&remote);
    // Named as the user gave them.
    assert!(
        err.contains("enrichment: geoip data/GeoLite2-Country.mmdb"),
        "{err}"
    );
    assert!(err.contains("enrichment: ip-list:tor-exits"), "{err}");

    // Without the files: NULL on the executors, and the client says why.
    let remote = run(&[sql], true, false);
    let out = succeeded(remote.clone(), "cluster without files");
    assert!(
        !out.contains("country") && out.lines().count() == 3,
        "{out}"
    );
    let err = stderr(&remote);
    for note in [
        "ip_country() returned NULL: no --geoip file was given",
        "ip_asn() returned NULL: no --asn file was given",
        "ip_aws_service() returned NULL: no --ip-ranges file was given",
        "known_bad() returned NULL: no --ip-list file was given",
    ] {
        assert!(err.contains(note), "{note}: {err}");
    }
}

/// A usage error (exit 2) whose message says `says`.
fn refused(out: Output, says: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains(says), "{}", stderr(&out));
}

/// `convert --cluster`: two executors write the lake, the client commits; the lake holds what a
/// local convert's does (rows, event ids, the log file of each), every file its manifest names
/// and no other, and a second run finds nothing to do. Under `--strict` an unreadable object
/// fails the run before anything is committed.
#[test]
fn convert_on_the_cluster_commits_what_a_local_convert_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    copy_tree(&root.join("testdata/archive"), &archive);
    let bad = "AWSLogs/566424620868/CloudTrail/us-west-2/2026/10/02/\
               566424620868_CloudTrail_us-west-2_20261002T0900Z_notgzipnotgzip02.json.gz";
    plant(&archive, bad, b"not gzip");
    let a = archive.to_str().unwrap();
    let (url, scheduler_addr, _scheduler) = start_scheduler(dir.path(), &[]);
    let _executors = two_executors(dir.path(), &scheduler_addr, &[]);
    let lake = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (local, remote) = (lake("local-lake"), lake("cluster-lake"));
    // Small commits: several tasks, each writing its own files.
    let convert = |l: &str, extra: &[&str]| {
        trailscope(
            &[
                &["convert", "-a", a, "--lake", l, "--commit-mib", "0.5"][..],
                extra,
            ]
            .concat(),
        )
    };
    let local_run = convert(&local, &[]);
    assert_eq!(local_run.status.code(), Some(0), "{}", stderr(&local_run));
    let cluster_run = convert(&remote, &["--cluster", &url]);
    assert_eq!(
        cluster_run.status.code(),
        Some(0),
        "{}",
        stderr(&cluster_run)
    );
    assert!(
        stderr(&cluster_run).contains(bad),
        "{}",
        stderr(&cluster_run)
    );

    let rows = |l: &str| {
        lake_only_csv(
            a,
            l,
            "SELECT eventid, log_file, eventtime FROM cloudtrail ORDER BY 1, 2",
        )
    };
    let local_rows = rows(&local);
    assert_eq!(local_rows.lines().count(), 5995, "header and 5994 events");
    assert_eq!(rows(&remote), local_rows);

    // Every Parquet file is named by a manifest, and every named file is there.
    let named: usize = std::fs::read_dir(Path::new(&remote).join("_trailscope_lake"))
        .unwrap()
        .flatten()
        .map(|e| {
            let commit: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            commit["files"].as_array().map_or(0, Vec::len)
        })
        .sum();
    let on_disk = crate::util::keys_under(Path::new(&remote))
        .iter()
        .filter(|k| k.ends_with(".parquet"))
        .count();
    assert!(named > 1, "{named}");
    assert_eq!(on_disk, named);

    let again = convert(&remote, &["--cluster", &url]);
    assert!(
        stderr(&again).contains("nothing new to convert"),
        "{}",
        stderr(&again)
    );

    // In waves of at most 7 log files: a job and a commit each, and the same lake.
    let waves = lake("waves-lake");
    let in_waves = trailscope_with_env(
        &[
            "convert",
            "-a",
            a,
            "--lake",
            &waves,
            "--commit-mib",
            "0.5",
            "--cluster",
            &url,
        ],
        &[("TRAILSCOPE_CLUSTER_CONVERT_WAVE", "7")],
    );
    assert_eq!(in_waves.status.code(), Some(0), "{}", stderr(&in_waves));
    let sources_by_commit: Vec<usize> =
        std::fs::read_dir(Path::new(&waves).join("_trailscope_lake"))
            .unwrap()
            .flatten()
            .map(|e| {
                let commit: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
                commit["sources"].as_array().map_or(0, Vec::len)
            })
            .filter(|&n| n > 0)
            .collect();
    assert!(sources_by_commit.len() > 2, "{sources_by_commit:?}");
    assert!(
        sources_by_commit.iter().all(|&n| n <= 7),
        "{sources_by_commit:?}"
    );
    assert_eq!(rows(&waves), local_rows);

    let strict = convert(&lake("strict-lake"), &["--cluster", &url, "--strict"]);
    assert_eq!(strict.status.code(), Some(1), "{}", stderr(&strict));
    assert!(stderr(&strict).contains(bad), "{}", stderr(&strict));
    let nothing = trailscope(&["query", "-a", a, "--lake", &lake("strict-lake"), "SELECT 1"]);
    assert!(
        stderr(&nothing).contains("no trailscope lake there yet"),
        "{}",
        stderr(&nothing)
    );
}

/// A client killed (SIGKILL) during `convert --cluster` has committed nothing: the lake shows no
/// partial state, and a re-run converts it all, exactly as a local convert does (what the dead
/// run's tasks wrote is never named by a manifest).
#[test]
fn a_convert_whose_client_is_killed_commits_nothing_and_a_rerun_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let a = archive.to_str().unwrap();
    succeeded(
        trailscope(&[
            "generate",
            a,
            "--days",
            "3",
            "--events-per-day",
            "20000",
            "--no-digests",
        ]),
        "generate",
    );
    let (url, scheduler_addr, _scheduler) = start_scheduler(dir.path(), &[]);
    let _executors = two_executors(dir.path(), &scheduler_addr, &[]);
    let lake = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (local, remote) = (lake("local-lake"), lake("cluster-lake"));
    let convert = |l: &str, cluster: bool| {
        let mut args = vec!["convert", "-q", "-a", a, "--lake", l, "--commit-mib", "1"];
        if cluster {
            args.extend(["--cluster", url.as_str()]);
        }
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let mut client = Command::new(env!("CARGO_BIN_EXE_trailscope"))
        .args(convert(&remote, true))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let finished_first = client.try_wait().unwrap().is_some();
    client.kill().unwrap();
    client.wait().unwrap();
    if !finished_first {
        let query = trailscope(&["query", "-a", a, "--lake", &remote, "SELECT 1"]);
        assert!(
            stderr(&query).contains("no trailscope lake there yet"),
            "a killed run left a commit: {}",
            stderr(&query)
        );
    }

    assert_eq!(
        trailscope_args(convert(&remote, true)).status.code(),
        Some(0)
    );
    assert_eq!(
        trailscope_args(convert(&local, false)).status.code(),
        Some(0)
    );
    let per_log_file = |l: &str| {
        lake_only_csv(
            a,
            l,
            "SELECT log_file, count(*) AS n, count(DISTINCT eventid) AS ids FROM cloudtrail \
             GROUP BY 1 ORDER BY 1",
        )
    };
    let expected = per_log_file(&local);
    assert!(expected.lines().count() > 1000, "{expected}");
    assert_eq!(per_log_file(&remote), expected);
}

/// An executor that cannot listen where it is told says so in one line and exits 2 (Ballista's
/// own process logs the bind failure and exits 0, which a supervisor takes for a clean stop).
#[test]
fn an_executor_refuses_ports_it_cannot_listen_on() {
    let [port, other] = free_ports();
    let (held, bind) = (
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        format!("127.0.0.1:{port}"),
    );
    let executor = |bind: &str, grpc: u16| {
        let grpc = grpc.to_string();
        trailscope(&[
            "cluster",
            "executor",
            "--scheduler",
            "127.0.0.1:1",
            "--bind",
            bind,
            "--grpc-port",
            &grpc,
        ])
    };
    for (out, names) in [
        (executor(&bind, other), "--bind"),
        (executor(&format!("127.0.0.1:{other}"), port), "--grpc-port"),
        (
            executor(&format!("127.0.0.1:{other}"), other),
            "--grpc-port",
        ),
    ] {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(names), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    drop(held);
}
