//! SIGTERM, what systemd, Kubernetes and `kill` send, stops a run as Ctrl-C
//! does (`revoke_end_to_end.rs`). In a file of its own so that its run does
//! not share the CPU with the timing-sensitive runs of that file.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_with_exit_130_and_the_job_resumes() {
    stops_cleanly_on(libc::SIGTERM, 18).await;
}
