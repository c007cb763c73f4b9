//! Files uploaded as raw bodies (card attachments, catalogue photos): the formats taken,
//! recognised by their bytes and not only by what the client says, and reading a body up
//! to a limit while hashing it.

use crate::error::{ApiError, ApiResult, ErrorCode};
use actix_web::http::header::{self, HeaderMap};
use actix_web::web::{self, Bytes, BytesMut};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

pub const MIB: usize = 1024 * 1024;
/// The largest upload of any type (a video).
pub const MAX_UPLOAD_BYTES: usize = 50 * MIB;

/// What an attachment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Photo,
    Video,
    Voice,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Video => "video",
            Self::Voice => "voice",
        }
    }

    /// The largest file of this kind, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Photo => 5 * MIB,
            Self::Voice => 10 * MIB,
            Self::Video => MAX_UPLOAD_BYTES,
        }
    }
}

/// A file type taken as an attachment, and how to recognise its bytes.
pub struct Format {
    pub content_type: &'static str,
    pub kind: Kind,
    pub magic: fn(&[u8]) -> bool,
}

const FORMATS: &[Format] = &[
    Format {
        content_type: "image/jpeg",
        kind: Kind::Photo,
        magic: is_jpeg,
    },
    Format {
        content_type: "image/png",
        kind: Kind::Photo,
        magic: is_png,
    },
    Format {
        content_type: "image/webp",
        kind: Kind::Photo,
        magic: is_webp,
    },
    Format {
        content_type: "audio/mpeg",
        kind: Kind::Voice,
        magic: is_mp3,
    },
    Format {
        content_type: "audio/ogg",
        kind: Kind::Voice,
        magic: is_ogg,
    },
    Format {
        content_type: "audio/webm",
        kind: Kind::Voice,
        magic: is_matroska,
    },
    Format {
        content_type: "audio/mp4",
        kind: Kind::Voice,
        magic: is_mp4,
    },
    Format {
        content_type: "video/mp4",
        kind: Kind::Video,
        magic: is_mp4,
    },
    Format {
        content_type: "video/webm",
        kind: Kind::Video,
        magic: is_matroska,
    },
];

fn is_jpeg(b: &[u8]) -> bool {
    b.starts_with(&[0xFF, 0xD8, 0xFF])
}

fn is_png(b: &[u8]) -> bool {
    b.starts_with(b"\x89PNG\r\n\x1a\n")
}

fn is_webp(b: &[u8]) -> bool {
    b.len() >= 12 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP"
}

/// An ID3 tag, or an MPEG audio frame header (11 sync bits, a layer that is not the
/// reserved `00`).
fn is_mp3(b: &[u8]) -> bool {
    b.starts_with(b"ID3")
        || (b.len() >= 2 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0 && b[1] & 0x06 != 0)
}

fn is_ogg(b: &[u8]) -> bool {
    b.starts_with(b"OggS")
}

/// The EBML header of WebM (and Matroska).
fn is_matroska(b: &[u8]) -> bool {
    b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3])
}

/// An ISO base media file: its first box is `ftyp`.
fn is_mp4(b: &[u8]) -> bool {
    b.len() >= 8 && &b[4..8] == b"ftyp"
}

/// The format of a `Content-Type` header value (parameters such as `codecs=opus` and
/// case ignored).
pub fn format_of(content_type: &str) -> Option<&'static Format> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    FORMATS
        .iter()
        .find(|f| f.content_type.eq_ignore_ascii_case(essence))
}

pub fn allowed_types() -> String {
    FORMATS
        .iter()
        .map(|f| f.content_type)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The body's length as the client announced it, if it did.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Reads the body, refusing it with `too_large()` as soon as it passes `limit` bytes, and
/// hashes it (SHA-256, hex) on the way. `hint` is the announced length, to allocate once.
pub async fn read_body(
    payload: &mut web::Payload,
    limit: usize,
    hint: usize,
    too_large: impl Fn() -> ApiError,
) -> ApiResult<(Bytes, String)> {
    let mut buf = BytesMut::with_capacity(hint.min(limit));
    let mut hasher = Sha256::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidField,
                format!("the upload did not arrive whole: {e}"),
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        hasher.update(&chunk);
        buf.extend_from_slice(&chunk);
    }
    Ok((buf.freeze(), hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn formats_are_recognised_by_their_magic_numbers() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
        let webp = b"RIFF\x24\0\0\0WEBPVP8 ";
        let mp3 = [0xFF, 0xFB, 0x90, 0x64];
        let id3 = b"ID3\x04\0\0";
        let ogg = b"OggS\0\x02";
        let webm = [0x1A, 0x45, 0xDF, 0xA3, 0x9F];
        let mp4 = b"\0\0\0\x20ftypisom";
        let cases: [(&str, &[u8]); 10] = [
            ("image/png", png),
            ("image/jpeg", &jpeg),
            ("image/webp", webp),
            ("audio/mpeg", &mp3),
            ("audio/mpeg", id3),
            ("audio/ogg", ogg),
            ("audio/webm", &webm),
            ("video/webm", &webm),
            ("audio/mp4", mp4),
            ("video/mp4", mp4),
        ];
        for (ct, bytes) in cases {
            // Exactly the declared type matches (WebM and MP4 serve audio and video alike).
            let matching: Vec<&str> = FORMATS
                .iter()
                .filter(|f| (f.magic)(bytes))
                .map(|f| f.content_type.split('/').nth(1).unwrap_or_default())
                .collect();
            let subtype = ct.split('/').nth(1).unwrap();
            assert!(!matching.is_empty(), "{ct}");
            assert!(matching.iter().all(|m| *m == subtype), "{ct}: {matching:?}");
        }
        assert!(!is_png(b"\x89PN"));
        assert!(!is_webp(b"RIFF\0\0\0\0WAVE"));
        assert!(!is_mp3(&[0xFF, 0xF9])); // ADTS AAC: layer 00
        assert!(!is_mp4(b"\0\0\0\x20moov"));
        assert!(!is_jpeg(&[]));
    }

    #[test]
    fn content_types_ignore_parameters_and_case() {
        assert_eq!(
            format_of("audio/webm;codecs=opus").unwrap().content_type,
            "audio/webm"
        );
        assert_eq!(format_of(" Image/PNG ").unwrap().kind, Kind::Photo);
        assert!(format_of("image/svg+xml").is_none());
        assert!(format_of("text/html").is_none());
        assert!(format_of("").is_none());
    }

    #[test]
    fn limits_by_kind() {
        assert_eq!(Kind::Photo.max_bytes(), 5 * 1024 * 1024);
        assert_eq!(Kind::Voice.max_bytes(), 10 * 1024 * 1024);
        assert_eq!(Kind::Video.max_bytes(), 50 * 1024 * 1024);
    }
}
