//! Live progress on stderr, when stderr is a terminal: one bar per exchange
//! with done/total, rate and ETA.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use keyrevoke_executor::progress::Progress;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub struct ProgressView {
    task: Option<tokio::task::JoinHandle<()>>,
    bars: Vec<ProgressBar>,
}

impl ProgressView {
    /// Start drawing, unless stderr is not a terminal (then stay quiet).
    pub fn start(progress: Arc<Progress>) -> ProgressView {
        if !std::io::stderr().is_terminal() {
            return ProgressView {
                task: None,
                bars: Vec::new(),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        let style = ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} {per_sec:>10} eta {eta:>4} {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        let bars: Vec<(keyrevoke_core::ExchangeId, ProgressBar)> = progress
            .exchanges
            .iter()
            .map(|(x, p)| {
                let bar = multi.add(ProgressBar::new(p.total.load(Ordering::Relaxed)));
                bar.set_style(style.clone());
                bar.set_prefix(x.to_string());
                (*x, bar)
            })
            .collect();
        let handles: Vec<ProgressBar> = bars.iter().map(|(_, b)| b.clone()).collect();
        let task = tokio::spawn(async move {
            loop {
                for (x, bar) in &bars {
                    if let Some(p) = progress.of(*x) {
                        bar.set_position(p.done.load(Ordering::Relaxed));
                        let limited = p.rate_limited.load(Ordering::Relaxed);
                        let retries = p.retries.load(Ordering::Relaxed);
                        bar.set_message(format!("retries {retries} rate-limited {limited}"));
                    }
                }
                tokio::time::sleep(Duration::from_millis(125)).await;
            }
        });
        ProgressView {
            task: Some(task),
            bars: handles,
        }
    }

    pub fn finish(self) {
        if let Some(t) = self.task {
            t.abort();
        }
        for b in self.bars {
            b.abandon();
        }
    }
}
