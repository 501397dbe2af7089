//! Tokens, their owners and scopes, and the two-week idle expiry.
//!
//! The sandbox knows a fixed set of personal tokens per practice (Dentally keys are tied to a
//! user, `docs/dentally-api.md` §2):
//!
//! | token | owner | scopes |
//! |---|---|---|
//! | `sandbox-read` | the practice owner (user 1001) | every `:read` scope of the catalog |
//! | `sandbox-write` | the practice owner (same budget as `sandbox-read`) | the same + `patient:update appointment:create` |
//! | `sandbox-patients` | a receptionist | `user:read patient:read` |
//! | `sandbox-expired` | another user | every read scope, but idle for over 14 days: always 401 |
//! | `sandbox-read-renamed` | the practice owner | every read scope, but `X-OAuth-Scopes` spells them differently (below) |
//! | `sandbox-write-renamed` | the practice owner | the same + the write scope `patients:update` |
//!
//! Only `user:read`, `patient:read`, `appointment:read` and `practice:read` are evidenced scope
//! names (C); the catalog's other 26 (`payment:read`, `treatment_plan_item:read`, …) are
//! guesses. The `-renamed` tokens model a live API that names them otherwise: their header
//! lists the four evidenced names and `<resource>:read` for every other resource
//! (`payments:read`, `treatment_plan_items:read`, `patient_stats:read`), while every read
//! endpoint still answers 200, so a client that refuses a token whose header lacks its guessed
//! names refuses a valid key.
//!
//! With several practices, `sandbox-read-2` … (and `-write-N`, `-patients-N`, `-expired-N`)
//! reach practice N; `sandbox-read-1` is an alias of `sandbox-read`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::catalog;

use super::data::World;
use super::data::timeline::DAY_MS;
use super::error::ApiError;

/// Scopes added to `sandbox-write`.
const WRITE_SCOPES: &[&str] = &["patient:update", "appointment:create"];
/// The write scope added to `sandbox-write-renamed`.
const RENAMED_WRITE_SCOPE: &str = "patients:update";
/// The only scope names the evidence shows (C): the `-renamed` tokens keep them.
const EVIDENCED_SCOPES: &[&str] = &[
    "user:read",
    "patient:read",
    "appointment:read",
    "practice:read",
];

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Patients,
    Expired,
    ReadRenamed,
    WriteRenamed,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// 1-based practice.
    pub practice: u32,
    /// Index of the owning user in the practice's `users`.
    pub user: u64,
    /// Id of the owning user.
    pub user_id: i64,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// What `X-OAuth-Scopes` says, when it names the scopes otherwise than `scopes`.
    pub announced: Option<Vec<String>>,
}

impl Caller {
    /// `p1-u1001`: who the token belongs to, for logs (never the token).
    pub(crate) fn label(&self) -> String {
        format!("p{}-u{}", self.practice, self.user_id)
    }

    /// The `X-OAuth-Scopes` value.
    pub(crate) fn scopes_header(&self) -> String {
        self.announced.as_ref().unwrap_or(&self.scopes).join(" ")
    }

    /// Whether the token may use `scope` (`x:read`, or the bare resource `x`).
    pub(crate) fn allows(&self, scope: &str) -> bool {
        let bare = scope.split(':').next().unwrap_or(scope);
        self.scopes.iter().any(|s| s == scope || s == bare)
    }
}

/// The token table and the simulated last use of each token.
#[derive(Debug)]
pub(crate) struct Tokens {
    practices: u32,
    idle_days: Option<u32>,
    start: i64,
    last_used: Mutex<HashMap<String, i64>>,
    dead: Mutex<HashSet<String>>,
}

impl Tokens {
    /// Tokens of `practices` practices whose clock starts at `start` (UTC ms).
    pub(crate) fn new(practices: u32, idle_days: Option<u32>, start: i64) -> Tokens {
        Tokens {
            practices,
            idle_days,
            start,
            last_used: Mutex::new(HashMap::new()),
            dead: Mutex::new(HashSet::new()),
        }
    }

    /// The caller behind an `Authorization` header value, at simulated time `now`.
    pub(crate) fn authenticate(
        &self,
        header: Option<&str>,
        worlds: &[World],
        now: i64,
    ) -> Result<Caller, ApiError> {
        let token = header
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or(ApiError::Unauthenticated)?;
        let (kind, practice) = parse(token, self.practices).ok_or(ApiError::Unauthenticated)?;
        let canonical = if practice == 1 {
            token.trim_end_matches("-1").to_string()
        } else {
            token.to_string()
        };
        if kind == Kind::Expired || self.dead.lock().expect("dead").contains(&canonical) {
            return Err(ApiError::Expired);
        }
        let mut last_used = self.last_used.lock().expect("last used");
        let last = *last_used.get(&canonical).unwrap_or(&self.start);
        if let Some(days) = self.idle_days
            && now - last > i64::from(days) * DAY_MS
        {
            self.dead.lock().expect("dead").insert(canonical);
            return Err(ApiError::Expired);
        }
        last_used.insert(canonical, now.max(last));
        let world = &worlds[(practice - 1) as usize];
        Ok(caller(kind, practice, world))
    }
}

/// `(kind, practice)` of a token name.
fn parse(token: &str, practices: u32) -> Option<(Kind, u32)> {
    let rest = token.strip_prefix("sandbox-")?;
    let (name, practice) = match rest.rsplit_once('-') {
        Some((name, n)) if n.bytes().all(|b| b.is_ascii_digit()) => (name, n.parse().ok()?),
        _ => (rest, 1),
    };
    let kind = match name {
        "read" => Kind::Read,
        "write" => Kind::Write,
        "patients" => Kind::Patients,
        "expired" => Kind::Expired,
        "read-renamed" => Kind::ReadRenamed,
        "write-renamed" => Kind::WriteRenamed,
        _ => return None,
    };
    (1..=practices)
        .contains(&practice)
        .then_some((kind, practice))
}

fn caller(kind: Kind, practice: u32, world: &World) -> Caller {
    // Practices have at least three users: the owner (0), the first non-clinician (the
    // receptionist) and one more, so the three owners differ.
    let receptionist = world.counts.practitioners.min(world.counts.users - 1);
    let user = match kind {
        Kind::Read | Kind::Write | Kind::ReadRenamed | Kind::WriteRenamed => 0,
        Kind::Patients => receptionist,
        Kind::Expired => {
            if receptionist == 1 {
                2
            } else {
                1
            }
        }
    };
    let mut scopes: Vec<String> = match kind {
        Kind::Patients => vec![catalog::USER_SCOPE.to_string(), "patient:read".to_string()],
        _ => catalog::all_read_scopes()
            .into_iter()
            .map(String::from)
            .collect(),
    };
    if kind == Kind::Write {
        scopes.extend(WRITE_SCOPES.iter().map(|s| s.to_string()));
    }
    let announced = matches!(kind, Kind::ReadRenamed | Kind::WriteRenamed).then(|| {
        let mut names = renamed_read_scopes();
        if kind == Kind::WriteRenamed {
            names.push(RENAMED_WRITE_SCOPE.to_string());
            scopes.push(RENAMED_WRITE_SCOPE.to_string());
        }
        names
    });
    Caller {
        practice,
        user,
        user_id: super::data::ids::USERS + user as i64,
        scopes,
        announced,
    }
}

/// The read scopes as the `-renamed` tokens announce them: the evidenced names kept, every
/// other resource's as `<resource name>:read`.
fn renamed_read_scopes() -> Vec<String> {
    let mut names: Vec<String> = EVIDENCED_SCOPES.iter().map(|s| s.to_string()).collect();
    for r in catalog::all() {
        if !EVIDENCED_SCOPES.contains(&r.scope) {
            let name = format!("{}:read", r.name);
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn worlds(n: u32) -> Vec<World> {
        (1..=n)
            .map(|p| World::new(1, p, 1.0, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()))
            .collect()
    }

    #[test]
    fn tokens_map_to_owners_and_scopes() {
        let w = worlds(2);
        let tokens = Tokens::new(2, Some(14), w[0].now);
        let read = tokens
            .authenticate(Some("Bearer sandbox-read"), &w, w[0].now)
            .unwrap();
        assert!(read.allows("invoice:read") && read.allows("user:read"));
        assert!(!read.allows("patient:update"));
        let write = tokens
            .authenticate(Some("Bearer sandbox-write"), &w, w[0].now)
            .unwrap();
        assert!(write.allows("patient:update"));
        assert_eq!(write.label(), read.label(), "one owner, one budget");
        let patients = tokens
            .authenticate(Some("Bearer sandbox-patients"), &w, w[0].now)
            .unwrap();
        assert_eq!(patients.scopes_header(), "user:read patient:read");
        assert!(!patients.allows("invoice:read"));
        assert_eq!(
            tokens
                .authenticate(Some("Bearer sandbox-read-2"), &w, w[0].now)
                .unwrap()
                .practice,
            2
        );
        assert_eq!(
            tokens
                .authenticate(Some("Bearer sandbox-read-3"), &w, w[0].now)
                .unwrap_err(),
            ApiError::Unauthenticated
        );
        assert_eq!(
            tokens
                .authenticate(Some("Bearer nope"), &w, w[0].now)
                .unwrap_err(),
            ApiError::Unauthenticated
        );
        assert_eq!(
            tokens.authenticate(None, &w, w[0].now).unwrap_err(),
            ApiError::Unauthenticated
        );
        assert_eq!(
            tokens
                .authenticate(Some("Bearer sandbox-expired"), &w, w[0].now)
                .unwrap_err(),
            ApiError::Expired
        );
    }

    #[test]
    fn renamed_tokens_announce_other_names_but_read_everything() {
        let w = worlds(2);
        let tokens = Tokens::new(2, Some(14), w[0].now);
        let read = tokens
            .authenticate(Some("Bearer sandbox-read-renamed"), &w, w[0].now)
            .unwrap();
        let header = read.scopes_header();
        let names: Vec<&str> = header.split(' ').collect();
        assert_eq!(&names[..4], EVIDENCED_SCOPES);
        assert!(names.contains(&"payments:read") && names.contains(&"treatment_plan_items:read"));
        assert!(!names.contains(&"payment:read") && !names.contains(&"invoice:read"));
        assert!(names.iter().all(|n| n.ends_with(":read")));
        assert!(read.allows("payment:read") && read.allows("treatment_plan_item:read"));
        let write = tokens
            .authenticate(Some("Bearer sandbox-write-renamed-2"), &w, w[0].now)
            .unwrap();
        assert_eq!(write.practice, 2);
        assert!(write.scopes_header().ends_with(" patients:update"));
    }

    #[test]
    fn owners_differ_at_any_scale() {
        for scale in [0.001, 0.1, 0.25, 0.3, 1.0, 10.0] {
            let w = World::new(1, 1, scale, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap());
            let owners: Vec<u64> = [Kind::Read, Kind::Patients, Kind::Expired]
                .iter()
                .map(|&k| caller(k, 1, &w).user)
                .collect();
            assert!(
                owners[0] != owners[1] && owners[1] != owners[2] && owners[0] != owners[2],
                "{scale}: {owners:?}"
            );
            assert!(owners.iter().all(|&u| u < w.counts.users));
        }
    }

    #[test]
    fn idle_tokens_expire_for_good() {
        let w = worlds(1);
        let start = w[0].now;
        let tokens = Tokens::new(1, Some(14), start);
        assert!(
            tokens
                .authenticate(Some("Bearer sandbox-read"), &w, start + 10 * DAY_MS)
                .is_ok()
        );
        assert!(
            tokens
                .authenticate(Some("Bearer sandbox-read"), &w, start + 20 * DAY_MS)
                .is_ok()
        );
        assert_eq!(
            tokens
                .authenticate(Some("Bearer sandbox-read"), &w, start + 35 * DAY_MS)
                .unwrap_err(),
            ApiError::Expired
        );
        assert_eq!(
            tokens
                .authenticate(Some("Bearer sandbox-read"), &w, start + 35 * DAY_MS)
                .unwrap_err(),
            ApiError::Expired
        );
        assert!(
            tokens
                .authenticate(Some("Bearer sandbox-patients"), &w, start + 5 * DAY_MS)
                .is_ok()
        );
    }
}
