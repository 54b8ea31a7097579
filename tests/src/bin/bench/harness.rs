//! The measuring side of `cargo xtask bench`: repetition, medians, the table and the JSON.

use std::time::{Duration, Instant};

use serde::Serialize;

/// The error type of a scenario: whatever went wrong, as text for the operator.
pub(crate) type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// One figure of a scenario, ours beside the baseline measured in the same run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Measurement {
    pub(crate) scenario: &'static str,
    pub(crate) metric: String,
    pub(crate) unit: &'static str,
    pub(crate) ours: f64,
    pub(crate) baseline: f64,
    /// `ours / baseline`; for figures [`from_rounds`], the median of the rounds' ratios.
    pub(crate) ratio: f64,
    /// For figures [`from_rounds`]: the interquartile range of the rounds' ratios.
    pub(crate) ratio_iqr: Option<(f64, f64)>,
    pub(crate) higher_is_better: bool,
}

impl Measurement {
    pub(crate) fn new(
        scenario: &'static str,
        metric: impl Into<String>,
        unit: &'static str,
        ours: f64,
        baseline: f64,
        higher_is_better: bool,
    ) -> Self {
        let ratio = if baseline == 0.0 {
            f64::NAN
        } else {
            ours / baseline
        };
        Measurement {
            scenario,
            metric: metric.into(),
            unit,
            ours,
            baseline,
            ratio,
            ratio_iqr: None,
            higher_is_better,
        }
    }
}

/// A figure measured in rounds: the medians of ours and of the baseline, and the median
/// and interquartile range of `ratios`, one per round, each comparing ours with the
/// baseline measured right beside it (so that drift of the machine between rounds does
/// not skew it).
pub(crate) fn from_rounds(
    scenario: &'static str,
    metric: impl Into<String>,
    unit: &'static str,
    ours: &[f64],
    baseline: &[f64],
    mut ratios: Vec<f64>,
    higher_is_better: bool,
) -> Measurement {
    let mut measurement = Measurement::new(
        scenario,
        metric,
        unit,
        median(&mut ours.to_vec()),
        median(&mut baseline.to_vec()),
        higher_is_better,
    );
    measurement.ratio = median(&mut ratios);
    measurement.ratio_iqr = Some((quantile(&ratios, 0.25), quantile(&ratios, 0.75)));
    measurement
}

/// A named benchmark scenario.
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) run: fn() -> Result<Vec<Measurement>, BenchError>,
}

/// Runs `ours` and `baseline` alternately `rounds` times (so drift of the machine hits both
/// alike) and returns the two medians.
pub(crate) fn alternate_medians(
    rounds: usize,
    mut ours: impl FnMut() -> Result<f64, BenchError>,
    mut baseline: impl FnMut() -> Result<f64, BenchError>,
) -> Result<(f64, f64), BenchError> {
    let mut a = Vec::with_capacity(rounds);
    let mut b = Vec::with_capacity(rounds);
    for round in 0..rounds {
        if round % 2 == 0 {
            a.push(ours()?);
            b.push(baseline()?);
        } else {
            b.push(baseline()?);
            a.push(ours()?);
        }
    }
    Ok((median(&mut a), median(&mut b)))
}

/// The median of `values` (the mean of the middle two for an even count).
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The value at quantile `q` (0.0..=1.0) of sorted `values`.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Events per second of `count` events over `elapsed`.
pub(crate) fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Times `f`, returning its result and how long it took.
pub(crate) fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Prints the table that people read.
pub(crate) fn print_table(results: &[Measurement]) {
    println!(
        "{:<22} {:<34} {:>14} {:>14} {:>7} {:>13}  unit",
        "scenario", "metric", "ours", "baseline", "ratio", "ratio IQR"
    );
    for m in results {
        let better = if m.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        };
        let range = match m.ratio_iqr {
            Some((low, high)) => format!("{low:.3}-{high:.3}"),
            None => String::new(),
        };
        println!(
            "{:<22} {:<34} {:>14} {:>14} {:>7.3} {:>13}  {} ({better})",
            m.scenario,
            m.metric,
            human(m.ours),
            human(m.baseline),
            m.ratio,
            range,
            m.unit
        );
    }
}

fn human(value: f64) -> String {
    let abs = value.abs();
    if abs >= 1e9 {
        format!("{:.2}G", value / 1e9)
    } else if abs >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if abs >= 1e4 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.1}")
    }
}

/// The listening socket of the bare baselines: 127.0.0.1, a port chosen by the OS,
/// `SO_REUSEADDR` and the backlog `tcp-server` uses, as our servers have; and its address.
/// Needs a tokio runtime.
pub(crate) fn bare_listener() -> std::io::Result<(tokio::net::TcpListener, std::net::SocketAddr)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let listener = socket.listen(camlnet_tcp_server::DEFAULT_BACKLOG)?;
    let address = listener.local_addr()?;
    Ok((listener, address))
}
