//! The experiments, one file each; [`all`] is the table of contents.

mod aba;
mod backpressure;
mod csp_select;
mod false_sharing;
mod lock_contention;
mod lock_free;

pub mod amdahl;
pub mod blocking_event_loop;
pub mod context_switches;
pub mod coroutine_switch;
pub mod deadlock;
mod fd_limit;
pub mod fork_join_overhead;
pub mod io_multiplexing;
pub mod kitchen_table;
pub mod memory_ordering;
pub mod structured_cancellation;
pub mod thread_per_connection;
pub mod work_stealing;

pub use aba::Aba;
pub use backpressure::Backpressure;
pub use csp_select::CspSelect;
pub use false_sharing::FalseSharing;
pub use lock_contention::LockContention;
pub use lock_free::LockFree;

/// The verdict logic of each experiment, public so it can be read and tested apart
/// from the measurements.
pub mod verdicts {
    pub use super::aba::{
        Figures as AbaFigures, Run as AbaRun, Stress as AbaStress, verdict as aba,
    };
    pub use super::backpressure::{
        Figures as BackpressureFigures, Point as BackpressurePoint, verdict as backpressure,
    };
    pub use super::csp_select::{Figures as CspSelectFigures, verdict as csp_select};
    pub use super::false_sharing::{Figures as FalseSharingFigures, verdict as false_sharing};
    pub use super::lock_contention::{
        Figures as LockContentionFigures, Row as LockContentionRow, Waits,
        verdict as lock_contention,
    };
    pub use super::lock_free::{
        Figures as LockFreeFigures, Kind as LockFreeKind, Row as LockFreeRow, verdict as lock_free,
    };
}

use crate::experiment::Experiment;

/// Every experiment, in tour order.
pub fn all() -> &'static [&'static dyn Experiment] {
    &[
        &FalseSharing,
        &LockContention,
        &context_switches::ContextSwitches,
        &LockFree,
        &Aba,
        &memory_ordering::MemoryOrdering,
        &deadlock::Deadlock,
        &amdahl::Amdahl,
        &Backpressure,
        &CspSelect,
        &work_stealing::WorkStealing,
        &fork_join_overhead::ForkJoinOverhead,
        &io_multiplexing::IoMultiplexing,
        &coroutine_switch::CoroutineSwitch,
        &thread_per_connection::ThreadPerConnection,
        &blocking_event_loop::BlockingEventLoop,
        &structured_cancellation::StructuredCancellation,
        &kitchen_table::KitchenTable,
    ]
}

/// The experiment called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static dyn Experiment> {
    all().iter().copied().find(|e| e.name() == name)
}
