//! Bootstrap confidence intervals for the mean of per-image values, as `docs/PROTOCOL.md`
//! ("Significance") asks: every comparison of two methods reports the mean per-image difference
//! with a 95% paired bootstrap interval (10,000 resamples, fixed seed).
//!
//! The method is Efron's percentile bootstrap: draw `n` indices uniformly with replacement,
//! take the mean of the values at them, repeat `resamples` times; the interval is the
//! `(1 - level) / 2` and `(1 + level) / 2` quantiles of those means, interpolated linearly
//! between order statistics (numpy's default `percentile` method). A paired comparison resamples
//! images, not values: the same indices pick both methods' values, which is the bootstrap of the
//! per-image differences `a - b`. Indices come from `ChaCha8Rng::seed_from_u64(seed)`, so a run
//! is reproducible on every platform.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Error, Result};

/// Resamples drawn by default.
pub const DEFAULT_RESAMPLES: usize = 10_000;
/// Coverage of the default interval.
pub const DEFAULT_LEVEL: f64 = 0.95;
/// The default seed of the resampling generator.
pub const DEFAULT_SEED: u64 = 2017;

/// What a report's bootstrap resamples (`ofhnet report --resample`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Resample {
    /// Faces, each independently (PROTOCOL's paired bootstrap over images; the default).
    #[default]
    Images,
    /// Identities (the people): each resample draws as many identities as the values have,
    /// with replacement, and takes every face of each one drawn; its mean is over those faces
    /// (the cluster bootstrap, Davison and Hinkley 1997, Sec. 3.8). The faces of one person
    /// are not independent, so for a claim about new people this is the honest interval;
    /// [`BootstrapPlan::clustered`] draws it.
    Identities,
}

/// How a bootstrap interval is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BootstrapConfig {
    /// Number of resamples (at least 1).
    pub resamples: usize,
    /// Coverage of the interval, in (0, 1).
    pub level: f64,
    /// Seed of the ChaCha8 generator that draws the resamples.
    pub seed: u64,
    /// What a report resamples (the functions of this module over plain values resample
    /// values; [`BootstrapPlan::clustered`] resamples groups).
    pub resample: Resample,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            resamples: DEFAULT_RESAMPLES,
            level: DEFAULT_LEVEL,
            seed: DEFAULT_SEED,
            resample: Resample::Images,
        }
    }
}

/// A mean with its bootstrap interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BootstrapInterval {
    /// The mean of the values (of the differences, for a paired interval).
    pub mean: f64,
    /// Lower end of the percentile interval.
    pub lower: f64,
    /// Upper end of the percentile interval.
    pub upper: f64,
    /// Number of values (of pairs).
    pub n: usize,
}

/// The mean per-image difference `a[i] - b[i]` with its paired bootstrap interval.
///
/// Fails with [`Error::Mismatch`] when the lengths differ and with [`Error::InvalidValue`] on
/// empty input, a non-finite value (named by side and index) or a bad configuration.
pub fn paired_bootstrap(
    a: &[f64],
    b: &[f64],
    config: &BootstrapConfig,
) -> Result<BootstrapInterval> {
    if a.len() != b.len() {
        return Err(Error::Mismatch(format!(
            "paired bootstrap: method a has {} values and method b has {}; pairs need one of each \
             per image",
            a.len(),
            b.len()
        )));
    }
    check_values(a, "paired bootstrap values of method a")?;
    check_values(b, "paired bootstrap values of method b")?;
    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    check_values(&differences, "paired bootstrap differences a - b")?;
    bootstrap_checked(&differences, config)
}

/// The mean of `values` with its bootstrap interval.
///
/// Fails with [`Error::InvalidValue`] on empty input, a non-finite value (named by index) or a
/// bad configuration.
pub fn bootstrap_mean(values: &[f64], config: &BootstrapConfig) -> Result<BootstrapInterval> {
    check_values(values, "bootstrap values")?;
    bootstrap_checked(values, config)
}

fn check_values(values: &[f64], what: &str) -> Result<()> {
    if values.is_empty() {
        return Err(Error::invalid(what, "no values; a mean needs at least one"));
    }
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(
            what,
            format!(
                "value {i} (0-based) is {}; only finite values have a mean (an infinite PSNR \
                 means identical images)",
                values[i]
            ),
        )),
    }
}

fn check_config(config: &BootstrapConfig) -> Result<()> {
    if config.resamples == 0 {
        return Err(Error::invalid("bootstrap resamples", "must be at least 1"));
    }
    if !(config.level > 0.0 && config.level < 1.0) {
        return Err(Error::invalid(
            "bootstrap level",
            format!("must lie strictly between 0 and 1, got {}", config.level),
        ));
    }
    Ok(())
}

fn bootstrap_checked(values: &[f64], config: &BootstrapConfig) -> Result<BootstrapInterval> {
    check_config(config)?;
    let n = values.len();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut means: Vec<f64> = (0..config.resamples)
        .map(|_| (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - config.level) / 2.0;
    Ok(BootstrapInterval {
        mean: values.iter().sum::<f64>() / n as f64,
        lower: quantile_sorted(&means, tail),
        upper: quantile_sorted(&means, 1.0 - tail),
        n,
    })
}

/// Many bootstrap intervals over `n` values each, from one draw of resamples.
///
/// Every interval of [`bootstrap_mean`] with the same `n` and configuration resamples the same
/// indices (the generator restarts from the seed), so a report's cells share them: the plan
/// draws them once, as a count matrix `C` (`resamples x n`, how often resample `r` drew value
/// `j`), and the resample means of every column of values are one matrix product `C V / n`
/// (matrixmultiply's sgemm, column blocks across rayon's threads). Each column is centred on
/// its mean (in f64) before the product, which runs in f32: the counts are small integers,
/// exact in f32, and the centred values lose only f32 rounding, so the intervals equal
/// [`bootstrap_mean`]'s to within about 1e-6 of the values' spread (a report prints at most four
/// decimals). The same order statistics are taken, by selection instead of a full sort. f32
/// halves the product's time against f64 (`ofhnet bench harness`: 1,000 runs' report cells).
pub struct BootstrapPlan {
    n: usize,
    resamples: usize,
    level: f64,
    /// `resamples x n`, row-major.
    counts: Vec<f32>,
    /// Per resample, the number of values it drew (its row sum), where that varies: a
    /// clustered plan's groups may differ in size. `None`: every resample drew `n`.
    drawn: Option<Vec<f64>>,
    /// Distinct groups of a clustered plan (1 per value otherwise).
    groups: usize,
}

impl BootstrapPlan {
    /// Draws the resamples of `config` for `n` values.
    pub fn new(n: usize, config: &BootstrapConfig) -> Result<Self> {
        check_config(config)?;
        if n == 0 {
            return Err(Error::invalid(
                "bootstrap values",
                "no values; a mean needs at least one",
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut counts = vec![0.0f32; config.resamples * n];
        for row in counts.chunks_mut(n) {
            for _ in 0..n {
                row[rng.random_range(0..n)] += 1.0;
            }
        }
        Ok(Self {
            n,
            resamples: config.resamples,
            level: config.level,
            counts,
            drawn: None,
            groups: n,
        })
    }

    /// Draws resamples of the groups of `groups` (one group label per value, such as a face's
    /// identity): each resample draws as many groups as there are distinct labels, uniformly
    /// with replacement, and counts every value of each drawn group; its mean is over the
    /// values it counted. Groups are numbered in ascending label order and drawn with
    /// [`BootstrapPlan::new`]'s generator, so with groups of equal size the intervals are
    /// [`bootstrap_mean`]'s over the group means.
    pub fn clustered(groups: &[i64], config: &BootstrapConfig) -> Result<Self> {
        check_config(config)?;
        let n = groups.len();
        if n == 0 {
            return Err(Error::invalid(
                "bootstrap values",
                "no values; a mean needs at least one",
            ));
        }
        let mut labels: Vec<i64> = groups.to_vec();
        labels.sort_unstable();
        labels.dedup();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); labels.len()];
        for (j, label) in groups.iter().enumerate() {
            // Every label is in `labels`, by construction.
            if let Ok(g) = labels.binary_search(label) {
                members[g].push(j);
            }
        }
        let g_count = labels.len();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut counts = vec![0.0f32; config.resamples * n];
        let mut drawn = Vec::with_capacity(config.resamples);
        for row in counts.chunks_mut(n) {
            let mut total = 0usize;
            for _ in 0..g_count {
                let g = &members[rng.random_range(0..g_count)];
                for &j in g {
                    row[j] += 1.0;
                }
                total += g.len();
            }
            drawn.push(total as f64);
        }
        Ok(Self {
            n,
            resamples: config.resamples,
            level: config.level,
            counts,
            drawn: Some(drawn),
            groups: g_count,
        })
    }

    /// Values per column.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The units resampled: the distinct groups of a clustered plan, else `n`.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The interval of the mean of each column (each `n` finite values); `what` names the
    /// columns in errors.
    pub fn intervals(&self, columns: &[&[f64]], what: &str) -> Result<Vec<BootstrapInterval>> {
        use rayon::prelude::*;
        let (n, r) = (self.n, self.resamples);
        for c in columns {
            if c.len() != n {
                return Err(Error::Mismatch(format!(
                    "{what}: a column of {} values in a plan for {n}",
                    c.len()
                )));
            }
            check_values(c, what)?;
        }
        // Column blocks: each block's resample means are one product of C (r x n) with its
        // columns (n x k, column-major), written column-major (each column's means contiguous).
        const BLOCK: usize = 256;
        let blocks: Vec<&[&[f64]]> = columns.chunks(BLOCK).collect();
        let results: Vec<Vec<BootstrapInterval>> = blocks
            .par_iter()
            .map(|block| {
                let k = block.len();
                let centres: Vec<f64> = block
                    .iter()
                    .map(|c| c.iter().sum::<f64>() / n as f64)
                    .collect();
                let mut v: Vec<f32> = Vec::with_capacity(n * k);
                for (c, centre) in block.iter().zip(&centres) {
                    v.extend(c.iter().map(|x| (x - centre) as f32));
                }
                let mut means = vec![0.0f32; r * k];
                // Each resample's sum is divided by the number of values it drew: `n` inside
                // the product, or per resample afterwards for a clustered plan.
                let alpha = if self.drawn.is_some() {
                    1.0
                } else {
                    1.0 / n as f32
                };
                // SAFETY: `counts` holds r x n values (row stride n, column stride 1), `v` holds
                // n x k (row stride 1, column stride n) and `means` r x k (row stride 1, column
                // stride r); every index sgemm forms lies inside these slices.
                unsafe {
                    matrixmultiply::sgemm(
                        r,
                        n,
                        k,
                        alpha,
                        self.counts.as_ptr(),
                        n as isize,
                        1,
                        v.as_ptr(),
                        1,
                        n as isize,
                        0.0,
                        means.as_mut_ptr(),
                        1,
                        r as isize,
                    );
                }
                let tail = (1.0 - self.level) / 2.0;
                centres
                    .iter()
                    .zip(means.chunks_mut(r))
                    .map(|(&centre, m)| {
                        let mut m: Vec<f64> = match &self.drawn {
                            None => m.iter().map(|&x| centre + f64::from(x)).collect(),
                            Some(drawn) => m
                                .iter()
                                .zip(drawn)
                                .map(|(&x, &d)| centre + f64::from(x) / d)
                                .collect(),
                        };
                        BootstrapInterval {
                            mean: centre,
                            lower: quantile_select(&mut m, tail),
                            upper: quantile_select(&mut m, 1.0 - tail),
                            n,
                        }
                    })
                    .collect()
            })
            .collect();
        Ok(results.into_iter().flatten().collect())
    }
}

/// [`quantile_sorted`]'s value without sorting: the two order statistics around the quantile
/// by selection. Reorders `values`.
fn quantile_select(values: &mut [f64], q: f64) -> f64 {
    let h = (values.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let (_, &mut a, right) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let b = right.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    a + (h - lo as f64) * (b - a)
}

/// The `q` quantile of sorted, non-empty `sorted`, linearly interpolated (numpy's "linear").
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}
