//! Exit codes: the contract operators' scripts rely on.

/// Every key revoked, disabled or already dead.
pub const OK: i32 = 0;
/// Could not run: bad input, config, I/O.
pub const COULD_NOT_RUN: i32 = 1;
/// Finished, but some keys were escalated or failed: a human is needed.
pub const NEEDS_HUMAN: i32 = 3;
/// Interrupted; the journal resumes the job.
pub const INTERRUPTED: i32 = 130;

/// Say why the command cannot run, and exit with [`COULD_NOT_RUN`].
pub fn could_not_run(why: impl std::fmt::Display) -> i32 {
    eprintln!("{why}");
    COULD_NOT_RUN
}
