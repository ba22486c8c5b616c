//! Latency samples with bounded memory, and their percentiles.

use std::time::Duration;

/// Latency samples in nanoseconds. Past `cap` samples it keeps every other one and from then
/// on records every second (then fourth, …) value, so memory stays bounded and the kept
/// samples stay spread evenly over the run.
#[derive(Debug, Clone)]
pub struct Samples {
    kept: Vec<u64>,
    cap: usize,
    stride: u64,
    seen: u64,
}

impl Samples {
    /// Keeps at most about `cap` samples (at least 2).
    pub fn new(cap: usize) -> Self {
        Samples {
            kept: Vec::new(),
            cap: cap.max(2),
            stride: 1,
            seen: 0,
        }
    }

    /// Records one latency.
    pub fn record(&mut self, d: Duration) {
        let n = self.seen;
        self.seen += 1;
        if n % self.stride != 0 {
            return;
        }
        if self.kept.len() >= self.cap {
            let mut i = 0;
            self.kept.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride *= 2;
            if n % self.stride != 0 {
                return;
            }
        }
        self.kept
            .push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// How many latencies were recorded (kept or not).
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Adds another set's kept samples.
    pub fn merge(&mut self, other: Samples) {
        self.seen += other.seen;
        self.kept.extend(other.kept);
    }

    /// The percentiles of what was kept.
    pub fn summary(mut self) -> Summary {
        self.kept.sort_unstable();
        let at = |p: f64| -> f64 {
            if self.kept.is_empty() {
                return 0.0;
            }
            // nearest rank
            let rank = ((p / 100.0) * self.kept.len() as f64).ceil() as usize;
            self.kept[rank.clamp(1, self.kept.len()) - 1] as f64 / 1_000.0
        };
        Summary {
            p50_us: at(50.0),
            p99_us: at(99.0),
            max_us: self.kept.last().map_or(0.0, |&v| v as f64 / 1_000.0),
            samples: self.kept.len(),
        }
    }
}

/// Percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest kept sample.
    pub max_us: f64,
    /// Samples kept.
    pub samples: usize,
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Rounds to three significant digits, for readable JSON.
pub fn sig3(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let mag = x.abs().log10().floor() as i32;
    let scale = 10f64.powi(2 - mag);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut s = Samples::new(1000);
        for us in 1..=100 {
            s.record(Duration::from_micros(us));
        }
        let sum = s.summary();
        assert_eq!(sum.p50_us, 50.0);
        assert_eq!(sum.p99_us, 99.0);
        assert_eq!(sum.max_us, 100.0);
        assert_eq!(sum.samples, 100);
    }

    #[test]
    fn bounded_and_evenly_spread() {
        let mut s = Samples::new(64);
        for us in 0..10_000 {
            s.record(Duration::from_micros(us));
        }
        assert_eq!(s.seen(), 10_000);
        assert!(s.kept.len() <= 64, "{}", s.kept.len());
        let sum = s.summary();
        assert!((4_000.0..6_000.0).contains(&sum.p50_us), "{sum:?}");
    }

    #[test]
    fn merge_and_empty() {
        let mut a = Samples::new(10);
        a.record(Duration::from_micros(3));
        let mut b = Samples::new(10);
        b.record(Duration::from_micros(1));
        a.merge(b);
        assert_eq!(a.seen(), 2);
        assert_eq!(a.summary().p50_us, 1.0);
        assert_eq!(Samples::new(4).summary().p99_us, 0.0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(sig3(123_456.0), 123_000.0);
        assert_eq!(sig3(0.012345), 0.0123);
    }
}
