//! Forwarding: moving bytes between a local connection and a channel (`ssh -L`). Only
//! copying lives here; which channels exist and what they may carry is the core's
//! business.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::{Channel, Session};

/// Copies `stream` → channel and channel → `stream` until both directions end, then
/// closes the channel. EOF is passed on in each direction separately (half-close).
/// Cancelling it closes the channel (buffered bytes of either direction may be lost).
pub async fn pump(mut channel: Channel, mut stream: impl AsyncRead + AsyncWrite + Unpin) -> io::Result<()> {
    tokio::io::copy_bidirectional(&mut channel, &mut stream).await.map(|_| ())
}

/// `ssh -L`: a local listener whose connections each go through a new `direct-tcpip`
/// channel to `host:port`, as seen from the server. Dropping it stops accepting;
/// connections already forwarded go on until they end.
pub struct LocalForward {
    addr: SocketAddr,
    accepting: JoinHandle<()>,
}

impl LocalForward {
    /// Listens on `listen` (port 0: any free port) and forwards to `host:port`.
    pub async fn start(session: Arc<Session>, listen: SocketAddr, host: &str, port: u16) -> io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let host = host.to_owned();
        let accepting = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of descriptors, say: retrying at once would spin.
                        tracing::debug!(error = %e, "local forward: accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let session = Arc::clone(&session);
                let host = host.clone();
                tokio::spawn(async move {
                    let origin = peer.ip().to_string();
                    match session.open_direct_tcpip(&host, port, &origin, peer.port()).await {
                        Ok(channel) => {
                            if let Err(e) = pump(channel, tcp).await {
                                tracing::debug!(error = %e, "local forward ended");
                            }
                        }
                        Err(e) => tracing::info!(error = %e, %host, port, "local forward refused"),
                    }
                });
            }
        });
        Ok(Self { addr, accepting })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LocalForward {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// A remote forward (`ssh -R`): the server listens on `address:port` and each connection
/// it accepts is carried back and connected to `host:port` as seen from this machine.
/// Dropping it cancels the forward (in a spawned task: `Drop` cannot wait).
pub struct RemoteForward {
    session: Arc<Session>,
    address: String,
    port: u32,
}

impl RemoteForward {
    /// Asks the server to listen on `address:port` (port 0: it chooses) and forwards each
    /// connection to `host:port`.
    pub async fn start(
        session: Arc<Session>,
        address: &str,
        port: u32,
        host: &str,
        target_port: u16,
    ) -> Result<Self, crate::Error> {
        let host = host.to_owned();
        let port = session
            .request_port_forward(address, port, move |channel, _from| {
                let host = host.clone();
                tokio::spawn(async move {
                    // Nobody listens there: closing the channel tells the server, as ssh does.
                    if let Ok(tcp) = tokio::net::TcpStream::connect((host.as_str(), target_port)).await {
                        let _ = tcp.set_nodelay(true);
                        let _ = pump(channel, tcp).await;
                    }
                });
            })
            .await?;
        Ok(Self { session, address: address.to_owned(), port })
    }

    /// The port the server listens on (useful with port 0).
    pub fn remote_port(&self) -> u32 {
        self.port
    }
}

impl Drop for RemoteForward {
    fn drop(&mut self) {
        let (session, address, port) = (Arc::clone(&self.session), std::mem::take(&mut self.address), self.port);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { session.cancel_port_forward(&address, port).await });
        }
    }
}
