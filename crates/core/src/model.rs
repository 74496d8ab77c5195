//! The vocabulary of a revocation job (see DESIGN.md, "Vocabulary").

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($text => Ok($name::$variant),)+ other => Err(format!("unknown {} `{other}`", stringify!($name))) }
            }
        }
    };
}

string_enum!(
    /// How a key is neutralized, strongest first.
    Channel { Delete => "delete", Disable => "disable", Escalate => "escalate" }
);

string_enum!(
    /// One concrete way to use a channel: who calls what.
    Route {
        DeleteSelf => "delete_self",
        DeleteByMaster => "delete_by_master",
        DeleteByBroker => "delete_by_broker",
        DisableSelf => "disable_self",
        DisableByMaster => "disable_by_master",
        Escalate => "escalate",
    }
);

impl Route {
    pub fn channel(self) -> Channel {
        match self {
            Route::DeleteSelf | Route::DeleteByMaster | Route::DeleteByBroker => Channel::Delete,
            Route::DisableSelf | Route::DisableByMaster => Channel::Disable,
            Route::Escalate => Channel::Escalate,
        }
    }

    /// Whether the route acts through a managing credential.
    pub fn uses_credential(self) -> bool {
        matches!(
            self,
            Route::DeleteByMaster | Route::DeleteByBroker | Route::DisableByMaster
        )
    }
}

string_enum!(
    /// What an exchange connector can do, as listed by `keyrevoke exchanges`.
    Capability {
        DeleteSelf => "delete_self",
        DeleteByMaster => "delete_by_master",
        DeleteByBroker => "delete_by_broker",
        Disable => "disable",
        Probe => "probe",
        Escalate => "escalate",
    }
);

string_enum!(
    /// What the job does to a key.
    Action { Revoke => "revoke", Disable => "disable", Rotate => "rotate", Verify => "verify", Discover => "discover" }
);

string_enum!(
    /// Terminal results.
    Outcome {
        Revoked => "revoked",
        Disabled => "disabled",
        AlreadyDead => "already_dead",
        Escalated => "escalated",
        Failed => "failed",
    }
);

impl Outcome {
    /// Outcomes that leave nothing for a human to do.
    pub fn is_neutralized(self) -> bool {
        matches!(
            self,
            Outcome::Revoked | Outcome::Disabled | Outcome::AlreadyDead
        )
    }
}

string_enum!(
    /// A key's state in the journal: the non-terminal states, then the outcomes.
    State {
        Pending => "pending",
        InFlight => "in_flight",
        Unknown => "unknown",
        Revoked => "revoked",
        Disabled => "disabled",
        AlreadyDead => "already_dead",
        Escalated => "escalated",
        Failed => "failed",
    }
);

impl State {
    pub fn is_terminal(self) -> bool {
        self.outcome().is_some()
    }

    pub fn outcome(self) -> Option<Outcome> {
        match self {
            State::Revoked => Some(Outcome::Revoked),
            State::Disabled => Some(Outcome::Disabled),
            State::AlreadyDead => Some(Outcome::AlreadyDead),
            State::Escalated => Some(Outcome::Escalated),
            State::Failed => Some(Outcome::Failed),
            State::Pending | State::InFlight | State::Unknown => None,
        }
    }

    /// Whether a request may already have reached the exchange, so that a
    /// probe must come before anything is sent again.
    pub fn needs_verify(self) -> bool {
        matches!(self, State::InFlight | State::Unknown)
    }
}

impl From<Outcome> for State {
    fn from(o: Outcome) -> State {
        match o {
            Outcome::Revoked => State::Revoked,
            Outcome::Disabled => State::Disabled,
            Outcome::AlreadyDead => State::AlreadyDead,
            Outcome::Escalated => State::Escalated,
            Outcome::Failed => State::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_belong_to_channels() {
        assert_eq!(Route::DeleteByMaster.channel(), Channel::Delete);
        assert_eq!(Route::DisableSelf.channel(), Channel::Disable);
        assert!(Route::DeleteByBroker.uses_credential());
        assert!(!Route::DeleteSelf.uses_credential());
    }

    #[test]
    fn states_round_trip_through_text() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), *s);
        }
        assert!(State::Revoked.is_terminal());
        assert!(!State::Unknown.is_terminal());
        assert!(State::InFlight.needs_verify());
    }
}
