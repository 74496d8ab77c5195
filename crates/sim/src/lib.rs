//! Exchange simulator: each supported exchange's dialect, limits and faults, on loopback.
