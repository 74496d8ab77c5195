//! How a connector declares the calls it makes: one `const` [`Endpoint`]
//! per call in its `endpoints.rs`, read by its request builders and checked
//! against its `limits.rs` tiers by [`endpoint_problems`].

use crate::connector::{Charge, Tier};

pub use reqwest::Method;

/// One documented exchange call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    /// The path as documented; `{name}` marks an id the exchange takes in
    /// the path itself (Gate's `/sub_accounts/{user_id}/keys/{key}`).
    pub path: &'static str,
    /// The parameters keyrevoke sends, by their documented names, in the
    /// order it sends them.
    pub params: &'static [&'static str],
    /// What one call spends, per tier of the connector's `limits.rs`.
    pub charges: &'static [Charge],
    /// Where the call is documented (docs page, or SDK repository and path).
    pub source: &'static str,
}

impl Endpoint {
    /// Whether a call changes state on the exchange, so that a failure
    /// after sending leaves its outcome unknown.
    pub fn mutating(&self) -> bool {
        self.method != Method::GET
    }
}

/// What is wrong with a connector's endpoint table: a charge that names no
/// tier or weighs more than its tier holds, or a path that is not absolute.
/// Empty when the endpoints and the tiers agree.
pub fn endpoint_problems(tiers: &[Tier], endpoints: &[&Endpoint]) -> Vec<String> {
    let mut problems = Vec::new();
    for e in endpoints {
        if !e.path.starts_with('/') {
            problems.push(format!("{} {}: path is not absolute", e.method, e.path));
        }
        if e.source.trim().is_empty() {
            problems.push(format!("{} {}: no documented source", e.method, e.path));
        }
        for c in e.charges {
            match tiers.iter().find(|t| t.name == c.tier) {
                None => problems.push(format!(
                    "{} {} charges unknown tier {}",
                    e.method, e.path, c.tier
                )),
                Some(t) if c.weight > t.capacity => problems.push(format!(
                    "{} {} charges {} weight {}, over its capacity {}",
                    e.method, e.path, c.tier, c.weight, t.capacity
                )),
                Some(_) => {}
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TierScope;
    use std::time::Duration;

    static TIERS: [Tier; 1] = [Tier {
        name: "uid",
        scope: TierScope::Account,
        capacity: 5,
        period: Duration::from_secs(1),
    }];

    const fn endpoint(path: &'static str, charges: &'static [Charge]) -> Endpoint {
        Endpoint {
            method: Method::POST,
            path,
            params: &["apiKey"],
            charges,
            source: "docs",
        }
    }

    #[test]
    fn an_endpoint_must_charge_known_tiers_within_their_capacity() {
        const FITS: Endpoint = endpoint(
            "/a",
            &[Charge {
                tier: "uid",
                weight: 5,
            }],
        );
        const HEAVY: Endpoint = endpoint(
            "/b",
            &[Charge {
                tier: "uid",
                weight: 6,
            }],
        );
        const NAMELESS: Endpoint = endpoint(
            "/c",
            &[Charge {
                tier: "ip",
                weight: 1,
            }],
        );
        const RELATIVE: Endpoint = endpoint("d", &[]);
        assert!(endpoint_problems(&TIERS, &[&FITS]).is_empty());
        let problems = endpoint_problems(&TIERS, &[&HEAVY, &NAMELESS, &RELATIVE]);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("over its capacity"), "{problems:?}");
        assert!(problems[1].contains("unknown tier ip"), "{problems:?}");
        assert!(problems[2].contains("not absolute"), "{problems:?}");
        assert!(FITS.mutating());
    }
}
