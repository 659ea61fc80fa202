//! Threads of a [`Server`](crate::Server)'s own, each running a single-threaded runtime
//! that serves whole connections.
//!
//! On a work-stealing runtime the tasks of one connection (its reader, the command's
//! pumps, the writer) land on different threads: each hand-off of data wakes another
//! thread, and the two contend for the connection's lock. Measured on 2 cores, that cost
//! an upload through the `sshd-tokio` example a tenth of its speed. On a shard every task
//! of a connection runs on one thread, and the connections spread over the shards.

use std::io;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// The shards; dropping this ends their threads, and the connections still on them.
pub(crate) struct Shards {
    shards: Vec<Shard>,
}

struct Shard {
    handle: Handle,
    /// Connections being served on it.
    load: Arc<AtomicUsize>,
    /// Dropped to end the thread: its runtime stops waiting and shuts down.
    _stop: oneshot::Sender<()>,
}

/// Counts a connection on its shard until dropped.
pub(crate) struct Load(Arc<AtomicUsize>);

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shards {
    /// Starts `n` threads, each with a single-threaded runtime (I/O and time enabled).
    pub(crate) fn start(n: NonZeroUsize) -> io::Result<Self> {
        let mut shards = Vec::with_capacity(n.get());
        for i in 0..n.get() {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            thread::Builder::new().name(format!("ssh-shard-{i}")).spawn(move || {
                // A single-threaded runtime runs its tasks only inside `block_on`.
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Tasks still there are dropped; blocking work is not waited for.
                runtime.shutdown_background();
            })?;
            shards.push(Shard { handle, load: Arc::default(), _stop: stop });
        }
        Ok(Self { shards })
    }

    /// The least loaded shard, and the count of the connection about to go there.
    pub(crate) fn pick(&self) -> Option<(&Handle, Load)> {
        let shard = self.shards.iter().min_by_key(|s| s.load.load(Ordering::Relaxed))?;
        shard.load.fetch_add(1, Ordering::Relaxed);
        Some((&shard.handle, Load(Arc::clone(&shard.load))))
    }
}
