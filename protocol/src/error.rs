//! Errors shared by the decoders.

/// Why bytes received from a peer could not be decoded. Each variant names one violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The packet or payload was empty.
    #[error("empty packet")]
    Empty,
    /// The text was not valid UTF-8.
    #[error("invalid utf-8")]
    InvalidUtf8,
    /// The packet type digit is unknown.
    #[error("unknown packet type")]
    UnknownPacketType,
    /// A binary packet in a polling payload was not valid base64.
    #[error("invalid base64")]
    InvalidBase64,
    /// A polling payload held more packets than allowed.
    #[error("too many packets in payload")]
    TooManyPackets,
    /// The payload exceeded the maximum size.
    #[error("payload too large ({size} > {max} bytes)")]
    PayloadTooLarge {
        /// Size received.
        size: usize,
        /// Configured limit.
        max: usize,
    },
    /// The namespace was malformed (not starting with `/`, or unterminated).
    #[error("bad namespace")]
    BadNamespace,
    /// The ack id was not a number that fits in 64 bits.
    #[error("bad ack id")]
    BadAckId,
    /// The attachment count of a binary packet was malformed.
    #[error("bad attachment count")]
    BadAttachmentCount,
    /// The packet declared more binary attachments than allowed.
    #[error("too many attachments ({count} > {max})")]
    TooManyAttachments {
        /// Declared count.
        count: usize,
        /// Configured limit.
        max: usize,
    },
    /// The binary attachments together exceeded the allowed size.
    #[error("attachments too large")]
    AttachmentsTooLarge,
    /// A placeholder referred to an attachment that does not exist.
    #[error("bad attachment placeholder")]
    BadPlaceholder,
    /// A binary attachment arrived when none was expected, or text arrived when one was.
    #[error("unexpected attachment")]
    UnexpectedAttachment,
    /// The JSON payload did not parse (syntax, depth limit).
    #[error("invalid json")]
    InvalidJson,
    /// The JSON payload parsed but has the wrong shape for this packet type.
    #[error("invalid payload for packet type")]
    InvalidPayload,
}
