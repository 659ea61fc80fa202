//! Channels the server opens to the client: connections to remotely forwarded ports
//! (`ssh -R`), to the forwarded agent (`ssh -A`) and from X clients (`ssh -X`). One task per session takes them off
//! the event queue, once something asked for them, and hands each to what was registered
//! for it; the rest are refused as they come.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ssh_proto::client;
use ssh_proto::connection::{ChannelKind, OpenFailure};
use ssh_proto::driver::Forwarded;
use tokio::sync::mpsc;

use crate::channel::Channel;
use crate::engine::{Shared, Wake};

/// Serves a connection to a remotely forwarded port (it spawns what it needs).
pub(crate) type ForwardHandler = Arc<dyn Fn(Channel, Forwarded) + Send + Sync>;
/// Serves a connection to the forwarded agent.
pub(crate) type AgentHandler = Arc<dyn Fn(Channel) + Send + Sync>;
/// Serves a forwarded X11 connection: the channel, and the X client's address and port.
pub(crate) type X11Handler = Arc<dyn Fn(Channel, String, u32) + Send + Sync>;

/// Where connections to one forwarded port go.
#[derive(Clone)]
pub(crate) enum Route {
    /// To [`crate::Session::accept`].
    Accept,
    /// To a handler ([`crate::RemoteForward`]).
    Handler(ForwardHandler),
}

#[derive(Default)]
struct Routes {
    /// By the (address, port) the server listens on, as its `forwarded-tcpip` opens name it.
    tcpip: HashMap<(String, u32), Route>,
    agent: Option<AgentHandler>,
    x11: Option<X11Handler>,
    /// Until the task starts, it holds the queue's sending end.
    queue: Option<mpsc::UnboundedSender<(Channel, Forwarded)>>,
}

/// A session's routes and the receiving end of its `accept` queue.
pub(crate) struct Acceptor {
    routes: Mutex<Routes>,
    /// Cancellation-safe to wait on: a connection leaves it only when it is returned.
    pub(crate) queued: tokio::sync::Mutex<mpsc::UnboundedReceiver<(Channel, Forwarded)>>,
}

impl Default for Acceptor {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            routes: Mutex::new(Routes { queue: Some(tx), ..Routes::default() }),
            queued: tokio::sync::Mutex::new(rx),
        }
    }
}

impl Acceptor {
    fn lock(&self) -> MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add_forward(&self, address: &str, port: u32, route: Route) {
        self.lock().tcpip.insert((address.to_owned(), port), route);
    }

    pub(crate) fn remove_forward(&self, address: &str, port: u32) {
        self.lock().tcpip.remove(&(address.to_owned(), port));
    }

    pub(crate) fn set_agent(&self, handler: AgentHandler) {
        self.lock().agent = Some(handler);
    }

    pub(crate) fn set_x11(&self, handler: X11Handler) {
        self.lock().x11 = Some(handler);
    }

    /// Starts the accepting task (once); until then the engine refuses every open. The
    /// task ends with the connection, and then `accept` sees its queue end.
    pub(crate) fn start(self: &Arc<Self>, shared: &Arc<Shared<client::Connection>>) {
        let Some(queue) = self.lock().queue.take() else { return };
        shared.lock().st.mux.front_end.channel_opens = true;
        let (me, shared) = (Arc::clone(self), Arc::clone(shared));
        tokio::spawn(async move { me.run(&shared, queue).await });
    }

    async fn run(&self, shared: &Arc<Shared<client::Connection>>, queue: mpsc::UnboundedSender<(Channel, Forwarded)>) {
        while let Ok((id, kind)) = shared.wait_for(Wake::Any, |st| st.mux.take_channel_open().map(Ok)).await {
            let job: Option<Box<dyn FnOnce(Channel) + Send>> = match kind {
                ChannelKind::ForwardedTcpip { address, port, originator, originator_port } => {
                    let route = self.lock().tcpip.get(&(address.clone(), port)).cloned();
                    let from = Forwarded { address, port, originator, originator_port };
                    match route {
                        Some(Route::Handler(h)) => Some(Box::new(move |ch| h(ch, from))),
                        Some(Route::Accept) => {
                            let queue = queue.clone();
                            Some(Box::new(move |ch| drop(queue.send((ch, from)))))
                        }
                        None => None,
                    }
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
                let _ =
                    shared.lock().st.conn.reject_channel(id, OpenFailure::AdministrativelyProhibited, "not requested");
                continue;
            };
            if let Ok(channel) = shared.accept_channel(id) {
                job(channel);
            }
        }
    }
}
