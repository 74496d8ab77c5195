//! report.html: one self-contained page (inline CSS and SVG; no script, no
//! font, image or link loaded from anywhere), so that it opens from a USB
//! stick on an air-gapped laptop and says the same in ten years.

use super::figures::Effort;
use super::svg;
use super::{AT_RISK_LISTED_IN_HTML, AtRiskKey, Report, rfc3339};
use crate::app::summary::Tally;
use keyrevoke_core::State;
use maud::{DOCTYPE, Markup, PreEscaped, html};

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d2330; background: #fff; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 2px solid #d7dce5; }
h3 { font-size: 16px; margin: 18px 0 6px; }
p.meta { color: #5a6272; margin: 2px 0; font-size: 14px; }
p.verdict { font-size: 18px; margin: 18px 0 0; padding: 12px 16px; background: #f7f8fb; border-radius: 8px; }
b.alarm { color: #b71c1c; }
p.note { color: #5a6272; font-size: 14px; max-width: 900px; }
.cards { display: flex; gap: 14px; margin: 18px 0 8px; flex-wrap: wrap; }
.card { flex: 1 1 180px; border-radius: 8px; padding: 14px 18px; background: #f3f5f9; border-left: 6px solid #8a94a6; }
.card .n { font-size: 30px; font-weight: 700; }
.card .l { font-size: 14px; color: #4a5262; }
.card.good { border-color: #2e7d32; } .card.bad { border-color: #c62828; } .card.wait { border-color: #e08a00; }
table { border-collapse: collapse; font-size: 14px; margin: 6px 0 8px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e3e7ee; text-align: left; vertical-align: top; white-space: nowrap; }
td.why { white-space: normal; font-size: 13px; color: #3a4252; min-width: 220px; }
th { background: #eef1f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 700; border-top: 2px solid #b9c0cc; }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
.badge { white-space: nowrap; display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.red { background: #fde0e0; color: #9b1c1c; } .badge.green { background: #dff3e1; color: #1f6b25; }
.badge.amber { background: #fff0d6; color: #8a5300; } .badge.grey { background: #e8ebf0; color: #4a5262; }
.charts { display: grid; grid-template-columns: repeat(2, 560px); gap: 18px 28px; }
.chart text.tick { font-size: 11px; fill: #4a5262; }
.chart text.axis { font-size: 12px; fill: #1d2330; }
.chart text.legend { font-size: 12px; fill: #1d2330; }
.chart line.grid { stroke: #e3e7ee; stroke-width: 1; }
.chart line.axisline { stroke: #4a5262; stroke-width: 1; }
footer { margin-top: 40px; color: #5a6272; font-size: 13px; }
"#;

/// The report's text never carries a live address: `https://x/y` is shown
/// as `x/y`, which a reader can still type.
fn plain_address(text: &str) -> String {
    text.replace("https://", "").replace("http://", "")
}

fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn seconds(s: Option<f64>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s < 120.0 => format!("{s:.1} s"),
        Some(s) => format!("{:.0} min {:.0} s", (s / 60.0).floor(), s % 60.0),
    }
}

fn time_of(ms: Option<i64>) -> String {
    ms.map(rfc3339)
        .map(|t| t.replace('T', " ").replace('Z', " UTC"))
        .unwrap_or_else(|| "-".into())
}

fn state_badge(state: State) -> Markup {
    let class = match state {
        State::Revoked | State::Disabled | State::AlreadyDead => "green",
        State::Escalated => "amber",
        State::Failed => "red",
        _ => "grey",
    };
    html! { span class=(format!("badge {class}")) { (state.as_str().replace('_', " ")) } }
}

fn tally_row(name: &str, t: &Tally, won: &str, total: bool) -> Markup {
    html! {
        tr class=[total.then_some("total")] {
            td { (name) }
            td.num { (count(t.total)) }
            td.num { (count(t.revoked)) }
            td.num { (count(t.disabled)) }
            td.num { (count(t.already_dead)) }
            td.num { (count(t.escalated)) }
            td.num { (count(t.failed)) }
            td.num { (count(t.pending)) }
            td { (won) }
        }
    }
}

fn at_a_glance(r: &Report) -> Markup {
    let all = &r.summary.all;
    let neutralized = all.revoked + all.disabled + all.already_dead;
    let at_risk = all.escalated + all.failed;
    html! {
        p.verdict {
            b { (count(neutralized)) " of " (count(all.total)) " keys neutralized" }
            @if let Some(d) = r.job.duration_seconds { " in " (seconds(Some(d))) }
            ". "
            @if at_risk > 0 {
                b.alarm { (count(at_risk)) " still at risk" }
                ": send the escalation files listed below to each exchange."
            } @else { "Nothing is left at risk." }
            @if all.pending > 0 {
                " " b.alarm { (count(all.pending)) " not finished" } ": run the same command again to resume."
            }
        }
        h2 #glance { "The job at a glance" }
        div.cards {
            div.card { div.n { (count(all.total)) } div.l { "keys in the job" } }
            div.card.good { div.n { (count(neutralized)) } div.l { "neutralized (revoked, disabled or already dead)" } }
            div.card.bad { div.n { (count(at_risk)) } div.l { "still at risk (escalated or failed)" } }
            @if all.pending > 0 {
                div.card.wait { div.n { (count(all.pending)) } div.l { "not finished: the job was interrupted" } }
            } @else {
                div.card.good { div.n { "0" } div.l { "not finished: every key has an outcome" } }
            }
        }
        table {
            tr {
                th { "exchange" } th.num { "keys" } th.num { "revoked" } th.num { "disabled" }
                th.num { "already dead" } th.num { "escalated" } th.num { "failed" }
                th.num { "pending" } th { "channel that won" }
            }
            @for x in &r.exchanges {
                @let won = x.winning_routes.iter()
                    .map(|w| format!("{} ({})", w.route.as_str().replace('_', " "), count(w.keys)))
                    .collect::<Vec<_>>().join(", ");
                @let tally = r.summary.by_exchange.get(&x.exchange).cloned().unwrap_or_default();
                @let won = match (won.is_empty(), tally.already_dead > 0) {
                    (false, _) => won,
                    (true, true) => "none needed: found already dead".to_string(),
                    (true, false) => "none".to_string(),
                };
                (tally_row(&x.exchange, &tally, &won, false))
            }
            (tally_row("all", all, "", true))
        }
    }
}

fn timeline(r: &Report) -> Markup {
    html! {
        h2 #timeline { "Timeline" }
        p.note {
            "Keys neutralized per second on each exchange, against the limit the exchange documents for the channel that won. "
            "Bars that reach the red line were held back by the exchange's IP-wide limit; "
            "the orange line is the limit of one account, so a job spread over several accounts can rise above it."
        }
        div.charts {
            @for x in r.exchanges.iter().filter(|x| x.timeline.keys_per_second.iter().any(|v| *v > 0.0)) {
                div {
                    h3 { (x.exchange) }
                    (svg::timeline_chart(&x.exchange, &x.timeline, &x.limits))
                }
            }
        }
        @let idle: Vec<&str> = r.exchanges.iter()
            .filter(|x| x.timeline.keys_per_second.iter().all(|v| *v == 0.0))
            .map(|x| x.exchange.as_str()).collect();
        @if !idle.is_empty() {
            p.note { "No key was neutralized on: " (idle.join(", ")) "." }
        }
    }
}

fn funds_badge(k: &AtRiskKey) -> Markup {
    match k.can_move_funds {
        Some(true) => html! { span.badge.red { "can move funds" } },
        Some(false) => html! { span.badge.grey { "cannot move funds" } },
        None => html! { span.badge.grey { "unknown" } },
    }
}

/// Per exchange: keys at risk, how many can move funds, how many are alive.
fn risk_by_exchange(r: &Report) -> Vec<(&str, u64, u64, u64)> {
    let mut rows: Vec<(&str, u64, u64, u64)> = Vec::new();
    for k in &r.at_risk {
        let row = match rows.iter_mut().find(|row| row.0 == k.exchange) {
            Some(row) => row,
            None => {
                rows.push((k.exchange.as_str(), 0, 0, 0));
                rows.last_mut().expect("just pushed")
            }
        };
        row.1 += 1;
        row.2 += u64::from(k.can_move_funds == Some(true));
        row.3 += u64::from(k.liveness == "alive");
    }
    rows.sort();
    rows
}

fn at_risk(r: &Report) -> Markup {
    let movers = r
        .at_risk
        .iter()
        .filter(|k| k.can_move_funds == Some(true))
        .count();
    html! {
        h2 #at-risk { "What is still at risk" }
        @if r.at_risk.is_empty() {
            p { "No key is escalated or failed." }
        } @else {
            p {
                b { (count(r.at_risk.len() as u64)) " keys" }
                " could not be neutralized through an API; " b { (count(movers as u64)) }
                " of them were alive and able to move funds when last checked. "
                "Each is listed at the end of this report, fund-moving keys first."
            }
            table {
                tr { th { "exchange" } th.num { "keys at risk" } th.num { "can move funds" } th.num { "alive" } }
                @for (x, n, movers, alive) in risk_by_exchange(r) {
                    tr { td { (x) } td.num { (count(n)) } td.num { (count(movers)) } td.num { (count(alive)) } }
                }
            }
        }
        @if !r.escalation_files.is_empty() {
            h3 { "Escalation files to send" }
            p.note { "Each exchange's files are in the escalations folder beside this report: the key list (CSV) and a letter to its security team." }
            table {
                tr { th { "exchange" } th.num { "keys" } th { "files" } th { "send to" } th { "where users delete keys by hand" } }
                @for f in &r.escalation_files {
                    tr {
                        td { (f.exchange) }
                        td.num { (count(f.keys)) }
                        td.mono { @for file in &f.files { (file) br; } }
                        td.why { (plain_address(&f.send_to)) }
                        td.why { (plain_address(&f.api_management_page)) }
                    }
                }
            }
        }
    }
}

fn at_risk_list(r: &Report) -> Markup {
    let shown = r.at_risk.len().min(AT_RISK_LISTED_IN_HTML);
    html! {
        @if !r.at_risk.is_empty() {
            h2 #keys-at-risk { "Keys at risk, fund-moving first" }
            table {
                tr {
                    th { "exchange" } th { "masked key" } th { "fingerprint" } th { "label" }
                    th { "outcome" } th { "alive" } th { "funds" } th { "why" }
                }
                @for k in &r.at_risk[..shown] {
                    tr {
                        td { (k.exchange) }
                        td.mono { (k.masked_key) }
                        td.mono { (k.fingerprint) }
                        td { (k.label.as_deref().unwrap_or("")) }
                        td { (state_badge(k.state)) }
                        td { (k.liveness) }
                        td { (funds_badge(k)) }
                        td.why { (plain_address(k.reason.as_deref().unwrap_or(""))) }
                    }
                }
            }
            @if shown < r.at_risk.len() {
                p.note {
                    "The first " (shown) " are shown; report.json lists all "
                    (count(r.at_risk.len() as u64)) ", and the escalation files every escalated key."
                }
            }
        }
    }
}

fn effort_row(name: &str, e: &Effort, pauses: Option<u64>, total: bool) -> Markup {
    html! {
        tr class=[total.then_some("total")] {
            td { (name) }
            td { (time_of(e.started_at_ms)) }
            td { (time_of(e.finished_at_ms)) }
            td.num { (seconds(e.duration_seconds)) }
            td.num { (e.average_keys_per_second.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())) }
            td.num { (count(e.retries)) }
            td.num { (pauses.map(count).unwrap_or_else(|| "no audit".into())) }
        }
    }
}

fn effort(r: &Report) -> Markup {
    let all_pauses = r
        .exchanges
        .iter()
        .map(|x| x.rate_limit_pauses)
        .sum::<Option<u64>>();
    html! {
        h2 #duration { "How long it took" }
        table {
            tr {
                th { "exchange" } th { "first key started" } th { "last outcome" } th.num { "took" }
                th.num { "keys/s" } th.num { "retries" } th.num { "rate-limit pauses" }
            }
            @for x in &r.exchanges { (effort_row(&x.exchange, &x.effort, x.rate_limit_pauses, false)) }
            (effort_row("whole job", &r.job, all_pauses, true))
        }
        p.note {
            "Retries: requests beyond the first per key (after a transient error, a rate-limit refusal, or a fallback to a weaker channel). "
            "Rate-limit pauses: refusals for rate limits in the audit trail; each paused that account or the whole IP for the time the exchange asked."
        }
        @if !r.slowest_keys.is_empty() {
            h3 { "Slowest keys (first claim to outcome)" }
            p.note { "A key's time includes its wait for the exchange's rate-limit budget, which keys of one account share." }
            table {
                tr { th { "exchange" } th { "masked key" } th { "fingerprint" } th { "outcome" } th { "channel" } th.num { "attempts" } th.num { "took" } }
                @for k in &r.slowest_keys {
                    tr {
                        td { (k.exchange) }
                        td.mono { (k.masked_key) }
                        td.mono { (k.fingerprint) }
                        td { (state_badge(k.state)) }
                        td { (k.route.map(|r| r.as_str().replace('_', " ")).unwrap_or_default()) }
                        td.num { (k.attempts) }
                        td.num { (seconds(Some(k.seconds))) }
                    }
                }
            }
        }
    }
}

fn audit(r: &Report) -> Markup {
    html! {
        h2 #audit { "Audit trail" }
        @match &r.audit {
            None => p { "No audit trail was given to this report." },
            Some(a) => table {
                tr { th { "file" } td.mono { (a.path) } }
                tr { th { "records" } td { (count(a.records)) } }
                tr { th { "hash chain" } td {
                    @if a.chain_intact { span.badge.green { "intact" } }
                    @else { span.badge.red { "BROKEN" } " " (a.problem.as_deref().unwrap_or("")) }
                } }
                tr { th { "HMAC-signed" } td {
                    @if a.hmac_signed && a.hmac_checked { "yes, every record, checked with the signing key" }
                    @else if a.hmac_signed { "yes, every record (not checked: no signing key given)" }
                    @else { "no" }
                } }
            },
        }
    }
}

pub fn render(r: &Report) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "keyrevoke report: " (r.command) " job" }
                style { (PreEscaped(STYLE)) }
            }
            body { main {
                h1 { "Key revocation report" }
                p.meta {
                    @if r.command == super::REWRITTEN { "keyrevoke job (report written again from its journal), " }
                    @else { "keyrevoke " (r.command) " job, " }
                    @if r.job_state == "finished" { b { "finished" } } @else { b { "interrupted: keys still pending" } }
                }
                p.meta { "Journal: " span.mono { (r.journal) } }
                p.meta { "Report generated " (time_of(chrono_ms(&r.generated_at))) }
                (at_a_glance(r))
                (timeline(r))
                (at_risk(r))
                (effort(r))
                (audit(r))
                (at_risk_list(r))
                footer {
                    "Keys appear only masked, with their fingerprint (the first 16 hex digits of the SHA-256 of the key); "
                    "this report holds no secret. Figures for machines: report.json beside this file."
                }
            } }
        }
    };
    page.into_string()
}

fn chrono_ms(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_shown_without_a_scheme() {
        assert_eq!(
            plain_address("OKX Security, or via https://www.okx.com/help"),
            "OKX Security, or via www.okx.com/help"
        );
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }
}
