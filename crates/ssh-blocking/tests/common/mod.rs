//! Test pieces the driver's test binaries share.

use std::io::Write;
use std::time::Duration;

use ssh_blocking::ssh_proto::connection::ExitStatus;
use ssh_blocking::{Channel, ServerSession};

/// The server side of the X11 tests: one X client (from 127.0.0.1:6010) through the
/// client's display; prints what came back and the accepted X11 setup. Exit 2 without X11
/// forwarding, 3 when the channel is refused.
pub(crate) fn serve_one_x11_client(session: &mut ServerSession) -> ExitStatus {
    let Some(x11) = session.x11.clone() else { return ExitStatus::Code(2) };
    let Ok(mut display) = session.open_x11_channel("127.0.0.1", 6010) else { return ExitStatus::Code(3) };
    display.set_timeout(Some(Duration::from_secs(20)));
    let _ = display.write_all(b"hello display");
    let _ = display.send_eof();
    let back = display.read_all().unwrap_or_default();
    let line = format!("{} {} {} {}\n", String::from_utf8_lossy(&back), x11.auth_protocol, x11.auth_cookie, x11.screen);
    let _ = session.channel.write_all(line.as_bytes());
    ExitStatus::Code(0)
}

/// The client side of the X11 tests, a stand-in display: answers an X11 channel's bytes
/// upper-cased, with the X client's address.
pub(crate) fn answer_x11_channel(mut channel: Channel, originator: String, port: u32) {
    let got = channel.read_all().unwrap_or_default();
    let reply = format!("{} from {originator}:{port}", String::from_utf8_lossy(&got).to_uppercase());
    let _ = channel.write_all(reply.as_bytes());
}
