//! A progress bar on stderr for scans that take longer than a second, when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use trailscope::table::ScanStats;

/// Shows scan progress until dropped.
pub struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    pub fn start(stats: Arc<ScanStats>, quiet: bool) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { done, thread: None };
        }
        let flag = Arc::clone(&done);
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut bar: Option<ProgressBar> = None;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if started.elapsed() < Duration::from_secs(1) {
                    continue;
                }
                let bar = bar.get_or_insert_with(|| {
                    let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    if let Ok(style) = ProgressStyle::with_template(
                        "{spinner} {elapsed} [{bar:30}] {pos}/{len} objects {msg}",
                    ) {
                        b.set_style(style.progress_chars("=> "));
                    }
                    b
                });
                bar.set_length(ScanStats::get(&stats.objects_planned));
                bar.set_position(ScanStats::get(&stats.objects_opened));
                bar.set_message(format!(
                    "{} records, {} MiB",
                    ScanStats::get(&stats.records),
                    ScanStats::get(&stats.bytes_read) >> 20
                ));
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        });
        Progress {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
