//! What can go wrong talking to the API, each with the resource, page and attempts involved
//! and what the user should do. URLs here are paths with queries: never a token.

/// An API failure, after retries where retrying makes sense.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: the token is unknown, revoked or expired.
    #[error(
        "the API refused the token (401 Unauthorized) on `{path}`. Dentally keys expire after two weeks without use; \
         create a new one in Dentally under Settings → Developer → Generate new token (tick only the `read` boxes) \
         and put it where `token_env`/`token_file` points"
    )]
    Unauthorized {
        /// Request path.
        path: String,
    },
    /// 403 because the request had no `User-Agent`.
    #[error(
        "the API refused `{path}` (403): requests need a `User-Agent` header; set `user_agent` in [source]"
    )]
    MissingUserAgent {
        /// Request path.
        path: String,
    },
    /// 403 for a scope the token lacks.
    #[error("the token may not read `{resource}` (403 Forbidden on `{path}`): {message}")]
    Forbidden {
        /// Resource name.
        resource: String,
        /// Request path.
        path: String,
        /// The API's message.
        message: String,
    },
    /// 404.
    #[error(
        "`{path}` does not exist (404) for `{resource}`: the practice may not use this feature"
    )]
    NotFound {
        /// Resource name.
        resource: String,
        /// Request path.
        path: String,
    },
    /// 413 on a list page: the live API refuses offsets past a drifting depth (about 50,000 to
    /// 106,000 rows, api-evidence.md §3). Not fatal to a read: the extractor restarts its keyset
    /// or narrows its window, and only fails when no narrower read exists.
    #[error(
        "`{resource}` page {page}: the API refused a page this deep (413) on `{path}`; the read \
         needs a filter the API honours (a narrower `updated_*`/`created_*`/`after` window)"
    )]
    DeepOffset {
        /// Resource name.
        resource: String,
        /// Page number.
        page: u32,
        /// Request path and query.
        path: String,
    },
    /// A status we do not retry, or a retryable one that kept failing.
    #[error(
        "`{resource}` page {page}: the API answered {status} after {attempts} attempt(s) on `{path}`: {body}"
    )]
    Status {
        /// Resource name.
        resource: String,
        /// Page number (0 when not paged).
        page: u32,
        /// Request path and query.
        path: String,
        /// HTTP status.
        status: u16,
        /// Start of the body.
        body: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Network failures, timeouts or bad bodies that kept happening.
    #[error("{}: gave up after {attempts} attempt(s) on `{path}`: {reason}", at(.resource, *.page))]
    GaveUp {
        /// Resource name.
        resource: String,
        /// Page number (0 when not paged).
        page: u32,
        /// Request path and query.
        path: String,
        /// The last failure.
        reason: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The answer was larger than a page can be (security review D3); not retried.
    #[error(
        "{}: the answer to `{path}` is larger than {limit_mib} MiB{}; refusing to read it (a Dentally page is well under 1 MiB: check `base_url`)",
        at(.resource, *.page),
        .declared.map(|d| format!(" (Content-Length {d})")).unwrap_or_default()
    )]
    TooLarge {
        /// Resource name.
        resource: String,
        /// Page number (0 when not paged).
        page: u32,
        /// Request path and query.
        path: String,
        /// The cap, in MiB.
        limit_mib: u64,
        /// The declared `Content-Length`, when one was sent.
        declared: Option<u64>,
    },
    /// A failure that would happen again on every attempt (TLS verification, a refused
    /// redirect, an answer that is not JSON), reported at once instead of retried.
    #[error("{}: {reason} (on `{path}`, not retried)", at(.resource, *.page))]
    Deterministic {
        /// Resource name.
        resource: String,
        /// Page number (0 when not paged).
        page: u32,
        /// Request path and query.
        path: String,
        /// What happened and what to do.
        reason: String,
    },
    /// The run's total rate-limit wait budget is spent.
    #[error(
        "the rate limit would make this run wait {wanted_secs} s more after {waited_secs} s of waiting, beyond its wait budget of {budget_secs} s; \
         run again later (checkpoints keep what was read) or raise `max_wait_secs` in [source]"
    )]
    WaitBudget {
        /// Seconds waited so far.
        waited_secs: u64,
        /// Seconds the next wait needed.
        wanted_secs: u64,
        /// The budget, in seconds.
        budget_secs: u64,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// `` `patients` page 3 ``, or just `` `user` `` for unpaged requests.
fn at(resource: &str, page: u32) -> String {
    if page == 0 {
        format!("`{resource}`")
    } else {
        format!("`{resource}` page {page}")
    }
}

impl ApiError {
    /// True for failures a person must fix (token, scope, path), as opposed to a flaky server.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized { .. } | Self::MissingUserAgent { .. } | Self::Forbidden { .. }
        )
    }
}
