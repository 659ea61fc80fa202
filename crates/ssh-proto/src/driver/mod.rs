//! Building blocks every driver needs beside a connection, so that the drivers hold no
//! protocol logic of their own and behave alike: the calls both roles share
//! ([`Driven`]), and the sorting of a connection's events into per-channel receive buffers
//! with their window credit ([`Demux`], [`Incoming`]). A driver adds only how it waits
//! (condition variables, task wakers) and how it moves bytes.

mod auth;
mod demux;
mod error;
mod incoming;
mod login;
mod serve;

use std::time::Instant;

use bytes::Bytes;

pub use auth::{AuthOutcome, AuthStep, HostKeyVerifier};
pub use demux::{
    Change, ChannelBuffers, ChannelStream, Demux, Ended, Forwarded, FrontEnd, Input, MAX_QUEUED_EVENTS, Opening,
    STDERR_READ_AHEAD, StreamSetting, send,
};
pub use error::Error;
pub use incoming::Incoming;
pub use login::{AuthMethod, KeySource, LoginPlan, Timeouts, password_answers, password_prompt};
pub use serve::{
    AllowedAuths, AuthDecision, AuthQuestion, CONTROL_QUEUE, Interactive, MAX_REMOTE_FORWARDS, Serve, SessionControl,
    SessionQuestion, SessionSetup, SessionStep, X11Forwarding,
};

use crate::connection::{
    ChannelError, ChannelId, ChannelKind, ChannelRequest, GlobalReply, GlobalRequest, GlobalToken, OpenFailure,
    RequestToken,
};
use crate::{DisconnectReason, Event, client, server};

/// The calls a driver makes on a connection, for both roles: [`client::Connection`] and
/// [`server::Connection`] implement it with their inherent methods (documented there), so
/// one driver loop serves both.
pub trait Driven {
    /// The connection's own `handle_input`.
    fn handle_input(&mut self, data: &[u8], now: Instant) -> Result<(), crate::Error>;
    /// The connection's own `handle_eof`.
    fn handle_eof(&mut self) -> Result<(), crate::Error>;
    /// The connection's own `handle_timeout`.
    fn handle_timeout(&mut self, now: Instant) -> Result<(), crate::Error>;
    /// The connection's own `poll_transmit`.
    fn poll_transmit(&mut self) -> Option<Bytes>;
    /// The connection's own `poll_event`.
    fn poll_event(&mut self) -> Option<Event>;
    /// The connection's own `poll_timeout`.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The connection's own `pending_output`.
    fn pending_output(&self) -> usize;
    /// The connection's own `is_closed`.
    fn is_closed(&self) -> bool;
    /// The connection's own `shrink_buffers`.
    fn shrink_buffers(&mut self);
    /// The connection's own `close`.
    fn close(&mut self, reason: DisconnectReason, description: &str);
    /// The connection's own `channel_consumed`.
    fn channel_consumed(&mut self, id: ChannelId, n: usize) -> Result<(), ChannelError>;
    /// The connection's own `channel_request_reply`.
    fn channel_request_reply(&mut self, id: ChannelId, token: RequestToken, success: bool) -> Result<(), ChannelError>;
    /// The connection's own `global_request_reply`.
    fn global_request_reply(&mut self, token: GlobalToken, reply: GlobalReply) -> Result<(), ChannelError>;
    /// The connection's own `reject_channel`.
    fn reject_channel(&mut self, id: ChannelId, reason: OpenFailure, description: &str) -> Result<(), ChannelError>;
    /// The connection's own `channel_send`.
    fn channel_send(&mut self, id: ChannelId, data: &[u8]) -> Result<usize, ChannelError>;
    /// The connection's own `channel_send_extended`.
    fn channel_send_extended(&mut self, id: ChannelId, code: u32, data: &[u8]) -> Result<usize, ChannelError>;
    /// The connection's own `channel_eof`.
    fn channel_eof(&mut self, id: ChannelId) -> Result<(), ChannelError>;
    /// The connection's own `channel_close`.
    fn channel_close(&mut self, id: ChannelId) -> Result<(), ChannelError>;
    /// The connection's own `channel_request`.
    fn channel_request(
        &mut self,
        id: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
    ) -> Result<(), ChannelError>;
    /// The connection's own `open_channel`.
    fn open_channel(&mut self, kind: &ChannelKind) -> Result<ChannelId, ChannelError>;
    /// The connection's own `accept_channel`.
    fn accept_channel(&mut self, id: ChannelId) -> Result<(), ChannelError>;
    /// The connection's own `global_request`.
    fn global_request(
        &mut self,
        request: &GlobalRequest,
        want_reply: bool,
    ) -> Result<Option<GlobalToken>, ChannelError>;
}

macro_rules! impl_driven {
    ($($t:ty),*) => {$(
        impl Driven for $t {
            fn handle_input(&mut self, data: &[u8], now: Instant) -> Result<(), crate::Error> {
                <$t>::handle_input(self, data, now)
            }
            fn handle_eof(&mut self) -> Result<(), crate::Error> {
                <$t>::handle_eof(self)
            }
            fn handle_timeout(&mut self, now: Instant) -> Result<(), crate::Error> {
                <$t>::handle_timeout(self, now)
            }
            fn poll_transmit(&mut self) -> Option<Bytes> {
                <$t>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<Event> {
                <$t>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn pending_output(&self) -> usize {
                <$t>::pending_output(self)
            }
            fn is_closed(&self) -> bool {
                <$t>::is_closed(self)
            }
            fn shrink_buffers(&mut self) {
                <$t>::shrink_buffers(self)
            }
            fn close(&mut self, reason: DisconnectReason, description: &str) {
                <$t>::close(self, reason, description)
            }
            fn channel_consumed(&mut self, id: ChannelId, n: usize) -> Result<(), ChannelError> {
                <$t>::channel_consumed(self, id, n)
            }
            fn channel_request_reply(&mut self, id: ChannelId, token: RequestToken, success: bool) -> Result<(), ChannelError> {
                <$t>::channel_request_reply(self, id, token, success)
            }
            fn global_request_reply(&mut self, token: GlobalToken, reply: GlobalReply) -> Result<(), ChannelError> {
                <$t>::global_request_reply(self, token, reply)
            }
            fn reject_channel(&mut self, id: ChannelId, reason: OpenFailure, description: &str) -> Result<(), ChannelError> {
                <$t>::reject_channel(self, id, reason, description)
            }
            fn channel_send(&mut self, id: ChannelId, data: &[u8]) -> Result<usize, ChannelError> {
                <$t>::channel_send(self, id, data)
            }
            fn channel_send_extended(&mut self, id: ChannelId, code: u32, data: &[u8]) -> Result<usize, ChannelError> {
                <$t>::channel_send_extended(self, id, code, data)
            }
            fn channel_eof(&mut self, id: ChannelId) -> Result<(), ChannelError> {
                <$t>::channel_eof(self, id)
            }
            fn channel_close(&mut self, id: ChannelId) -> Result<(), ChannelError> {
                <$t>::channel_close(self, id)
            }
            fn channel_request(&mut self, id: ChannelId, request: &ChannelRequest, want_reply: bool) -> Result<(), ChannelError> {
                <$t>::channel_request(self, id, request, want_reply)
            }
            fn open_channel(&mut self, kind: &ChannelKind) -> Result<ChannelId, ChannelError> {
                <$t>::open_channel(self, kind)
            }
            fn accept_channel(&mut self, id: ChannelId) -> Result<(), ChannelError> {
                <$t>::accept_channel(self, id)
            }
            fn global_request(&mut self, request: &GlobalRequest, want_reply: bool) -> Result<Option<GlobalToken>, ChannelError> {
                <$t>::global_request(self, request, want_reply)
            }
        }
    )*};
}

impl_driven!(client::Connection, server::Connection);
