//! Channels the server opens to the client: connections to remotely forwarded ports
//! (`ssh -R`), to the forwarded agent (`ssh -A`) and from X clients (`ssh -X`). One thread per session takes them off
//! the event queue and hands each to the handler registered for it, in its own thread.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use ssh_proto::client;
use ssh_proto::connection::{ChannelKind, OpenFailure};
pub use ssh_proto::driver::Forwarded;

use crate::Error;
use crate::channel::Channel;
use crate::engine::{Shared, Wake};

/// Serves a connection that arrived on a remotely forwarded port.
pub(crate) type ForwardHandler = Arc<dyn Fn(Channel, Forwarded) + Send + Sync>;
/// Serves a connection to the forwarded agent.
pub(crate) type AgentHandler = Arc<dyn Fn(Channel) + Send + Sync>;
/// Serves a forwarded X11 connection: the channel, and the X client's address and port.
pub(crate) type X11Handler = Arc<dyn Fn(Channel, String, u32) + Send + Sync>;

#[derive(Default)]
struct Handlers {
    /// By the (address, port) the server listens on, as its `forwarded-tcpip` opens name it.
    tcpip: HashMap<(String, u32), ForwardHandler>,
    agent: Option<AgentHandler>,
    x11: Option<X11Handler>,
    started: bool,
}

/// The handlers of one session, its accepting thread once started, and the channels of
/// forwards requested without a handler, waiting for [`crate::Session::accept`].
#[derive(Default)]
pub(crate) struct Acceptor {
    handlers: Mutex<Handlers>,
    queued: Mutex<std::collections::VecDeque<(Channel, Forwarded)>>,
    arrived: std::sync::Condvar,
}

impl Acceptor {
    fn lock(&self) -> MutexGuard<'_, Handlers> {
        self.handlers.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add_forward(&self, address: &str, port: u32, handler: ForwardHandler) {
        self.lock().tcpip.insert((address.to_owned(), port), handler);
    }

    pub(crate) fn remove_forward(&self, address: &str, port: u32) {
        self.lock().tcpip.remove(&(address.to_owned(), port));
    }

    /// A handler that queues each connection for [`Acceptor::accept`].
    pub(crate) fn queue_handler(self: &Arc<Self>) -> ForwardHandler {
        let me = Arc::downgrade(self);
        Arc::new(move |channel, from| {
            if let Some(me) = me.upgrade() {
                me.queued.lock().unwrap_or_else(|p| p.into_inner()).push_back((channel, from));
                me.arrived.notify_all();
            }
        })
    }

    /// The next queued connection, waiting up to `timeout` (`None`: forever).
    pub(crate) fn accept(&self, timeout: Option<std::time::Duration>) -> Option<(Channel, Forwarded)> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut q = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(next) = q.pop_front() {
                return Some(next);
            }
            q = match deadline {
                None => self.arrived.wait(q).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = std::time::Instant::now();
                    if d <= now {
                        return None;
                    }
                    self.arrived.wait_timeout(q, d - now).unwrap_or_else(|p| p.into_inner()).0
                }
            };
        }
    }

    pub(crate) fn set_agent(&self, handler: AgentHandler) {
        self.lock().agent = Some(handler);
    }

    pub(crate) fn set_x11(&self, handler: X11Handler) {
        self.lock().x11 = Some(handler);
    }

    /// Starts the accepting thread (once); until then the engine refuses every open.
    pub(crate) fn start(self: &Arc<Self>, shared: &Arc<Shared<client::Connection>>) -> Result<(), Error> {
        if std::mem::replace(&mut self.lock().started, true) {
            return Ok(());
        }
        shared.lock().mux.front_end.channel_opens = true;
        let (me, shared) = (Arc::clone(self), Arc::clone(shared));
        thread::Builder::new().name("ssh-client-accept".into()).spawn(move || me.run(&shared))?;
        Ok(())
    }

    fn run(&self, shared: &Arc<Shared<client::Connection>>) {
        loop {
            let Ok((id, kind)) =
                shared.wait_for(Wake::Events, None, "a channel open", |st| st.mux.take_channel_open().map(Ok))
            else {
                return;
            };
            let job: Option<Box<dyn FnOnce(Channel) + Send>> = match kind {
                ChannelKind::ForwardedTcpip { address, port, originator, originator_port } => {
                    let handler = self.lock().tcpip.get(&(address.clone(), port)).cloned();
                    handler.map(|h| {
                        let from = Forwarded { address, port, originator, originator_port };
                        Box::new(move |ch| h(ch, from)) as Box<dyn FnOnce(Channel) + Send>
                    })
                }
                ChannelKind::AuthAgent => {
                    let handler = self.lock().agent.clone();
                    handler.map(|h| Box::new(move |ch| h(ch)) as Box<dyn FnOnce(Channel) + Send>)
                }
                ChannelKind::X11 { originator, originator_port } => {
                    let handler = self.lock().x11.clone();
                    handler.map(|h| {
                        Box::new(move |ch| h(ch, originator, originator_port)) as Box<dyn FnOnce(Channel) + Send>
                    })
                }
                _ => None,
            };
            let Some(job) = job else {
                // Nothing asked for this: refuse it, as ssh does for an unknown forward.
                let _ = shared.lock().conn.reject_channel(id, OpenFailure::AdministrativelyProhibited, "not requested");
                continue;
            };
            let Ok(channel) = shared.accept_channel(id) else { continue };
            let _ = thread::Builder::new().name("ssh-client-forwarded".into()).spawn(move || {
                let _ = catch_unwind(AssertUnwindSafe(|| job(channel)));
            });
        }
    }
}
