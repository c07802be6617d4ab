//! The machine the lab ran on (sockets, cores, hardware threads, caches, NUMA nodes,
//! the OS), read from Linux's sysfs and procfs; and how noisy the measurements were.
//!
//! Every figure of the lab depends on the machine, so every report opens with it. The
//! notes' "Socket, Processor and Core" section names the layers: a socket holds one
//! or more processors, a processor one or more cores, and a core usually one or two
//! hardware threads. Linux describes them under `/sys/devices/system/cpu`: each
//! `cpuN/topology/` gives the socket (`physical_package_id`) and the core (`core_id`)
//! that hardware thread N belongs to, and each `cpuN/cache/indexM/` one cache level
//! with the hardware threads sharing it (`shared_cpu_list`).
//!
//! [`Machine::read`] takes the root of the file system to read, so tests can point it
//! at a fabricated tree. A file that is missing or unreadable leaves its figure
//! unknown (`None`); nothing here panics on what the kernel does or doesn't expose.

use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::Path;
use weft_bench::Results;

/// What the lab could learn about this machine. `None` means unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// The processor's model name, from `/proc/cpuinfo`.
    pub model: Option<String>,
    /// Physical packages (sockets) with at least one online hardware thread.
    pub sockets: Option<usize>,
    /// Physical cores: distinct (socket, core) pairs.
    pub cores: Option<usize>,
    /// Hardware threads the kernel has online (what `nproc` counts without affinity).
    pub hardware_threads: Option<usize>,
    /// The caches of one core's hardware thread, from L1 outwards.
    pub caches: Vec<Cache>,
    /// NUMA nodes, from `/sys/devices/system/node`.
    pub numa_nodes: Option<usize>,
    /// The kernel: `ostype` and `osrelease`, as `uname -sr` prints them.
    pub os: Option<String>,
    /// The instruction set this binary was built for.
    pub arch: String,
    /// The hardware threads this process may run on (its affinity mask), which the
    /// experiments' defaults are computed from.
    pub available_parallelism: usize,
}

/// One level of cache, as seen from the first hardware thread that has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cache {
    /// 1 for L1, 2 for L2, ...
    pub level: u8,
    /// Data, instructions, or both.
    pub kind: CacheKind,
    /// Size of one instance, in bytes.
    pub size_bytes: Option<u64>,
    /// The coherency line size, in bytes: the unit that false sharing bounces.
    pub line_bytes: Option<u64>,
    /// Hardware threads sharing one instance.
    pub shared_by: Option<usize>,
    /// Instances on the machine (distinct sets of hardware threads sharing one).
    pub instances: Option<usize>,
}

/// What a cache holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheKind {
    /// Data only (`L1d`).
    Data,
    /// Instructions only (`L1i`).
    Instruction,
    /// Both (`L2`, `L3`).
    Unified,
}

impl Cache {
    /// The usual short name: `L1d`, `L1i`, `L2`, `L3`.
    pub fn name(&self) -> String {
        let suffix = match self.kind {
            CacheKind::Data => "d",
            CacheKind::Instruction => "i",
            CacheKind::Unified => "",
        };
        format!("L{}{suffix}", self.level)
    }

    /// The size and how it is shared, e.g. `48 KiB per core` or `32 MiB shared by 8`.
    pub fn describe(&self) -> String {
        let size = self
            .size_bytes
            .map_or_else(|| "unknown".to_string(), format_bytes);
        match self.shared_by {
            Some(1) => format!("{size} per hardware thread"),
            Some(n) => format!("{size} shared by {n}"),
            None => size,
        }
    }
}

/// `49152` as `48 KiB`, `2097152` as `2 MiB`; binary prefixes, as caches are sized.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl Machine {
    /// This machine, read from `/sys` and `/proc`.
    pub fn detect() -> Self {
        Self::read(Path::new("/"))
    }

    /// The machine described by the `sys/` and `proc/` directories under `root`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lab::machine::Machine;
    ///
    /// // A root with nothing under it: everything unknown, nothing panics.
    /// let machine = Machine::read(std::path::Path::new("/nonexistent"));
    /// assert_eq!(machine.cores, None);
    /// assert!(machine.to_string().contains("unknown"));
    /// ```
    pub fn read(root: &Path) -> Self {
        let cpu_root = root.join("sys/devices/system/cpu");
        let cpus = list_cpus(&cpu_root);

        let mut packages = BTreeSet::new();
        let mut cores = BTreeSet::new();
        for &cpu in &cpus {
            let topology = cpu_root.join(format!("cpu{cpu}/topology"));
            let package = read_number(&topology.join("physical_package_id"));
            let core = read_number(&topology.join("core_id"));
            if let (Some(package), Some(core)) = (package, core) {
                packages.insert(package);
                cores.insert((package, core));
            }
        }
        let online = read_trimmed(&cpu_root.join("online")).and_then(|l| parse_cpu_list(&l));
        let hardware_threads = match online {
            Some(list) => Some(list.len()),
            None if !cpus.is_empty() => Some(cpus.len()),
            None => None,
        };

        Machine {
            model: read_model(&root.join("proc/cpuinfo")),
            sockets: (!packages.is_empty()).then_some(packages.len()),
            cores: (!cores.is_empty()).then_some(cores.len()),
            hardware_threads,
            caches: read_caches(&cpu_root, &cpus),
            numa_nodes: count_numa_nodes(&root.join("sys/devices/system/node")),
            os: read_os(&root.join("proc/sys/kernel")),
            arch: std::env::consts::ARCH.to_string(),
            available_parallelism: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// The cache line size: the L1 data cache's, else any cache's.
    pub fn line_bytes(&self) -> Option<u64> {
        let l1d = self
            .caches
            .iter()
            .find(|c| c.level == 1 && c.kind == CacheKind::Data);
        l1d.into_iter()
            .chain(&self.caches)
            .find_map(|c| c.line_bytes)
    }

    /// Hardware threads per core, when both are known and it divides evenly.
    pub fn threads_per_core(&self) -> Option<usize> {
        let (threads, cores) = (self.hardware_threads?, self.cores?);
        (cores > 0 && threads % cores == 0).then(|| threads / cores)
    }

    /// A cache's size and who shares it, in the machine's terms: `48 KiB per core`,
    /// `32 MiB shared by all 8`, `1 MiB shared by 4`.
    pub fn describe_cache(&self, cache: &Cache) -> String {
        let size = cache
            .size_bytes
            .map_or_else(|| "unknown".to_string(), format_bytes);
        match cache.shared_by {
            Some(n) if Some(n) == self.threads_per_core() => format!("{size} per core"),
            Some(1) => format!("{size} per hardware thread"),
            Some(n) if Some(n) == self.hardware_threads => format!("{size} shared by all {n}"),
            Some(n) => format!("{size} shared by {n}"),
            None => size,
        }
    }

    fn caches_text(&self) -> String {
        if self.caches.is_empty() {
            return "unknown".to_string();
        }
        let caches: Vec<String> = self
            .caches
            .iter()
            .map(|c| format!("{} {}", c.name(), self.describe_cache(c)))
            .collect();
        caches.join(", ")
    }

    /// The facts as (label, value) pairs, in reading order, for tables.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let known = |n: Option<usize>| n.map_or_else(|| "unknown".to_string(), |n| n.to_string());
        let mut threads = known(self.hardware_threads);
        if let Some(per_core) = self.threads_per_core() {
            threads.push_str(&format!(" ({per_core} per core)"));
        }
        let caches = self.caches_text();
        vec![
            (
                "processor",
                self.model.clone().unwrap_or_else(|| "unknown".into()),
            ),
            ("sockets", known(self.sockets)),
            ("cores", known(self.cores)),
            ("hardware threads", threads),
            (
                "available to weft-lab",
                self.available_parallelism.to_string(),
            ),
            ("caches", caches),
            (
                "cache line",
                self.line_bytes()
                    .map_or_else(|| "unknown".into(), |b| format!("{b} bytes")),
            ),
            ("NUMA nodes", known(self.numa_nodes)),
            (
                "OS",
                format!(
                    "{} ({})",
                    self.os.as_deref().unwrap_or("unknown"),
                    self.arch
                ),
            ),
        ]
    }
}

impl fmt::Display for Machine {
    /// Three lines for a terminal header.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = |n: Option<usize>| n.map_or_else(|| "unknown".to_string(), |n| n.to_string());
        let plural = |n: Option<usize>, word: &str| match n {
            Some(1) => format!("1 {word}"),
            n => format!("{} {word}s", known(n)),
        };
        write!(
            f,
            "machine: {}; {}, {}, {}",
            self.model.as_deref().unwrap_or("unknown processor"),
            plural(self.sockets, "socket"),
            plural(self.cores, "core"),
            plural(self.hardware_threads, "hardware thread"),
        )?;
        if let Some(per_core) = self.threads_per_core() {
            write!(f, " ({per_core} per core)")?;
        }
        writeln!(f, ", {}", plural(self.numa_nodes, "NUMA node"))?;
        let line = self
            .line_bytes()
            .map_or_else(|| "unknown".into(), |b| format!("{b}-byte"));
        writeln!(f, "caches:  {}; {line} lines", self.caches_text())?;
        write!(
            f,
            "os:      {} ({}); {} available to this process",
            self.os.as_deref().unwrap_or("unknown"),
            self.arch,
            plural(Some(self.available_parallelism), "hardware thread")
        )
    }
}

/// The numbers N of the `cpuN` directories, ascending.
fn list_cpus(cpu_root: &Path) -> Vec<usize> {
    let Ok(entries) = fs::read_dir(cpu_root) else {
        return Vec::new();
    };
    let mut cpus: Vec<usize> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name();
            name.to_str()?.strip_prefix("cpu")?.parse().ok()
        })
        .collect();
    cpus.sort_unstable();
    cpus
}

fn read_trimmed(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn read_number(path: &Path) -> Option<u64> {
    read_trimmed(path)?.parse().ok()
}

/// Parses the kernel's CPU list format (`0-3,8,10-11`) into the listed numbers.
pub fn parse_cpu_list(list: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((low, high)) => {
                let (low, high): (usize, usize) =
                    (low.trim().parse().ok()?, high.trim().parse().ok()?);
                if high < low {
                    return None;
                }
                cpus.extend(low..=high);
            }
            None => cpus.push(part.trim().parse().ok()?),
        }
    }
    Some(cpus)
}

/// Parses a sysfs cache size (`48K`, `2048K`, `1M`, `512`) into bytes.
pub fn parse_size(size: &str) -> Option<u64> {
    let size = size.trim();
    let (digits, multiplier) = match size.chars().last()? {
        'K' | 'k' => (&size[..size.len() - 1], 1 << 10),
        'M' | 'm' => (&size[..size.len() - 1], 1 << 20),
        'G' | 'g' => (&size[..size.len() - 1], 1 << 30),
        _ => (size, 1),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(multiplier)
}

fn read_caches(cpu_root: &Path, cpus: &[usize]) -> Vec<Cache> {
    struct Seen {
        cache: Cache,
        sharing: BTreeSet<String>,
    }
    let mut seen: Vec<Seen> = Vec::new();
    for &cpu in cpus {
        let Ok(entries) = fs::read_dir(cpu_root.join(format!("cpu{cpu}/cache"))) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            if !name.to_str().is_some_and(|n| n.starts_with("index")) {
                continue;
            }
            let dir = entry.path();
            let Some(level) = read_number(&dir.join("level")).and_then(|l| u8::try_from(l).ok())
            else {
                continue;
            };
            let kind = match read_trimmed(&dir.join("type")).as_deref() {
                Some("Data") => CacheKind::Data,
                Some("Instruction") => CacheKind::Instruction,
                Some("Unified") => CacheKind::Unified,
                _ => continue,
            };
            let shared = read_trimmed(&dir.join("shared_cpu_list"));
            match seen
                .iter_mut()
                .find(|s| s.cache.level == level && s.cache.kind == kind)
            {
                Some(s) => {
                    if let Some(shared) = shared {
                        s.sharing.insert(shared);
                    }
                }
                None => {
                    let shared_by = shared.as_deref().and_then(parse_cpu_list).map(|l| l.len());
                    seen.push(Seen {
                        cache: Cache {
                            level,
                            kind,
                            size_bytes: read_trimmed(&dir.join("size"))
                                .and_then(|s| parse_size(&s)),
                            line_bytes: read_number(&dir.join("coherency_line_size")),
                            shared_by,
                            instances: None,
                        },
                        sharing: shared.into_iter().collect(),
                    });
                }
            }
        }
    }
    let mut caches: Vec<Cache> = seen
        .into_iter()
        .map(|s| Cache {
            instances: (!s.sharing.is_empty()).then_some(s.sharing.len()),
            ..s.cache
        })
        .collect();
    caches.sort_by_key(|c| (c.level, c.kind));
    caches
}

/// The `node*` directories, or `None` where the kernel has no NUMA directory at all.
fn count_numa_nodes(node_root: &Path) -> Option<usize> {
    let entries = fs::read_dir(node_root).ok()?;
    let nodes = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("node"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    (nodes > 0).then_some(nodes)
}

/// The first model-like line of `/proc/cpuinfo`: x86's `model name`, or what other
/// architectures print instead.
fn read_model(cpuinfo: &Path) -> Option<String> {
    let text = fs::read_to_string(cpuinfo).ok()?;
    for key in [
        "model name",
        "Processor",
        "cpu model",
        "Hardware",
        "cpu",
        "uarch",
    ] {
        for line in text.lines() {
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.trim() == key && !value.is_empty() {
                    return Some(value.to_string());
                }
            }
        }
    }
    None
}

fn read_os(kernel: &Path) -> Option<String> {
    let release = read_trimmed(&kernel.join("osrelease"))?;
    let ostype = read_trimmed(&kernel.join("ostype")).unwrap_or_else(|| "Linux".into());
    Some(format!("{ostype} {release}"))
}

/// How much the repeats of each measurement disagreed, over a whole run.
///
/// The spread of one contender is its interquartile range over its median,
/// `(q3 − q1) / median`; the run's is the worst of them. On a quiet machine repeats
/// agree within a few percent; a neighbour's burst or a frequency change shows as a
/// wide spread, and then small differences in the figures mean little.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Noise {
    /// Quiet, noisy, or too few repeats to tell.
    pub level: NoiseLevel,
    /// The worst relative spread, if any contender had samples.
    pub worst_spread: Option<f64>,
    /// Where it was: `comparison: contender`.
    pub worst_at: Option<String>,
}

/// The verdict on a run's noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseLevel {
    /// Every contender's repeats within [`QUIET_SPREAD`] of its median.
    Quiet,
    /// Some contender's repeats spread wider than that.
    Noisy,
    /// Fewer than three repeats somewhere, or nothing measured.
    Unknown,
}

/// The widest relative spread a quiet run may have.
pub const QUIET_SPREAD: f64 = 0.10;

/// Repeats below this leave the quartiles too close to the extremes to mean much.
const MIN_ROUNDS: usize = 3;

impl NoiseLevel {
    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            NoiseLevel::Quiet => "quiet",
            NoiseLevel::Noisy => "noisy",
            NoiseLevel::Unknown => "unknown",
        }
    }
}

impl Noise {
    /// The noise of every contender of every comparison.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_bench::Comparison;
    /// use weft_lab::machine::{Noise, NoiseLevel};
    ///
    /// assert_eq!(Noise::of(&[]).level, NoiseLevel::Unknown);
    /// let once = Comparison::latency("noop").rounds(1).contender("x", || {}).run();
    /// assert_eq!(Noise::of(&[&once]).level, NoiseLevel::Unknown); // one repeat
    /// ```
    pub fn of(comparisons: &[&Results]) -> Self {
        let mut worst: Option<(f64, String)> = None;
        let mut too_few = comparisons.is_empty();
        for results in comparisons {
            for contender in &results.contenders {
                too_few |= contender.samples.len() < MIN_ROUNDS;
                let spread = contender.summary.relative_spread();
                if worst.as_ref().is_none_or(|(w, _)| spread > *w) {
                    worst = Some((spread, format!("{}: {}", results.name, contender.name)));
                }
            }
        }
        let level = match &worst {
            Some((spread, _)) if *spread > QUIET_SPREAD => NoiseLevel::Noisy,
            _ if too_few => NoiseLevel::Unknown,
            Some(_) => NoiseLevel::Quiet,
            None => NoiseLevel::Unknown,
        };
        let (worst_spread, worst_at) = worst.map_or((None, None), |(s, at)| (Some(s), Some(at)));
        Noise {
            level,
            worst_spread,
            worst_at,
        }
    }
}

impl fmt::Display for Noise {
    /// One sentence: `quiet: repeats agreed within 4% (worst: ...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let worst = match (self.worst_spread, &self.worst_at) {
            (Some(spread), Some(at)) => format!(
                "the worst spread of repeats, (q3 − q1) / median, was {:.1}% ({at})",
                spread * 100.0
            ),
            _ => "nothing was measured".to_string(),
        };
        match self.level {
            NoiseLevel::Quiet => write!(f, "quiet: {worst}"),
            NoiseLevel::Noisy => write!(
                f,
                "noisy: {worst}, above {:.0}%; small differences may be noise",
                QUIET_SPREAD * 100.0
            ),
            NoiseLevel::Unknown => write!(
                f,
                "unknown: too few repeats to judge (use {MIN_ROUNDS} rounds or more); {worst}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use weft_bench::stats::Summary;
    use weft_bench::{ContenderResults, Metric, Sample};

    /// A scratch directory, removed when dropped.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("weft-lab-machine-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Tree(dir)
        }

        fn file(&self, path: &str, contents: &str) -> &Self {
            let path = self.0.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
            self
        }

        fn cpu(&self, cpu: usize, package: u64, core: u64) -> &Self {
            let topology = format!("sys/devices/system/cpu/cpu{cpu}/topology");
            self.file(
                &format!("{topology}/physical_package_id"),
                &format!("{package}\n"),
            )
            .file(&format!("{topology}/core_id"), &format!("{core}\n"))
        }

        fn cache(&self, cpu: usize, index: usize, level: u8, kind: &str, size: &str, shared: &str) {
            let dir = format!("sys/devices/system/cpu/cpu{cpu}/cache/index{index}");
            self.file(&format!("{dir}/level"), &format!("{level}\n"))
                .file(&format!("{dir}/type"), &format!("{kind}\n"))
                .file(&format!("{dir}/size"), &format!("{size}\n"))
                .file(&format!("{dir}/coherency_line_size"), "64\n")
                .file(&format!("{dir}/shared_cpu_list"), &format!("{shared}\n"));
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn two_sockets_of_two_smt_cores_with_shared_l3() {
        // cpu0/cpu1 are the two threads of socket 0's core 0, cpu2/cpu3 of core 1;
        // cpu4..7 the same on socket 1, whose core ids restart at 0.
        let tree = Tree::new("two-sockets");
        for cpu in 0..8 {
            let package = (cpu / 4) as u64;
            let core = ((cpu % 4) / 2) as u64;
            tree.cpu(cpu, package, core);
            let pair = format!("{}-{}", cpu / 2 * 2, cpu / 2 * 2 + 1);
            let socket = if cpu < 4 { "0-3" } else { "4-7" };
            tree.cache(cpu, 0, 1, "Data", "32K", &pair);
            tree.cache(cpu, 1, 1, "Instruction", "32K", &pair);
            tree.cache(cpu, 2, 2, "Unified", "1024K", &pair);
            tree.cache(cpu, 3, 3, "Unified", "16M", socket);
        }
        tree.file("sys/devices/system/cpu/online", "0-7\n")
            .file("sys/devices/system/node/node0/cpulist", "0-3\n")
            .file("sys/devices/system/node/node1/cpulist", "4-7\n")
            .file("sys/devices/system/node/online", "0-1\n")
            .file(
                "proc/cpuinfo",
                "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Fabricated CPU @ 3.00GHz\n\n\
                 processor\t: 1\nmodel name\t: Fabricated CPU @ 3.00GHz\n",
            )
            .file("proc/sys/kernel/ostype", "Linux\n")
            .file("proc/sys/kernel/osrelease", "6.1.0-test\n");

        let m = Machine::read(&tree.0);
        assert_eq!(m.model.as_deref(), Some("Fabricated CPU @ 3.00GHz"));
        assert_eq!(m.sockets, Some(2));
        assert_eq!(m.cores, Some(4));
        assert_eq!(m.hardware_threads, Some(8));
        assert_eq!(m.threads_per_core(), Some(2));
        assert_eq!(m.numa_nodes, Some(2));
        assert_eq!(m.os.as_deref(), Some("Linux 6.1.0-test"));
        assert_eq!(m.line_bytes(), Some(64));
        let names: Vec<String> = m.caches.iter().map(Cache::name).collect();
        assert_eq!(names, ["L1d", "L1i", "L2", "L3"]);
        let l3 = &m.caches[3];
        assert_eq!(l3.size_bytes, Some(16 << 20));
        assert_eq!((l3.shared_by, l3.instances), (Some(4), Some(2)));
        assert_eq!(m.caches[0].describe(), "32 KiB shared by 2");
        assert_eq!(m.describe_cache(&m.caches[0]), "32 KiB per core");
        let all = Cache {
            shared_by: Some(8),
            ..l3.clone()
        };
        assert_eq!(m.describe_cache(&all), "16 MiB shared by all 8");
        assert_eq!(m.caches[2].instances, Some(4));

        let text = m.to_string();
        assert!(text.contains("2 sockets, 4 cores, 8 hardware threads (2 per core), 2 NUMA nodes"));
        assert!(
            text.contains("L3 16 MiB shared by 4; 64-byte lines"),
            "{text}"
        );
        assert!(
            text.contains("caches:  L1d 32 KiB per core, L1i 32 KiB per core"),
            "{text}"
        );
        assert!(text.contains("Linux 6.1.0-test"));
    }

    #[test]
    fn a_bare_tree_leaves_everything_unknown() {
        let tree = Tree::new("bare");
        let m = Machine::read(&tree.0);
        assert_eq!(
            (
                m.model,
                m.sockets,
                m.cores,
                m.hardware_threads,
                m.numa_nodes,
                m.os
            ),
            (None, None, None, None, None, None)
        );
        assert!(m.caches.is_empty());
        let m = Machine::read(&tree.0);
        assert!(m.to_string().contains("unknown processor; unknown sockets"));
        assert!(
            m.facts()
                .iter()
                .any(|(k, v)| *k == "caches" && v == "unknown")
        );
    }

    #[test]
    fn garbage_and_partial_files_degrade_to_unknown() {
        let tree = Tree::new("garbage");
        tree.file("sys/devices/system/cpu/cpu0/topology/core_id", "zero\n")
            .file(
                "sys/devices/system/cpu/cpu0/topology/physical_package_id",
                "0\n",
            )
            .file("sys/devices/system/cpu/cpu1/topology/core_id", "1\n")
            .file("sys/devices/system/cpu/online", "3-1\n")
            .file("sys/devices/system/cpu/cpu0/cache/index0/level", "1\n")
            .file("sys/devices/system/cpu/cpu0/cache/index0/type", "Data\n")
            .file("sys/devices/system/cpu/cpu0/cache/index1/level", "x\n")
            .file("sys/devices/system/cpu/cpufreq/policy0", "")
            .file("proc/cpuinfo", "processor : 0\nmodel name :\n")
            .file("proc/sys/kernel/ostype", "Linux\n");
        let m = Machine::read(&tree.0);
        // Neither CPU has both ids; the online list is malformed, so the cpuN
        // directories are counted instead.
        assert_eq!(
            (m.sockets, m.cores, m.hardware_threads),
            (None, None, Some(2))
        );
        assert_eq!(m.caches.len(), 1);
        assert_eq!(
            (m.caches[0].size_bytes, m.caches[0].line_bytes),
            (None, None)
        );
        assert_eq!(m.caches[0].describe(), "unknown");
        assert_eq!(m.threads_per_core(), None);
        assert_eq!((m.model, m.os, m.numa_nodes), (None, None, None));
    }

    #[test]
    fn other_architectures_name_the_processor_differently() {
        let tree = Tree::new("arm");
        tree.file(
            "proc/cpuinfo",
            "processor\t: 0\nBogoMIPS\t: 50.00\n\nHardware\t: Fabricated SoC\n",
        );
        assert_eq!(
            Machine::read(&tree.0).model.as_deref(),
            Some("Fabricated SoC")
        );
    }

    #[test]
    fn cpu_lists_and_sizes_parse_as_the_kernel_writes_them() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("5\n"), Some(vec![5]));
        assert_eq!(parse_cpu_list("2-1"), None);
        assert_eq!(parse_cpu_list("a"), None);
        assert_eq!(parse_size("48K"), Some(48 * 1024));
        assert_eq!(parse_size("491520K"), Some(480 << 20));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("K"), None);
        assert_eq!(format_bytes(48 * 1024), "48 KiB");
        assert_eq!(format_bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(format_bytes(100), "100 B");
    }

    #[test]
    fn this_machine_reads_without_panicking() {
        let m = Machine::detect();
        assert!(m.available_parallelism >= 1);
        assert_eq!(m.facts().len(), 9);
    }

    fn results(name: &str, values: &[f64]) -> Results {
        let samples = values
            .iter()
            .enumerate()
            .map(|(round, &value)| Sample {
                round,
                position: 0,
                ops: 1,
                elapsed_ns: 1,
                value,
            })
            .collect();
        Results {
            name: name.into(),
            metric: Metric::Throughput,
            rounds: values.len(),
            baseline: "a".into(),
            contenders: vec![ContenderResults {
                name: "a".into(),
                summary: Summary::of(values).unwrap(),
                samples,
            }],
        }
    }

    #[test]
    fn noise_is_the_worst_spread_of_any_contender() {
        let steady = results("steady", &[100.0, 101.0, 99.0, 100.0, 100.0]);
        let wobbly = results("wobbly", &[50.0, 80.0, 100.0, 120.0, 150.0]);
        let quiet = Noise::of(&[&steady]);
        assert_eq!(quiet.level, NoiseLevel::Quiet);
        assert!(quiet.to_string().starts_with("quiet: "));
        let noisy = Noise::of(&[&steady, &wobbly]);
        assert_eq!(noisy.level, NoiseLevel::Noisy);
        assert_eq!(noisy.worst_at.as_deref(), Some("wobbly: a"));
        assert!(noisy.to_string().contains("(wobbly: a)"), "{noisy}");
    }

    #[test]
    fn too_few_repeats_are_unknown_unless_already_noisy() {
        assert_eq!(
            Noise::of(&[&results("two", &[1.0, 1.0])]).level,
            NoiseLevel::Unknown
        );
        assert_eq!(
            Noise::of(&[&results("two", &[1.0, 3.0])]).level,
            NoiseLevel::Noisy
        );
    }
}
