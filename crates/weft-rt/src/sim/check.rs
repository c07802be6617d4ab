//! Running a test body under many seeds, and replaying the one that failed.

use super::Runtime;
use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

/// The environment variable [`check_env`] and [`seed_from_env`] read: a single seed
/// to replay.
const SEED_VAR: &str = "WEFT_SIM_SEED";

/// How a body failed under a seed.
///
/// # Examples
///
/// ```
/// use weft_rt::sim::{self, Cause};
///
/// let failure = sim::check(0..1, |_rt| -> Result<(), ()> { panic!("boom") }).unwrap_err();
/// assert!(matches!(&failure.cause, Cause::Panic(message) if message == "boom"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause<E> {
    /// The body returned this error.
    Error(E),
    /// The body panicked (a deadlock in [`Runtime::block_on`] is one) with this
    /// message (or a placeholder if the payload was not a string).
    Panic(String),
}

/// The first seed under which a [`check`] body failed, with what is needed to replay
/// and compare the run.
///
/// Displays as `failed with seed 1234; rerun with sim::Runtime::new(1234)` and the
/// cause.
///
/// # Examples
///
/// ```
/// use weft_rt::sim;
///
/// let failure = sim::check(10..20, |rt| if rt.seed() == 13 { Err("unlucky") } else { Ok(()) })
///     .unwrap_err();
/// assert_eq!(failure.seed, 13);
/// assert!(failure.to_string().starts_with("failed with seed 13; rerun with sim::Runtime::new(13)"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure<E> {
    /// The seed that failed.
    pub seed: u64,
    /// [`Runtime::trace_hash`] when the body ended: a replay with the seed reaches the
    /// same hash at the same point.
    pub trace_hash: u64,
    /// [`Runtime::steps`] when the body ended.
    pub steps: u64,
    /// What went wrong.
    pub cause: Cause<E>,
}

impl<E> Failure<E> {
    fn headline(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seed = self.seed;
        write!(
            f,
            "failed with seed {seed}; rerun with sim::Runtime::new({seed}) \
             (or {SEED_VAR}={seed} with sim::check_env): "
        )
    }
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.headline(f)?;
        match &self.cause {
            Cause::Error(error) => write!(f, "{error}"),
            Cause::Panic(message) => write!(f, "panicked: {message}"),
        }
    }
}

/// The line `check` prints: the headline, and the cause with `Debug` (which every
/// error type has, `Display` or not).
struct Report<'a, E>(&'a Failure<E>);

impl<E: fmt::Debug> fmt::Display for Report<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.headline(f)?;
        match &self.0.cause {
            Cause::Error(error) => write!(f, "{error:?}"),
            Cause::Panic(message) => write!(f, "panicked: {message}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for Failure<E> {}

/// Runs `body` under a fresh [`Runtime`] for each seed of `seeds` (a range such as
/// `0..1000`, or a list of seeds to replay), in order, and
/// stops at the first seed for which it returns `Err` or panics. The failure is
/// printed to stderr (so a test that just unwraps still shows the seed) and
/// returned.
///
/// # Errors
///
/// The first [`Failure`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_rt::sim;
///
/// sim::check(0..50, |rt| {
///     let woke_after = rt.block_on(async {
///         let start = weft_rt::time::now();
///         weft_rt::time::sleep(Duration::from_secs(1)).await;
///         weft_rt::time::now() - start
///     });
///     if woke_after == Duration::from_secs(1) { Ok(()) } else { Err(woke_after) }
/// })
/// .unwrap();
/// ```
pub fn check<S, E, F>(seeds: S, mut body: F) -> Result<(), Failure<E>>
where
    S: IntoIterator<Item = u64>,
    E: fmt::Debug,
    F: FnMut(&Runtime) -> Result<(), E>,
{
    for seed in seeds {
        let runtime = Runtime::new(seed);
        let cause = match panic::catch_unwind(AssertUnwindSafe(|| body(&runtime))) {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => Cause::Error(error),
            Err(payload) => Cause::Panic(panic_message(payload.as_ref())),
        };
        let failure = Failure {
            seed,
            trace_hash: runtime.trace_hash(),
            steps: runtime.steps(),
            cause,
        };
        eprintln!("weft-rt sim: {}", Report(&failure));
        return Err(failure);
    }
    Ok(())
}

/// [`check`], or a replay: only the seed in `WEFT_SIM_SEED` when it is set (to
/// replay a failure from the command line, see [`seed_from_env`]), else every seed of
/// `seeds`.
///
/// # Errors
///
/// The first [`Failure`].
///
/// # Panics
///
/// If `WEFT_SIM_SEED` is set but is not a `u64`, with a message that says so (call
/// [`seed_from_env`] and [`check`] to get that as an error).
///
/// # Examples
///
/// ```
/// use weft_rt::sim;
///
/// // `WEFT_SIM_SEED=17 cargo test` runs this body under seed 17 only.
/// sim::check_env(0..20, |rt| {
///     let value = rt.block_on(async { weft_rt::spawn(async { 3 }).await.unwrap() });
///     if value == 3 { Ok(()) } else { Err(value) }
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn check_env<S, E, F>(seeds: S, body: F) -> Result<(), Failure<E>>
where
    S: IntoIterator<Item = u64>,
    E: fmt::Debug,
    F: FnMut(&Runtime) -> Result<(), E>,
{
    match seed_from_env() {
        Ok(Some(seed)) => check([seed], body),
        Ok(None) => check(seeds, body),
        Err(error) => panic!("weft-rt sim: {error}"),
    }
}

/// The seed in `WEFT_SIM_SEED`, if it is set.
///
/// # Errors
///
/// [`SeedVarError`] if the variable is set but is not a decimal `u64` (or not
/// Unicode).
///
/// # Examples
///
/// ```
/// use weft_rt::sim;
///
/// let replay = sim::seed_from_env().unwrap();
/// let result = match replay {
///     Some(seed) => sim::check([seed], |_rt| Ok::<(), String>(())),
///     None => sim::check(0..10, |_rt| Ok::<(), String>(())),
/// };
/// assert!(result.is_ok());
/// ```
pub fn seed_from_env() -> Result<Option<u64>, SeedVarError> {
    match std::env::var(SEED_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(SeedVarError {
            value: value.to_string_lossy().into_owned(),
        }),
        Ok(value) => parse_seed(&value).map(Some),
    }
}

fn parse_seed(value: &str) -> Result<u64, SeedVarError> {
    value.trim().parse::<u64>().map_err(|_| SeedVarError {
        value: value.to_owned(),
    })
}

/// `WEFT_SIM_SEED` is set to something that is not a seed.
///
/// # Examples
///
/// ```
/// fn explain(error: &weft_rt::sim::SeedVarError) -> String {
///     format!("bad seed {:?}: {error}", error.value())
/// }
/// # let _ = explain;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedVarError {
    value: String,
}

impl SeedVarError {
    /// The variable's value (lossily decoded).
    ///
    /// # Examples
    ///
    /// ```
    /// fn value(error: &weft_rt::sim::SeedVarError) -> &str {
    ///     error.value()
    /// }
    /// # let _ = value;
    /// ```
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for SeedVarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SEED_VAR}={:?} is not a seed (a decimal u64 such as {SEED_VAR}=1234)",
            self.value
        )
    }
}

impl std::error::Error for SeedVarError {}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "(a panic payload that is not a string)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_parses_and_garbage_is_an_error() {
        assert_eq!(parse_seed("1234"), Ok(1234));
        assert_eq!(parse_seed(" 7\n"), Ok(7));
        assert_eq!(parse_seed("18446744073709551615"), Ok(u64::MAX));
        let error = parse_seed("abc").unwrap_err();
        assert_eq!(error.value(), "abc");
        assert!(error.to_string().contains("WEFT_SIM_SEED=\"abc\""));
    }
}
