//! Runs a list of interop cases over a few worker threads.

use std::fmt::Debug;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The result of [`run_matrix`].
#[derive(Debug)]
pub struct MatrixReport {
    /// The matrix name.
    pub name: String,
    /// Cases run.
    pub total: usize,
    /// Failed cases: the case (as `Debug`) and why.
    pub failures: Vec<(String, String)>,
    /// Wall time.
    pub elapsed: Duration,
    /// Worker threads used.
    pub workers: usize,
}

impl MatrixReport {
    /// A one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} combinations, {} failed, {} workers, wall time {:.1} s ({:.1} ms per combination per worker)",
            self.name,
            self.total,
            self.failures.len(),
            self.workers,
            self.elapsed.as_secs_f64(),
            self.elapsed.as_secs_f64() * 1000.0 * self.workers as f64 / self.total.max(1) as f64
        )
    }

    /// Panics listing (up to 40 of) the failures, if any.
    pub fn assert_ok(&self) {
        if self.failures.is_empty() {
            return;
        }
        let mut msg = format!("{}\n", self.summary());
        for (case, why) in self.failures.iter().take(40) {
            msg.push_str(&format!("  FAILED {case}: {why}\n"));
        }
        if self.failures.len() > 40 {
            msg.push_str(&format!("  … and {} more\n", self.failures.len() - 40));
        }
        panic!("{msg}");
    }
}

/// Worker threads for a matrix: `$INTEROP_WORKERS`, else twice the available parallelism
/// (a handshake spends much of its time waiting for the peer), at least 2.
pub fn default_workers() -> usize {
    std::env::var("INTEROP_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() * 2).max(2))
}

/// Runs `check` on every case over `workers` threads and prints a summary line to stderr.
pub fn run_matrix<C, F>(name: &str, cases: &[C], workers: usize, check: F) -> MatrixReport
where
    C: Debug + Sync,
    F: Fn(&C) -> Result<(), String> + Sync,
{
    run_matrix_with(name, cases, workers, || (), |(), c| check(c))
}

/// Like [`run_matrix`], with per-worker state made by `init` (for example a long-lived peer
/// process per worker).
pub fn run_matrix_with<C, S, I, F>(name: &str, cases: &[C], workers: usize, init: I, check: F) -> MatrixReport
where
    C: Debug + Sync,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, &C) -> Result<(), String> + Sync,
{
    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let workers = workers.clamp(1, cases.len().max(1));
    let progress_every = (cases.len() / 10).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut state = init();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    if let Err(why) = check(&mut state, case) {
                        failures.lock().expect("failures lock").push((format!("{case:?}"), why));
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_multiple_of(progress_every) && cases.len() >= 200 {
                        eprintln!("{name}: {n}/{} after {:.1} s", cases.len(), start.elapsed().as_secs_f64());
                    }
                }
            });
        }
    });
    let report = MatrixReport {
        name: name.to_owned(),
        total: cases.len(),
        failures: failures.into_inner().expect("failures lock"),
        elapsed: start.elapsed(),
        workers,
    };
    eprintln!("{}", report.summary());
    report
}
