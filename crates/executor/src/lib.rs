//! Runs revocations: per-exchange fair queues, rate limits, retries, fallback chain, progress.
