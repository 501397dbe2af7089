//! Reading an answer's body with a size cap.
//!
//! `reqwest::Response::bytes` reads whatever the server sends: a fast endless body filled 5.8 GB
//! in 17 s during the security review (D3), and only the request timeout ended it. Here the
//! declared `Content-Length` is checked first, then chunks are appended to one buffer that stops
//! at the cap. The buffer is handed on as is (the JSON parser takes ownership), so the body
//! exists once in memory.

/// What was read.
pub(super) enum Capped {
    /// The whole body.
    Whole(Vec<u8>),
    /// The body is larger than the cap: `declared` is its `Content-Length`, when sent. The
    /// buffer holds what was read before the cap was hit (empty when the length alone said so).
    Over {
        /// The start of the body.
        start: Vec<u8>,
        /// `Content-Length`, when sent.
        declared: Option<u64>,
    },
}

/// Reads `response`'s body, at most `cap` bytes. Errors are transport errors (the connection
/// broke while reading), which the caller may retry.
pub(super) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Capped, reqwest::Error> {
    let declared = response.content_length();
    if declared.is_some_and(|len| len > cap as u64) {
        return Ok(Capped::Over {
            start: Vec::new(),
            declared,
        });
    }
    let first = declared.map_or(64 << 10, |len| len as usize).min(cap);
    let mut body = Vec::with_capacity(first);
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            let room = cap - body.len();
            body.extend_from_slice(&chunk[..room]);
            return Ok(Capped::Over {
                start: body,
                declared,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Capped::Whole(body))
}
