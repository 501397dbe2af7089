//! Errors: the sandbox's own (bad configuration) and the API's answers that are errors.
//!
//! `ApiError` is what a client of the emulated API sees: a status and Dentally's JSON error
//! shape `{"error": {"type": …, "message": …}}` (the shape DentPulse's frontend reads,
//! `docs/dentally-api.md` §7). The rate-limit 403 is not one of them: it is plain text, built by
//! the rate-limit stage.

use axum::http::StatusCode;
use serde_json::json;

/// A problem with how a sandbox was asked to run.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// `--faults` named a profile that does not exist.
    #[error("unknown fault profile `{name}` (expected none, flaky or hostile)")]
    UnknownProfile {
        /// The name given.
        name: String,
    },
    /// A date given on the command line did not parse.
    #[error("invalid date `{value}` for --today (expected YYYY-MM-DD)")]
    InvalidDate {
        /// The value given.
        value: String,
    },
    /// A numeric setting was out of range.
    #[error("invalid value for {setting}: {reason}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// An error answer of the emulated API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    /// No `User-Agent` header.
    #[error(
        "a User-Agent header is required: name your application, e.g. `User-Agent: my-app/1.0`"
    )]
    UserAgentRequired,
    /// No bearer token, or one the sandbox does not know.
    #[error("the access token is missing or invalid")]
    Unauthenticated,
    /// The token expired after two weeks unused.
    #[error(
        "the access token expired: API keys expire when unused for more than 2 weeks; create a new one in Settings → Developer"
    )]
    Expired,
    /// The token lacks the endpoint's scope.
    #[error("this endpoint requires scope `{scope}`; the token has: {granted}")]
    MissingScope { scope: String, granted: String },
    /// No such route or record.
    #[error("{0}")]
    NotFound(String),
    /// A query parameter could not be parsed.
    #[error("{0}")]
    BadRequest(String),
    /// A windowed list was asked for without its window (strict mode only).
    #[error("{0}")]
    Unprocessable(String),
    /// A list page past the deep-offset wall.
    #[error("413 Content Too Large")]
    ContentTooLarge {
        /// The page's offset, for the sandbox's own logs.
        offset: u64,
    },
    /// An injected server error.
    #[error("internal server error")]
    Server(u16),
}

impl ApiError {
    /// HTTP status of the answer.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::UserAgentRequired | ApiError::MissingScope { .. } => StatusCode::FORBIDDEN,
            ApiError::Unauthenticated | ApiError::Expired => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ContentTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Server(code) => {
                StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    /// The `error.type` of the JSON body.
    fn kind(&self) -> &'static str {
        match self {
            ApiError::UserAgentRequired | ApiError::MissingScope { .. } => "forbidden",
            ApiError::Unauthenticated => "unauthorized",
            ApiError::Expired => "invalid_token",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unprocessable(_) => "unprocessable_entity",
            ApiError::ContentTooLarge { .. } => "content_too_large",
            ApiError::Server(502) => "bad_gateway",
            ApiError::Server(503) => "service_unavailable",
            ApiError::Server(_) => "internal_server_error",
        }
    }

    /// The plain-text body of errors that are not JSON: the 413 of the deep-offset wall comes
    /// from the web server's stack, not from the API's error handler (its body is unknown;
    /// plain text is the harsher guess for a client that expects JSON).
    pub(crate) fn plain_text(&self) -> Option<String> {
        matches!(self, ApiError::ContentTooLarge { .. }).then(|| self.to_string())
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Vec<u8> {
        let body = json!({"error": {"type": self.kind(), "message": self.to_string()}});
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_use_dentallys_error_shape() {
        let e = ApiError::MissingScope {
            scope: "invoice:read".into(),
            granted: "user:read".into(),
        };
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["type"], "forbidden");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("requires scope `invoice:read`")
        );
        let v: serde_json::Value = serde_json::from_slice(&ApiError::Expired.body()).unwrap();
        assert_eq!(v["error"]["type"], "invalid_token");
        assert!(v["error"]["message"].as_str().unwrap().contains("expired"));
    }
}
