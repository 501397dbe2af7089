//! Talking to the Dentally API: the token, the budget, retries, and one client per token owner.

mod body;
mod budget;
mod client;
mod error;
mod retry;
mod token;

pub use budget::{Budget, DEFAULT_WAIT_BUDGET, MAX_SINGLE_WAIT, Permit, RateHeaders};
pub use client::{
    Client, MAX_BODY_BYTES, Reply, Stats, Target, display_path, is_loopback, is_rate_limit_body,
    retry_after,
};
pub use error::ApiError;
pub use retry::{Backoff, RetryConfig};
pub use token::{ApiToken, TokenError, TokenSource, load as load_token};
