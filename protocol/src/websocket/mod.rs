//! WebSocket (RFC 6455), server side, sans I/O: bytes in, messages and control frames out,
//! and frames encoded straight into the caller's output buffer.
//!
//! [`WsDecoder`] keeps nothing while a connection is idle: a driver reads into a scratch buffer
//! of its own (one per thread will do) and hands the bytes to [`WsDecoder::receive`], which
//! parses every complete frame straight from them and keeps only the bytes of a frame that is
//! not complete yet (and the fragments of a message still arriving). Size limits are checked
//! from a frame's header, before anything is buffered. Text is checked to be UTF-8 as it
//! arrives, across fragments. Pings are answered by [`WsDecoder::take_control`]: at most one
//! pong waits at a time (a newer ping replaces it), so a peer that pings without reading its
//! pongs cannot make the server hold more. Buffers grow with what arrives (doubling, for
//! amortised copies, but never past the frame or the message limit), so what a decoder holds,
//! [`WsDecoder::buffered`], stays within an incomplete frame's header and `max_frame` plus
//! `max_message`. After an error the decoder frees what it held and gives that error again.
//!
//! What the driver does with it: after the HTTP upgrade (answer 101 with
//! [`accept_key`]), read bytes and [`receive`](WsDecoder::receive) them; write each
//! [`WsEvent::Message`] on to the application; before writing its own messages (encoded with
//! [`encode_message`]) write what [`take_control`](WsDecoder::take_control) gives (pongs, the
//! answer to a close); on [`WsEvent::Close`] or an error, write the close frame
//! (`take_control`, or [`encode_close`] with [`WsError::close_code`]) and end the connection
//! once it is out. To close first, write [`encode_close`] and read on until the peer's close
//! arrives (or a grace period passes).

use bytes::Bytes;

use crate::http::Frame;

mod conn;
pub use conn::{ReadOutcome, WsConn};

mod drive;
pub use drive::{WsDriver, WsIo};

mod sha1;

/// How long a connection that sent its close frame waits for the peer's answer before it
/// ends anyway (the runtime adapters' setting, see [`WsConn::for_transport`]).
pub const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// The size of the read buffer [`with_scratch`] lends.
pub const SCRATCH: usize = 16 * 1024;

std::thread_local! {
    static SCRATCH_BUF: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; SCRATCH].into_boxed_slice());
}

/// Lends this thread's read buffer ([`SCRATCH`] bytes) to `f`: every connection a thread
/// serves reads into the same one, so none holds a read buffer while idle. A nested call
/// (none is expected: delivering what was read runs no other connection) gets a buffer of
/// its own.
pub fn with_scratch<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH_BUF.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut vec![0; SCRATCH]),
    })
}

/// The largest write buffer a thread keeps for its next connection ([`spare_output`]).
pub const SPARE_OUTPUT: usize = 64 * 1024;

std::thread_local! {
    static SPARE_OUT: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// An empty write buffer: the one this thread kept ([`return_output`]), or a new one. Every
/// connection a thread serves encodes into the same buffer while it writes, and none holds
/// one while idle.
pub fn spare_output() -> Vec<u8> {
    SPARE_OUT.try_with(|spare| spare.take()).unwrap_or_default()
}

/// Gives a written-out buffer back for the thread's next [`spare_output`]; one of more than
/// [`SPARE_OUTPUT`] bytes is freed.
pub fn return_output(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > SPARE_OUTPUT {
        return;
    }
    buf.clear();
    let _ = SPARE_OUT.try_with(|spare| {
        let kept = spare.take();
        spare.set(if kept.capacity() >= buf.capacity() {
            kept
        } else {
            buf
        });
    });
}

/// The longest frame header: 2 bytes, a 64-bit length and the mask.
const MAX_HEADER: usize = 14;

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value answering a `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    use base64::Engine as _;
    let mut input = Vec::with_capacity(key.len() + GUID.len());
    input.extend_from_slice(key.trim().as_bytes());
    input.extend_from_slice(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha1::sha1(&input))
}

/// A frame's opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// `0x0`: the next fragment of a message.
    Continuation,
    /// `0x1`: a text message (or its first fragment).
    Text,
    /// `0x2`: a binary message (or its first fragment).
    Binary,
    /// `0x8`: close.
    Close,
    /// `0x9`: ping.
    Ping,
    /// `0xA`: pong.
    Pong,
}

impl OpCode {
    fn from_bits(b: u8) -> Option<OpCode> {
        Some(match b {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Limits checked before anything is buffered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsLimits {
    /// The largest frame payload accepted.
    pub max_frame: usize,
    /// The largest message (all its fragments) accepted.
    pub max_message: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            max_frame: 1 << 20,
            max_message: 1 << 20,
        }
    }
}

/// The payload of a close frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: u16,
    /// The reason, UTF-8.
    pub reason: Bytes,
}

/// What the peer sent.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEvent {
    /// A whole data message (fragments joined; text checked to be UTF-8).
    Message(Frame),
    /// A ping (its pong is queued: see [`WsDecoder::take_control`]).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The peer closes (its close frame's payload, if any). The answer is queued: write what
    /// [`WsDecoder::take_control`] gives, then end the connection.
    Close(Option<CloseFrame>),
}

/// Why the peer's bytes are not acceptable WebSocket; the connection must be failed: write a
/// close frame with [`close_code`](Self::close_code) and end it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// Framing that RFC 6455 forbids (unmasked client frame, reserved bits or opcodes, a
    /// fragmented or oversized control frame, a continuation with nothing to continue, ...).
    #[error("WebSocket protocol error: {0}")]
    Protocol(&'static str),
    /// A text message, or a close reason, that is not UTF-8.
    #[error("invalid UTF-8 in a text message")]
    InvalidUtf8,
    /// A frame or message over the limits.
    #[error("WebSocket message too large")]
    TooLarge,
}

impl WsError {
    /// The close code to fail the connection with: 1002, 1007 or 1009.
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::Protocol(_) => 1002,
            WsError::InvalidUtf8 => 1007,
            WsError::TooLarge => 1009,
        }
    }
}

/// A data message whose fragments are still arriving.
#[derive(Debug)]
struct Assembling {
    text: bool,
    data: Vec<u8>,
    /// How much of `data` is known to be valid UTF-8 (text only): a sequence cut by a
    /// fragment boundary is checked once its end arrives.
    utf8_checked: usize,
}

/// The reading side of one WebSocket connection; see the [module docs](self).
#[derive(Debug)]
pub struct WsDecoder {
    limits: WsLimits,
    /// The bytes of a frame not complete yet; empty (no allocation) between frames.
    partial: Vec<u8>,
    message: Option<Box<Assembling>>,
    /// The pong to write next, if a ping is unanswered.
    pong: Option<Bytes>,
    /// The answer to the peer's close, once it came; then nothing more is read.
    close_answer: Option<Option<CloseFrame>>,
    close_received: bool,
    /// The error that failed the connection: every later `receive` returns it.
    failed: Option<WsError>,
}

/// A frame header, parsed.
struct Header {
    fin: bool,
    opcode: OpCode,
    mask: [u8; 4],
    len: usize,
    header_len: usize,
}

impl WsDecoder {
    /// A decoder for a new connection.
    pub fn new(limits: WsLimits) -> Self {
        WsDecoder {
            limits,
            partial: Vec::new(),
            message: None,
            pong: None,
            close_answer: None,
            close_received: false,
            failed: None,
        }
    }

    /// Whether the decoder holds nothing but its state: no partial frame, no message being
    /// assembled, no control frame to write.
    pub fn is_idle(&self) -> bool {
        self.partial.capacity() == 0
            && self.message.is_none()
            && self.pong.is_none()
            && self.close_answer.is_none()
    }

    /// Bytes held for frames and messages still arriving.
    pub fn buffered(&self) -> usize {
        self.partial.capacity() + self.message.as_ref().map_or(0, |m| m.data.capacity())
    }

    /// Whether the peer's close frame arrived (nothing after it is read).
    pub fn close_received(&self) -> bool {
        self.close_received
    }

    /// Feeds bytes read from the connection; `on_event` gets every event they complete, in
    /// order. After an error the connection must be failed (see [`WsError`]): the decoder drops
    /// what it held (the pong waiting included) and returns the same error for anything more it
    /// is fed. After [`WsEvent::Close`] further bytes are ignored.
    pub fn receive(&mut self, input: &[u8], on_event: impl FnMut(WsEvent)) -> Result<(), WsError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let result = self.receive_frames(input, on_event);
        if let Err(e) = result {
            self.failed = Some(e);
            self.partial = Vec::new();
            self.message = None;
            self.pong = None;
        }
        result
    }

    fn receive_frames(
        &mut self,
        input: &[u8],
        mut on_event: impl FnMut(WsEvent),
    ) -> Result<(), WsError> {
        if self.close_received {
            return Ok(());
        }
        if self.partial.is_empty() {
            let used = self.parse_frames(input, &mut on_event)?;
            let rest = &input[used..];
            if !rest.is_empty() && !self.close_received {
                self.keep_partial(rest)?;
            }
            return Ok(());
        }
        // A frame was cut: complete it from the new bytes, as few of them as it takes.
        let mut input = input;
        while !self.partial.is_empty() {
            if input.is_empty() {
                return Ok(());
            }
            let (need, frame_len) = match self.parse_header(&self.partial)? {
                None => {
                    let need = MAX_HEADER.saturating_sub(self.partial.len()).max(1);
                    (need, self.partial.len() + need)
                }
                Some(h) => {
                    let frame_len = h.header_len + h.len;
                    (frame_len - self.partial.len(), frame_len)
                }
            };
            let take = need.min(input.len());
            reserve_capped(&mut self.partial, take, frame_len);
            self.partial.extend_from_slice(&input[..take]);
            input = &input[take..];
            let partial = std::mem::take(&mut self.partial);
            let used = self.parse_frames(&partial, &mut on_event)?;
            if self.close_received {
                return Ok(());
            }
            if used < partial.len() {
                let mut rest = partial;
                rest.drain(..used);
                self.partial = rest;
            }
        }
        let used = self.parse_frames(input, &mut on_event)?;
        let rest = &input[used..];
        if !rest.is_empty() && !self.close_received {
            self.keep_partial(rest)?;
        }
        Ok(())
    }

    /// Keeps an incomplete frame's bytes, after checking its header (as far as it arrived)
    /// against the limits. The buffer grows with what arrives, not with what the header
    /// announces: a peer that announces a large frame and sends it slowly holds what it sent.
    fn keep_partial(&mut self, rest: &[u8]) -> Result<(), WsError> {
        self.parse_header(rest)?;
        self.partial.reserve_exact(rest.len());
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// Parses a frame header from the start of `b` (`None` while it is incomplete) and checks
    /// it against the limits and the message in progress, so that a frame that cannot be
    /// accepted fails before its payload is buffered.
    fn parse_header(&self, b: &[u8]) -> Result<Option<Header>, WsError> {
        let assembled = self.message.as_ref().map(|m| m.data.len());
        parse_header(b, &self.limits, assembled)
    }

    /// Parses every complete frame at the start of `input`; returns the bytes used.
    fn parse_frames(
        &mut self,
        input: &[u8],
        on_event: &mut impl FnMut(WsEvent),
    ) -> Result<usize, WsError> {
        let mut at = 0;
        while !self.close_received {
            let rest = &input[at..];
            let Some(h) = self.parse_header(rest)? else {
                break;
            };
            let end = h.header_len + h.len;
            if rest.len() < end {
                break;
            }
            let payload = &rest[h.header_len..end];
            at += end;
            self.on_frame(&h, payload, on_event)?;
        }
        if self.partial.capacity() > 0 && self.partial.is_empty() {
            self.partial = Vec::new();
        }
        Ok(at)
    }

    fn on_frame(
        &mut self,
        h: &Header,
        masked: &[u8],
        on_event: &mut impl FnMut(WsEvent),
    ) -> Result<(), WsError> {
        match h.opcode {
            OpCode::Ping => {
                let data = unmask(masked, h.mask);
                self.pong = Some(data.clone());
                on_event(WsEvent::Ping(data));
            }
            OpCode::Pong => on_event(WsEvent::Pong(unmask(masked, h.mask))),
            OpCode::Close => {
                let data = unmask(masked, h.mask);
                let close = parse_close(&data)?;
                self.close_received = true;
                self.message = None;
                // The answer echoes the code (RFC 6455 5.5.1), or says nothing.
                let answer = close.as_ref().map(|c| CloseFrame {
                    code: c.code,
                    reason: Bytes::new(),
                });
                self.close_answer = Some(answer);
                on_event(WsEvent::Close(close));
            }
            OpCode::Text | OpCode::Binary => {
                debug_assert!(self.message.is_none(), "refused from the header");
                let text = h.opcode == OpCode::Text;
                if h.fin {
                    let data = unmask(masked, h.mask);
                    if text && std::str::from_utf8(&data).is_err() {
                        return Err(WsError::InvalidUtf8);
                    }
                    let frame = if text {
                        Frame::Text(data)
                    } else {
                        Frame::Binary(data)
                    };
                    on_event(WsEvent::Message(frame));
                } else {
                    let mut data = Vec::with_capacity(masked.len());
                    unmask_into(&mut data, masked, h.mask);
                    let mut m = Box::new(Assembling {
                        text,
                        data,
                        utf8_checked: 0,
                    });
                    check_utf8(&mut m, false)?;
                    self.message = Some(m);
                }
            }
            OpCode::Continuation => {
                // A continuation with no message, or one that would take the message over
                // its limit, was refused from its header.
                let m = self.message.as_mut().expect("refused from the header");
                debug_assert!(m.data.len() + masked.len() <= self.limits.max_message);
                reserve_capped(&mut m.data, masked.len(), self.limits.max_message);
                unmask_into(&mut m.data, masked, h.mask);
                check_utf8(m, h.fin)?;
                if h.fin {
                    let m = self.message.take().expect("checked above");
                    let data = Bytes::from(m.data);
                    let frame = if m.text {
                        Frame::Text(data)
                    } else {
                        Frame::Binary(data)
                    };
                    on_event(WsEvent::Message(frame));
                }
            }
        }
        Ok(())
    }

    /// Encodes into `out` the control frames to write before anything else: the pong to the
    /// last unanswered ping, then the answer to the peer's close (after which nothing more
    /// may be written). Returns whether a close went out.
    pub fn take_control(&mut self, out: &mut Vec<u8>) -> bool {
        if let Some(p) = self.pong.take() {
            if self.close_answer.is_none() {
                encode_frame(out, OpCode::Pong, &p);
            }
        }
        match self.close_answer.take() {
            Some(answer) => {
                match answer {
                    Some(c) => encode_close(out, Some(c.code), ""),
                    None => encode_close(out, None, ""),
                }
                true
            }
            None => false,
        }
    }

    /// Whether [`take_control`](Self::take_control) has something to write.
    pub fn has_control(&self) -> bool {
        self.pong.is_some() || self.close_answer.is_some()
    }
}

/// Checks the UTF-8 of a text message as far as it arrived: a sequence cut at the end waits
/// for the next fragment unless this is the last one.
fn check_utf8(m: &mut Assembling, last: bool) -> Result<(), WsError> {
    if !m.text {
        return Ok(());
    }
    match std::str::from_utf8(&m.data[m.utf8_checked..]) {
        Ok(_) => m.utf8_checked = m.data.len(),
        Err(e) if e.error_len().is_none() && !last => m.utf8_checked += e.valid_up_to(),
        Err(_) => return Err(WsError::InvalidUtf8),
    }
    Ok(())
}

/// Makes room in `buf` for `more` bytes: its capacity doubles (for amortised copies while a
/// frame trickles in) but never grows past `cap`, the most `buf` will hold.
fn reserve_capped(buf: &mut Vec<u8>, more: usize, cap: usize) {
    let need = buf.len() + more;
    if need <= buf.capacity() {
        return;
    }
    let target = buf.capacity().saturating_mul(2).clamp(need, cap.max(need));
    buf.reserve_exact(target - buf.len());
}

/// Parses a frame header from the start of `b`: `None` while it is incomplete. `assembled` is
/// the length of the message in progress, if any: continuations need one, new messages must
/// wait for its end, and its limit counts the fragments already received.
///
/// Lengths are read for their value whatever their encoding: RFC 6455 5.2 makes the shortest
/// encoding a duty of the sender, and tungstenite, ws and websockets accept longer ones too.
fn parse_header(
    b: &[u8],
    limits: &WsLimits,
    assembled: Option<usize>,
) -> Result<Option<Header>, WsError> {
    if b.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (b[0], b[1]);
    if b0 & 0x70 != 0 {
        return Err(WsError::Protocol("reserved bits set with no extension"));
    }
    let fin = b0 & 0x80 != 0;
    let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(WsError::Protocol("reserved opcode"))?;
    if b1 & 0x80 == 0 {
        return Err(WsError::Protocol("a client frame must be masked"));
    }
    match (opcode, assembled) {
        (OpCode::Continuation, None) => {
            return Err(WsError::Protocol(
                "a continuation with no message to continue",
            ))
        }
        (OpCode::Text | OpCode::Binary, Some(_)) => {
            return Err(WsError::Protocol("a new message before the last one ended"))
        }
        _ => {}
    }
    if opcode.is_control() && !fin {
        return Err(WsError::Protocol("a fragmented control frame"));
    }
    let (len, mut header_len) = match b1 & 0x7F {
        126 => {
            if b.len() < 4 {
                return Ok(None);
            }
            (u16::from_be_bytes([b[2], b[3]]) as u64, 4)
        }
        127 => {
            if b.len() < 10 {
                return Ok(None);
            }
            let n = u64::from_be_bytes(b[2..10].try_into().expect("eight bytes"));
            if n >> 63 != 0 {
                return Err(WsError::Protocol("a 64-bit length with its top bit set"));
            }
            (n, 10)
        }
        n => (n as u64, 2),
    };
    if opcode.is_control() && len > 125 {
        return Err(WsError::Protocol("a control frame over 125 bytes"));
    }
    if len > limits.max_frame as u64 {
        return Err(WsError::TooLarge);
    }
    if !opcode.is_control() {
        let room = limits.max_message.saturating_sub(assembled.unwrap_or(0));
        if len > room as u64 {
            return Err(WsError::TooLarge);
        }
    }
    if b.len() < header_len + 4 {
        return Ok(None);
    }
    let mask = b[header_len..header_len + 4]
        .try_into()
        .expect("four bytes");
    header_len += 4;
    Ok(Some(Header {
        fin,
        opcode,
        mask,
        len: len as usize,
        header_len,
    }))
}

/// The payload of a close frame: a code and a UTF-8 reason, or nothing.
fn parse_close(data: &[u8]) -> Result<Option<CloseFrame>, WsError> {
    match data.len() {
        0 => Ok(None),
        1 => Err(WsError::Protocol("a close frame with a one-byte payload")),
        _ => {
            let code = u16::from_be_bytes([data[0], data[1]]);
            // RFC 6455 7.4.1 and 7.4.2, and the codes IANA registered since (1012 service
            // restart, 1013 try again later, 1014 bad gateway). Never on the wire: 1004
            // (reserved), 1005, 1006 and 1015 (for reporting only), the rest of 0-2999
            // (unassigned or reserved), 5000 and up (undefined).
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !valid {
                return Err(WsError::Protocol("a close code that may not be sent"));
            }
            let reason = &data[2..];
            if std::str::from_utf8(reason).is_err() {
                return Err(WsError::InvalidUtf8);
            }
            Ok(Some(CloseFrame {
                code,
                reason: Bytes::copy_from_slice(reason),
            }))
        }
    }
}

/// A copy of `masked` with its mask removed.
fn unmask(masked: &[u8], mask: [u8; 4]) -> Bytes {
    let mut out = Vec::with_capacity(masked.len());
    unmask_into(&mut out, masked, mask);
    Bytes::from(out)
}

/// Appends `masked` with its mask removed to `out`, eight bytes at a time.
fn unmask_into(out: &mut Vec<u8>, masked: &[u8], mask: [u8; 4]) {
    let start = out.len();
    out.extend_from_slice(masked);
    let data = &mut out[start..];
    let m8 = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let done = data.len() / 8 * 8;
    let (whole, rest) = data.split_at_mut(done);
    for c in whole.chunks_exact_mut(8) {
        let v = u64::from_ne_bytes(c.try_into().expect("eight bytes")) ^ m8;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in rest.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
}

/// Appends a frame (FIN set, unmasked, as a server sends) to `out`.
pub fn encode_frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8]) {
    out.reserve(MAX_HEADER + payload.len());
    out.push(0x80 | opcode.bits());
    match payload.len() {
        n @ 0..=125 => out.push(n as u8),
        n @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// Appends a data message as one frame to `out`.
pub fn encode_message(out: &mut Vec<u8>, message: &Frame) {
    match message {
        Frame::Text(b) => encode_frame(out, OpCode::Text, b),
        Frame::Binary(b) => encode_frame(out, OpCode::Binary, b),
    }
}

/// Appends a close frame to `out`: with a code (and a reason, cut to fit 125 bytes at a char
/// boundary), or empty.
pub fn encode_close(out: &mut Vec<u8>, code: Option<u16>, reason: &str) {
    let Some(code) = code else {
        return encode_frame(out, OpCode::Close, &[]);
    };
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = [0u8; 125];
    payload[..2].copy_from_slice(&code.to_be_bytes());
    payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
    encode_frame(out, OpCode::Close, &payload[..2 + end]);
}

#[cfg(test)]
mod tests;
