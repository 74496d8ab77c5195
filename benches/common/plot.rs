//! Text plots for the scaling benchmark: a figure against a count of keys,
//! the count on a log scale (one column band per decade).

const WIDTH: usize = 57;
const HEIGHT: usize = 12;

/// Plot `points` (keys, value) as `*`, the y axis from 0 to the largest
/// value, labelled in `unit`.
pub fn against_keys(title: &str, unit: &str, points: &[(f64, f64)]) -> String {
    let positive: Vec<(f64, f64)> = points.iter().copied().filter(|(x, _)| *x > 0.0).collect();
    if positive.is_empty() {
        return format!("{title}: nothing to plot\n");
    }
    let decade = |x: f64| x.log10();
    let lo = positive
        .iter()
        .map(|p| decade(p.0))
        .fold(f64::MAX, f64::min)
        .floor();
    let mut hi = positive
        .iter()
        .map(|p| decade(p.0))
        .fold(f64::MIN, f64::max)
        .ceil();
    if hi <= lo {
        hi = lo + 1.0;
    }
    let y_max = positive
        .iter()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(f64::EPSILON);
    let column = |x: f64| ((decade(x) - lo) / (hi - lo) * (WIDTH - 1) as f64).round() as usize;
    let row = |y: f64| ((y / y_max) * (HEIGHT - 1) as f64).round() as usize;
    let mut grid = vec![vec![' '; WIDTH]; HEIGHT];
    for &(x, y) in &positive {
        grid[HEIGHT - 1 - row(y)][column(x)] = '*';
    }
    let mut out = format!("{title} ({unit}) against keys, log scale\n");
    for (i, cells) in grid.iter().enumerate() {
        let level = HEIGHT - 1 - i;
        let label = if level == HEIGHT - 1 || level == 0 || level == (HEIGHT - 1) / 2 {
            format!("{:>9.1}", y_max * level as f64 / (HEIGHT - 1) as f64)
        } else {
            " ".repeat(9)
        };
        let cells: String = cells.iter().collect();
        out.push_str(&format!("{label} |{}\n", cells.trim_end()));
    }
    out.push_str(&format!("{} +{}\n", " ".repeat(9), "-".repeat(WIDTH)));
    let mut axis = vec![' '; WIDTH + 8];
    for d in (lo as i32)..=(hi as i32) {
        let name = keys_label(10f64.powi(d));
        let at = column(10f64.powi(d));
        for (j, c) in name.chars().enumerate() {
            if let Some(slot) = axis.get_mut(at + j) {
                *slot = c;
            }
        }
    }
    out.push_str(&format!(
        "{}  {}\n",
        " ".repeat(9),
        axis.iter().collect::<String>().trim_end()
    ));
    out
}

/// 1000 as "1k", 1000000 as "1M".
fn keys_label(n: f64) -> String {
    match n {
        n if n >= 1e6 => format!("{}M", n / 1e6),
        n if n >= 1e3 => format!("{}k", n / 1e3),
        n => format!("{n}"),
    }
}
