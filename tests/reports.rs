//! report.html and report.json, as the people who read them get them: from
//! the real binary's demo, rewritten by `keyrevoke report`, and rendered by
//! a real browser.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A small demo: every supported exchange, documented limits, about ten
/// seconds.
async fn demo(out: &Path) -> Value {
    let run_out = run(&[
        "demo".into(),
        "--keys".into(),
        "200".into(),
        "--out".into(),
        out.display().to_string(),
        "--json".into(),
    ])
    .await;
    assert!(
        matches!(run_out.status.code(), Some(0 | 3)),
        "{}",
        describe(&run_out)
    );
    summary(&run_out)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The report's own figures agree with each other and with the summary.
fn check_figures(report: &Value, summary: &Value) {
    assert_eq!(report["report_version"], 1);
    assert_eq!(
        &report["summary"], summary,
        "report.json's summary must be the --json summary"
    );
    assert_eq!(report["job_state"], "finished");
    for x in report["exchanges"].as_array().unwrap() {
        let name = x["exchange"].as_str().unwrap();
        let tally = &summary["by_exchange"][name];
        let neutralized = u(&tally["revoked"]) + u(&tally["disabled"]) + u(&tally["already_dead"]);
        let timeline = &x["timeline"];
        let drawn: f64 = timeline["keys_per_second"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum::<f64>()
            * timeline["bucket_seconds"].as_f64().unwrap();
        assert_eq!(
            drawn.round() as u64,
            neutralized,
            "{name}: the timeline must draw every neutralized key once"
        );
        let won: u64 = x["winning_routes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| u(&r["keys"]))
            .sum();
        assert!(
            won <= neutralized && won >= u(&tally["revoked"]),
            "{name}: {won} keys won by a route, {neutralized} neutralized"
        );
        if u(&tally["revoked"]) > 0 && name != "coinbase" {
            assert!(
                !x["limits"].as_array().unwrap().is_empty(),
                "{name}: the documented limit of its winning route is drawn"
            );
        }
    }
    let at_risk = report["at_risk"].as_array().unwrap();
    assert_eq!(
        at_risk.len() as u64,
        u(&summary["escalated"]) + u(&summary["failed"]),
        "every escalated or failed key is listed"
    );
    let movers_first = at_risk
        .iter()
        .map(|k| k["can_move_funds"] == true)
        .collect::<Vec<_>>();
    assert!(
        movers_first.windows(2).all(|w| w[0] >= w[1]),
        "fund-moving keys come first"
    );
    let audit = &report["audit"];
    assert_eq!(audit["chain_intact"], true, "{audit}");
    assert!(u(&audit["records"]) > u(&summary["total"]), "{audit}");
}

fn check_private(dir: &Path) {
    for name in ["report.html", "report.json"] {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_report_matches_the_summary_and_loads_nothing_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let summary = demo(&out).await;
    check_private(&out);
    check_figures(&report_json(&out), &summary);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(
        network_references(&html),
        Vec::<String>::new(),
        "report.html must be self-contained"
    );
    for heading in [
        "The job at a glance",
        "Timeline",
        "What is still at risk",
        "How long it took",
        "Audit trail",
    ] {
        assert!(html.contains(heading), "report.html lacks {heading:?}");
    }
    assert!(
        html.matches("<svg").count() >= 4,
        "a chart per busy exchange"
    );

    // Written again from the journal alone, the figures are the same.
    let again = dir.path().join("again");
    let rewrite = run(&[
        "report".into(),
        "--journal".into(),
        out.join("journal.sqlite").display().to_string(),
        "--out".into(),
        again.display().to_string(),
    ])
    .await;
    assert_eq!(rewrite.status.code(), Some(0), "{}", describe(&rewrite));
    check_private(&again);
    let rewritten = report_json(&again);
    check_figures(&rewritten, &summary);
    let original = report_json(&out);
    for field in ["exchanges", "at_risk", "escalation_files", "job"] {
        assert_eq!(
            rewritten[field], original[field],
            "{field} differs when written again"
        );
    }
    for f in rewritten["escalation_files"].as_array().unwrap() {
        for file in f["files"].as_array().unwrap() {
            let file = again.join(file.as_str().unwrap());
            assert!(file.exists(), "{} is named but missing", file.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_on_a_missing_journal_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "report".into(),
        "--journal".into(),
        dir.path().join("nope.sqlite").display().to_string(),
        "--out".into(),
        dir.path().join("out").display().to_string(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such journal"));
    assert!(!dir.path().join("out").exists(), "nothing written");
    assert!(
        !dir.path().join("nope.sqlite").exists(),
        "no journal created"
    );
}

/// Pixels of one colour in an RGB(A) screenshot, and how many are not white.
struct Pixels {
    total: u64,
    non_white: u64,
    distinct: usize,
    of_bar_colour: u64,
}

fn pixels(png_path: &Path) -> Pixels {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "colour screenshot, got {:?}",
        info.color_type
    );
    let mut seen = std::collections::HashSet::new();
    let mut p = Pixels {
        total: 0,
        non_white: 0,
        distinct: 0,
        of_bar_colour: 0,
    };
    for px in buf[..info.buffer_size()].chunks(channels) {
        let rgb = (px[0], px[1], px[2]);
        p.total += 1;
        p.non_white += u64::from(rgb != (255, 255, 255));
        // The timeline's bars, #2f6fb3 (report/svg.rs).
        p.of_bar_colour += u64::from(rgb == (0x2f, 0x6f, 0xb3));
        seen.insert(rgb);
    }
    p.distinct = seen.len();
    p
}

/// Chromium is what `.ci/run` installs (Debian's `chromium`); a developer
/// without it is told, CI without it fails.
fn chromium() -> Option<std::path::PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH")?
            .to_str()?
            .split(':')
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is not installed: .ci/run installs it"
        );
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_report_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    demo(&out).await;
    let shot = dir.path().join("report.png");
    let profile = dir.path().join("chromium-profile");
    let rendered = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
            &format!("file://{}", out.join("report.html").display()),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("chromium runs");
    assert!(
        shot.exists(),
        "no screenshot; chromium said: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let p = pixels(&shot);
    assert_eq!(p.total, 1280 * 2400, "the window size asked for");
    assert!(
        p.non_white * 20 > p.total,
        "the page looks blank: {} of {} pixels not white",
        p.non_white,
        p.total
    );
    assert!(
        p.distinct > 50,
        "text, tables and charts draw many colours; got {}",
        p.distinct
    );
    assert!(
        p.of_bar_colour > 2_000,
        "the timeline's bars are drawn: {} pixels of their colour",
        p.of_bar_colour
    );
    if let Ok(keep) = std::env::var("KEYREVOKE_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
