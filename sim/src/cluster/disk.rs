//! SimDisk: a per-node disk with a page-cache model and injectable faults.
//!
//! Every file is an inode with `durable` bytes (what survives a power loss) and `cached` bytes
//! (what the process reads), plus the 512-byte sectors written since the last fsync, each with
//! the simulated time it was first dirtied. Directory entries exist twice too: the current map
//! and the durable map, which an fsync of the parent directory updates.
//!
//! - A process `kill` needs nothing from here: the page cache (this struct, owned by the
//!   harness) survives the process.
//! - [`SimDisk::power_loss`] keeps each file's durable bytes plus a seeded subset of its dirty
//!   sectors (so a file can be torn anywhere, not only at its tail); sectors dirty for longer
//!   than `dirty_expire` are always kept, like Linux writeback. Directory entries revert to
//!   their durable state: a create, rename or remove is durable only after `fsync_dir` of its
//!   parent; a truncated length is durable only after an fsync of the file.
//! - Faults: ENOSPC ([`SimDisk::set_enospc`]), a failing fsync ([`SimDisk::fail_next_fsync`]),
//!   bit flips in `.log` files ([`SimDisk::flip_bits`]) and an empty disk ([`SimDisk::wipe`]).
//!
//! Everything is ordered (BTreeMap), randomness comes only from the caller's RNG, time only from
//! the clock closure given at construction, and every operation is recorded in the trace.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use kafkasim::env::{Disk, Trace};
use rand::Rng;
use serde::Serialize;

/// Bytes per sector: the unit a power loss keeps or loses.
pub const SECTOR_BYTES: u64 = 512;
/// Default age after which dirty data is written back on its own (Linux's 30 s).
pub const DIRTY_EXPIRE_MS_DEFAULT: u64 = 30_000;

/// Counters for reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SimDiskStats {
    /// Successful appends and whole-file writes.
    pub writes: u64,
    /// Bytes those writes carried.
    pub bytes_written: u64,
    /// Successful fsyncs of files and directories.
    pub fsyncs: u64,
    /// Power losses applied.
    pub power_losses: u64,
    /// Dirty bytes a power loss threw away.
    pub bytes_discarded: u64,
    /// Dirty sectors a power loss threw away.
    pub sectors_torn: u64,
    /// Files that vanished at a power loss because their directory entry was never fsynced.
    pub files_lost: u64,
    /// Bits flipped by [`SimDisk::flip_bits`].
    pub bits_flipped: u64,
    /// Writes refused with ENOSPC.
    pub enospc_errors: u64,
    /// Fsyncs failed on purpose.
    pub fsync_errors: u64,
}

/// One flipped bit, for reports and for tests that check the CRC caught it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BitFlip {
    /// File whose byte was changed.
    pub path: String,
    /// Byte offset in the file.
    pub offset: u64,
    /// Bit index (0..8) flipped in that byte.
    pub bit: u8,
    /// Simulated time of the flip, so a check can tell rot that recovery has not yet seen.
    #[serde(skip)]
    pub time_ms: u64,
}

/// A file's contents in the page cache and on the platter.
#[derive(Clone, Debug, Default)]
struct Inode {
    /// What survives a power loss.
    durable: Vec<u8>,
    /// What reads see.
    cached: Vec<u8>,
    /// Sectors written since the last fsync → simulated time they were first dirtied.
    dirty: BTreeMap<u64, u64>,
}

impl Inode {
    fn mark_dirty(&mut self, start: u64, end: u64, now_ms: u64) {
        if end <= start {
            return;
        }
        for sector in start / SECTOR_BYTES..end.div_ceil(SECTOR_BYTES) {
            self.dirty.entry(sector).or_insert(now_ms);
        }
    }
}

/// A directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// A directory.
    Dir,
    /// A file, by inode number.
    File(u64),
}

/// Everything behind the lock.
#[derive(Default)]
struct State {
    /// Inodes by number.
    inodes: BTreeMap<u64, Inode>,
    /// Next inode number to hand out.
    next_inode: u64,
    /// Entries as the process sees them, by full path ("" is the root, never listed).
    current: BTreeMap<String, Entry>,
    /// Entries as they would be after a power loss.
    durable: BTreeMap<String, Entry>,
    /// Whether writes fail with ENOSPC.
    enospc: bool,
    /// Whether the next fsync fails.
    fail_next_fsync: bool,
    /// Counters.
    stats: SimDiskStats,
    /// Every bit flipped so far.
    flips: Vec<BitFlip>,
}

/// A simulated disk: see the module docs.
pub struct SimDisk {
    /// Files, directories, fault switches and counters.
    state: Mutex<State>,
    /// Simulated time in milliseconds; SimDisk never reads the wall clock.
    clock: Box<dyn Fn() -> u64 + Send + Sync>,
    /// Where operations are recorded for the trace hash.
    trace: Option<Arc<dyn Trace>>,
    /// Dirty sectors older than this survive a power loss (Linux writeback).
    dirty_expire_ms: u64,
}

fn normalize(path: &str) -> String {
    path.trim_matches('/').to_string()
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/')
        .map(|(parent, _)| parent)
        .unwrap_or("")
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, path.to_string())
}

impl State {
    fn dir_exists(&self, dir: &str) -> bool {
        dir.is_empty() || self.current.get(dir) == Some(&Entry::Dir)
    }

    fn inode_of(&self, path: &str) -> io::Result<u64> {
        match self.current.get(path) {
            Some(Entry::File(inode)) => Ok(*inode),
            _ => Err(not_found(path)),
        }
    }

    /// The file's inode, created (empty) if missing; its parent must exist.
    fn inode_or_create(&mut self, path: &str) -> io::Result<u64> {
        if let Some(Entry::File(inode)) = self.current.get(path) {
            return Ok(*inode);
        }
        if self.current.contains_key(path) || !self.dir_exists(parent_of(path)) {
            return Err(not_found(path));
        }
        let inode = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(inode, Inode::default());
        self.current.insert(path.to_string(), Entry::File(inode));
        Ok(inode)
    }

    /// Drop inodes no entry refers to any more.
    fn collect_garbage(&mut self) {
        let live: std::collections::BTreeSet<u64> = self
            .current
            .values()
            .chain(self.durable.values())
            .filter_map(|e| {
                if let Entry::File(i) = e {
                    Some(*i)
                } else {
                    None
                }
            })
            .collect();
        self.inodes.retain(|i, _| live.contains(i));
    }

    fn check_space(&mut self) -> io::Result<()> {
        if self.enospc {
            self.stats.enospc_errors += 1;
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "simulated ENOSPC",
            ));
        }
        Ok(())
    }

    fn check_fsync(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.fail_next_fsync) {
            self.stats.fsync_errors += 1;
            return Err(io::Error::other("simulated fsync failure"));
        }
        Ok(())
    }
}

impl SimDisk {
    /// An empty disk reading simulated time from `clock`.
    pub fn new(clock: impl Fn() -> u64 + Send + Sync + 'static) -> SimDisk {
        SimDisk {
            state: Mutex::new(State::default()),
            clock: Box::new(clock),
            trace: None,
            dirty_expire_ms: DIRTY_EXPIRE_MS_DEFAULT,
        }
    }

    /// Record every operation in `trace` (kind "disk").
    pub fn with_trace(mut self, trace: Arc<dyn Trace>) -> SimDisk {
        self.trace = Some(trace);
        self
    }

    /// Change the writeback age (`dirty_expire_centisecs` × 10).
    pub fn with_dirty_expire_ms(mut self, dirty_expire_ms: u64) -> SimDisk {
        self.dirty_expire_ms = dirty_expire_ms;
        self
    }

    fn record(&self, op: &str, path: &str, offset: u64, len: u64) {
        if let Some(trace) = &self.trace {
            let mut bytes = Vec::with_capacity(op.len() + path.len() + 18);
            bytes.extend_from_slice(op.as_bytes());
            bytes.push(0);
            bytes.extend_from_slice(path.as_bytes());
            bytes.push(0);
            bytes.extend_from_slice(&offset.to_be_bytes());
            bytes.extend_from_slice(&len.to_be_bytes());
            trace.record("disk", &bytes);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("SimDisk lock poisoned")
    }

    /// Make writes fail with `ErrorKind::StorageFull` (nothing is written) until switched off.
    pub fn set_enospc(&self, enospc: bool) {
        self.record("set-enospc", "", enospc as u64, 0);
        self.lock().enospc = enospc;
    }

    /// Write back everything, like `sync(2)`: every file's cached bytes and every directory
    /// entry become durable. The `flush` fault.
    pub fn sync_all(&self) {
        self.record("sync-all", "", 0, 0);
        let mut state = self.lock();
        for inode in state.inodes.values_mut() {
            inode.durable = inode.cached.clone();
            inode.dirty.clear();
        }
        state.durable = state.current.clone();
        state.collect_garbage();
    }

    /// Make the next fsync (of a file or a directory) fail.
    pub fn fail_next_fsync(&self) {
        self.record("fail-next-fsync", "", 0, 0);
        self.lock().fail_next_fsync = true;
    }

    /// The counters so far.
    pub fn stats(&self) -> SimDiskStats {
        self.lock().stats.clone()
    }

    /// Every bit flipped so far.
    pub fn bit_flips(&self) -> Vec<BitFlip> {
        self.lock().flips.clone()
    }

    /// Empty the disk, as a restart on a new machine would find it.
    pub fn wipe(&self) {
        self.record("wipe", "", 0, 0);
        let mut state = self.lock();
        state.inodes.clear();
        state.current.clear();
        state.durable.clear();
    }

    /// Flip `count` random bits in `.log` files, in both the cached and durable bytes.
    pub fn flip_bits(&self, rng: &mut impl Rng, count: usize) {
        let now_ms = (self.clock)();
        let mut state = self.lock();
        let candidates: Vec<(String, u64)> = state
            .current
            .iter()
            .filter_map(|(path, entry)| match entry {
                Entry::File(inode)
                    if path.ends_with(".log") && !state.inodes[inode].cached.is_empty() =>
                {
                    Some((path.clone(), *inode))
                }
                _ => None,
            })
            .collect();
        if candidates.is_empty() {
            return;
        }
        for _ in 0..count {
            let (path, inode) = &candidates[rng.gen_range(0..candidates.len())];
            let file = state.inodes.get_mut(inode).expect("live inode");
            let offset = rng.gen_range(0..file.cached.len());
            let bit = rng.gen_range(0..8u8);
            file.cached[offset] ^= 1 << bit;
            if offset < file.durable.len() {
                file.durable[offset] ^= 1 << bit;
            }
            state.stats.bits_flipped += 1;
            state.flips.push(BitFlip {
                path: path.clone(),
                offset: offset as u64,
                bit,
                time_ms: now_ms,
            });
            self.record("flip", path, offset as u64, bit as u64);
        }
    }

    /// Every `.log` file under `dir` ("" for all) with the bytes a reader sees, read for the
    /// checkers without recording anything in the trace (a run's hash must not depend on
    /// what the harness inspects).
    pub fn peek_logs(&self, dir: &str) -> Vec<(String, Vec<u8>)> {
        let state = self.lock();
        let prefix = match normalize(dir) {
            dir if dir.is_empty() => dir,
            dir => format!("{dir}/"),
        };
        state
            .current
            .iter()
            .filter(|(path, _)| path.starts_with(&prefix) && path.ends_with(".log"))
            .filter_map(|(path, entry)| match entry {
                Entry::File(inode) => Some((path.clone(), state.inodes[inode].cached.clone())),
                Entry::Dir => None,
            })
            .collect()
    }

    /// The machine loses power at `now_ms`: each file keeps its durable bytes plus each dirty
    /// sector with probability `keep_probability` (always, when dirty for longer than the
    /// writeback age); directory entries revert to what their directories' fsyncs made durable.
    pub fn power_loss(&self, rng: &mut impl Rng, keep_probability: f64, now_ms: u64) {
        self.record("power-loss", "", now_ms, 0);
        let mut state = self.lock();
        state.stats.power_losses += 1;
        state.current = state.durable.clone();
        // Files whose directory entry never became durable vanish whole: their bytes are
        // discarded too.
        let before: u64 = state.inodes.values().map(|i| i.cached.len() as u64).sum();
        let files_before = state.inodes.len() as u64;
        state.collect_garbage();
        let after: u64 = state.inodes.values().map(|i| i.cached.len() as u64).sum();
        state.stats.bytes_discarded += before - after;
        state.stats.files_lost += files_before - state.inodes.len() as u64;
        let expire = self.dirty_expire_ms;
        let mut discarded = (0u64, 0u64);
        for inode in state.inodes.values_mut() {
            let lost = Self::settle(inode, rng, keep_probability, now_ms, expire);
            discarded.0 += lost.0;
            discarded.1 += lost.1;
        }
        state.stats.sectors_torn += discarded.0;
        state.stats.bytes_discarded += discarded.1;
        Self::drop_orphans(&mut state);
    }

    /// Apply a power loss to one file; returns (sectors lost, bytes lost).
    fn settle(
        inode: &mut Inode,
        rng: &mut impl Rng,
        keep_probability: f64,
        now_ms: u64,
        expire: u64,
    ) -> (u64, u64) {
        let cached_len = inode.cached.len() as u64;
        let mut result = inode.durable.clone();
        let mut lost = (0, 0);
        for (&sector, &dirtied_ms) in &inode.dirty {
            let start = sector * SECTOR_BYTES;
            let end = (start + SECTOR_BYTES).min(cached_len);
            let keep = rng.gen_bool(keep_probability.clamp(0.0, 1.0))
                || now_ms.saturating_sub(dirtied_ms) >= expire;
            if start >= end {
                continue;
            }
            if !keep {
                lost.0 += 1;
                lost.1 += end - start;
                continue;
            }
            if result.len() < end as usize {
                result.resize(end as usize, 0);
            }
            result[start as usize..end as usize]
                .copy_from_slice(&inode.cached[start as usize..end as usize]);
        }
        inode.durable = result.clone();
        inode.cached = result;
        inode.dirty.clear();
        lost
    }

    /// Entries whose parent directory did not survive are unreachable: drop them.
    fn drop_orphans(state: &mut State) {
        let paths: Vec<String> = state.current.keys().cloned().collect();
        for path in paths {
            // BTreeMap order visits a parent before its children, so one pass suffices.
            if !state.dir_exists(parent_of(&path)) {
                state.current.remove(&path);
            }
        }
        state.durable = state.current.clone();
        state.collect_garbage();
    }
}

impl Disk for SimDisk {
    fn create_dir_all(&self, dir: &str) -> io::Result<()> {
        let dir = normalize(dir);
        self.record("mkdir", &dir, 0, 0);
        let mut state = self.lock();
        let mut path = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(part);
            match state.current.get(&path) {
                Some(Entry::Dir) => {}
                Some(Entry::File(_)) => {
                    return Err(io::Error::new(io::ErrorKind::AlreadyExists, path))
                }
                None => {
                    state.current.insert(path.clone(), Entry::Dir);
                }
            }
        }
        Ok(())
    }

    fn list_dir(&self, dir: &str) -> io::Result<Vec<String>> {
        let dir = normalize(dir);
        self.record("list", &dir, 0, 0);
        let state = self.lock();
        Ok(state
            .current
            .keys()
            .filter(|path| parent_of(path) == dir && !path.is_empty())
            .map(|path| path.rsplit('/').next().unwrap_or(path).to_string())
            .collect())
    }

    fn exists(&self, path: &str) -> bool {
        let path = normalize(path);
        self.record("exists", &path, 0, 0);
        path.is_empty() || self.lock().current.contains_key(&path)
    }

    fn len(&self, path: &str) -> io::Result<u64> {
        let path = normalize(path);
        self.record("len", &path, 0, 0);
        let state = self.lock();
        let inode = state.inode_of(&path)?;
        Ok(state.inodes[&inode].cached.len() as u64)
    }

    fn read_at(&self, path: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let path = normalize(path);
        self.record("read", &path, offset, len as u64);
        let state = self.lock();
        let file = &state.inodes[&state.inode_of(&path)?].cached;
        let start = (offset as usize).min(file.len());
        let end = start.saturating_add(len).min(file.len());
        Ok(file[start..end].to_vec())
    }

    fn append(&self, path: &str, data: &[u8]) -> io::Result<u64> {
        let path = normalize(path);
        let now_ms = (self.clock)();
        let mut state = self.lock();
        state.check_space()?;
        let inode = state.inode_or_create(&path)?;
        let file = state.inodes.get_mut(&inode).expect("live inode");
        let position = file.cached.len() as u64;
        file.cached.extend_from_slice(data);
        file.mark_dirty(position, position + data.len() as u64, now_ms);
        state.stats.writes += 1;
        state.stats.bytes_written += data.len() as u64;
        drop(state);
        self.record("append", &path, position, data.len() as u64);
        Ok(position)
    }

    fn write_file(&self, path: &str, data: &[u8]) -> io::Result<()> {
        let path = normalize(path);
        let now_ms = (self.clock)();
        let mut state = self.lock();
        state.check_space()?;
        let inode = state.inode_or_create(&path)?;
        let file = state.inodes.get_mut(&inode).expect("live inode");
        file.cached = data.to_vec();
        file.dirty
            .retain(|sector, _| sector * SECTOR_BYTES < data.len() as u64);
        file.mark_dirty(0, data.len() as u64, now_ms);
        state.stats.writes += 1;
        state.stats.bytes_written += data.len() as u64;
        drop(state);
        self.record("write", &path, 0, data.len() as u64);
        Ok(())
    }

    fn truncate(&self, path: &str, len: u64) -> io::Result<()> {
        let path = normalize(path);
        let now_ms = (self.clock)();
        self.record("truncate", &path, len, 0);
        let mut state = self.lock();
        let inode = state.inode_of(&path)?;
        let file = state.inodes.get_mut(&inode).expect("live inode");
        let old_len = file.cached.len() as u64;
        file.cached.resize(len as usize, 0);
        if len > old_len {
            file.mark_dirty(old_len, len, now_ms);
        } else {
            // Sectors wholly past the end hold nothing to write back any more; the durable
            // length stays until an fsync of the file.
            file.dirty.retain(|sector, _| sector * SECTOR_BYTES < len);
        }
        Ok(())
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        let path = normalize(path);
        self.record("remove", &path, 0, 0);
        let mut state = self.lock();
        if matches!(state.current.get(&path), Some(Entry::File(_))) {
            state.current.remove(&path);
            state.collect_garbage();
        }
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (normalize(from), normalize(to));
        self.record("rename", &format!("{from}\0{to}"), 0, 0);
        let mut state = self.lock();
        let inode = state.inode_of(&from)?;
        if !state.dir_exists(parent_of(&to)) {
            return Err(not_found(&to));
        }
        state.current.remove(&from);
        state.current.insert(to, Entry::File(inode));
        state.collect_garbage();
        Ok(())
    }

    fn fsync(&self, path: &str) -> io::Result<()> {
        let path = normalize(path);
        self.record("fsync", &path, 0, 0);
        let mut state = self.lock();
        let inode = state.inode_of(&path)?;
        state.check_fsync()?;
        let file = state.inodes.get_mut(&inode).expect("live inode");
        file.durable = file.cached.clone();
        file.dirty.clear();
        state.stats.fsyncs += 1;
        Ok(())
    }

    fn fsync_dir(&self, dir: &str) -> io::Result<()> {
        let dir = normalize(dir);
        self.record("fsync-dir", &dir, 0, 0);
        let mut state = self.lock();
        if !state.dir_exists(&dir) {
            return Err(not_found(&dir));
        }
        state.check_fsync()?;
        let children: Vec<String> = state
            .current
            .keys()
            .chain(state.durable.keys())
            .filter(|path| parent_of(path) == dir)
            .cloned()
            .collect();
        for child in children {
            match state.current.get(&child).copied() {
                Some(entry) => state.durable.insert(child, entry),
                None => state.durable.remove(&child),
            };
        }
        state.stats.fsyncs += 1;
        state.collect_garbage();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn disk_at(time: Arc<AtomicU64>) -> SimDisk {
        SimDisk::new(move || time.load(Ordering::SeqCst))
    }

    fn fresh() -> (SimDisk, Arc<AtomicU64>, ChaCha8Rng) {
        let time = Arc::new(AtomicU64::new(0));
        (disk_at(time.clone()), time, ChaCha8Rng::seed_from_u64(7))
    }

    #[test]
    fn fsynced_data_survives_power_loss() {
        let (disk, _, mut rng) = fresh();
        disk.create_dir_all("t-0").unwrap();
        disk.fsync_dir("").unwrap();
        disk.append("t-0/a.log", &[1; 2000]).unwrap();
        disk.fsync("t-0/a.log").unwrap();
        disk.fsync_dir("t-0").unwrap();
        disk.power_loss(&mut rng, 0.0, 0);
        assert_eq!(disk.read_all("t-0/a.log").unwrap(), vec![1; 2000]);
    }

    #[test]
    fn unsynced_data_is_lost_or_kept_by_probability() {
        for (keep, expected_len) in [(0.0, 1000), (1.0, 3000)] {
            let (disk, _, mut rng) = fresh();
            disk.append("a.log", &[1; 1000]).unwrap();
            disk.fsync("a.log").unwrap();
            disk.fsync_dir("").unwrap();
            disk.append("a.log", &[2; 2000]).unwrap();
            disk.power_loss(&mut rng, keep, 0);
            let data = disk.read_all("a.log").unwrap();
            assert_eq!(data.len(), expected_len, "keep probability {keep}");
            assert!(data[..1000].iter().all(|b| *b == 1));
            assert!(data[1000..].iter().all(|b| *b == 2));
        }
        let (disk, _, _) = fresh();
        disk.append("a.log", &[1; 10]).unwrap();
        disk.fsync_dir("").unwrap();
        assert_eq!(disk.stats().writes, 1);
    }

    /// The controller's metadata log: a file in a new directory survives a power loss only
    /// when the directory's own entry was made durable too (the bug the controller had).
    #[test]
    fn a_new_directory_needs_its_parent_fsynced() {
        let write_log = |disk: &SimDisk| {
            disk.append("meta-0/metadata.log", b"records").unwrap();
            disk.fsync("meta-0/metadata.log").unwrap();
            disk.fsync_dir("meta-0").unwrap();
        };
        let (disk, _, mut rng) = fresh();
        disk.create_dir_all("meta-0").unwrap();
        write_log(&disk);
        disk.power_loss(&mut rng, 1.0, 0);
        assert!(
            !disk.exists("meta-0/metadata.log"),
            "the directory was never durable"
        );

        let (disk, _, mut rng) = fresh();
        kafkasim::env::create_dir_durable(&disk, "meta-0").unwrap();
        write_log(&disk);
        disk.power_loss(&mut rng, 0.0, 0);
        assert_eq!(disk.read_all("meta-0/metadata.log").unwrap(), b"records");
        // Nested directories: every new level's entry is made durable.
        kafkasim::env::create_dir_durable(&disk, "a/b/c").unwrap();
        disk.power_loss(&mut rng, 0.0, 0);
        assert!(disk.exists("a/b/c"));
    }

    #[test]
    fn partial_keep_can_tear_the_middle() {
        let (disk, _, mut rng) = fresh();
        disk.append("a.log", &[]).unwrap();
        disk.fsync_dir("").unwrap();
        disk.append("a.log", &[3; 512 * 64]).unwrap();
        disk.power_loss(&mut rng, 0.5, 0);
        let data = disk.read_all("a.log").unwrap();
        let stats = disk.stats();
        assert!(
            stats.sectors_torn > 0 && stats.sectors_torn < 64,
            "{stats:?}"
        );
        assert!(
            data.contains(&0),
            "a lost sector before a kept one reads as zeros"
        );
        assert_eq!(stats.bytes_discarded, stats.sectors_torn * 512);
    }

    #[test]
    fn created_file_without_dir_fsync_vanishes() {
        let (disk, _, mut rng) = fresh();
        disk.create_dir_all("t-0").unwrap();
        disk.append("t-0/a.log", &[1; 10]).unwrap();
        disk.fsync("t-0/a.log").unwrap();
        disk.fsync_dir("t-0").unwrap();
        // The directory itself was never made durable in the root.
        disk.power_loss(&mut rng, 1.0, 0);
        assert!(!disk.exists("t-0/a.log"));
        assert!(!disk.exists("t-0"));

        disk.create_dir_all("t-0").unwrap();
        disk.fsync_dir("").unwrap();
        disk.append("t-0/b.log", &[1; 10]).unwrap();
        disk.fsync("t-0/b.log").unwrap();
        disk.power_loss(&mut rng, 1.0, 0);
        assert!(disk.exists("t-0"));
        assert!(!disk.exists("t-0/b.log"), "created but not dir-fsynced");
    }

    #[test]
    fn remove_and_rename_revert_without_dir_fsync() {
        let (disk, _, mut rng) = fresh();
        disk.write_file("a", b"hello").unwrap();
        disk.fsync("a").unwrap();
        disk.fsync_dir("").unwrap();
        disk.rename("a", "b").unwrap();
        disk.power_loss(&mut rng, 1.0, 0);
        assert_eq!(disk.read_all("a").unwrap(), b"hello");
        assert!(!disk.exists("b"));
        disk.remove("a").unwrap();
        disk.fsync_dir("").unwrap();
        disk.power_loss(&mut rng, 1.0, 0);
        assert!(!disk.exists("a"));
    }

    #[test]
    fn truncate_is_durable_only_after_fsync() {
        let (disk, _, mut rng) = fresh();
        disk.write_file("a", &[5; 100]).unwrap();
        disk.fsync("a").unwrap();
        disk.fsync_dir("").unwrap();
        disk.truncate("a", 10).unwrap();
        disk.power_loss(&mut rng, 1.0, 0);
        assert_eq!(disk.len("a").unwrap(), 100);
        disk.truncate("a", 10).unwrap();
        disk.fsync("a").unwrap();
        disk.power_loss(&mut rng, 1.0, 0);
        assert_eq!(disk.len("a").unwrap(), 10);
    }

    #[test]
    fn old_dirty_data_is_written_back() {
        let (disk, time, mut rng) = fresh();
        disk.append("a.log", &[1; 1024]).unwrap();
        disk.fsync_dir("").unwrap();
        time.store(40_000, Ordering::SeqCst);
        disk.append("a.log", &[2; 1024]).unwrap();
        disk.power_loss(&mut rng, 0.0, 45_000);
        assert_eq!(
            disk.read_all("a.log").unwrap(),
            vec![1; 1024],
            "old sectors kept, young lost"
        );
    }

    #[test]
    fn enospc_surfaces_and_writes_nothing() {
        let (disk, _, _) = fresh();
        disk.append("a", b"x").unwrap();
        disk.set_enospc(true);
        let error = disk.append("a", b"yz").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        assert_eq!(
            disk.write_file("b", b"q").unwrap_err().kind(),
            io::ErrorKind::StorageFull
        );
        assert!(!disk.exists("b"));
        disk.set_enospc(false);
        assert_eq!(disk.read_all("a").unwrap(), b"x");
        assert_eq!(disk.stats().enospc_errors, 2);
    }

    #[test]
    fn fsync_error_surfaces_once() {
        let (disk, _, _) = fresh();
        disk.append("a", b"x").unwrap();
        disk.fail_next_fsync();
        assert!(disk.fsync("a").is_err());
        assert!(disk.fsync("a").is_ok());
        assert_eq!(disk.stats().fsync_errors, 1);
    }

    #[test]
    fn bit_flips_hit_log_files_and_are_recorded() {
        let (disk, _, mut rng) = fresh();
        disk.write_file("a.log", &[0; 100]).unwrap();
        disk.write_file("a.index", &[0; 100]).unwrap();
        disk.flip_bits(&mut rng, 3);
        let flips = disk.bit_flips();
        assert_eq!(flips.len(), 3);
        assert!(flips.iter().all(|f| f.path == "a.log"));
        assert_eq!(disk.read_all("a.index").unwrap(), vec![0; 100]);
        assert!(disk.read_all("a.log").unwrap().iter().any(|b| *b != 0));
        disk.wipe();
        assert!(disk.list_dir("").unwrap().is_empty());
    }

    #[test]
    fn same_seed_same_power_loss() {
        let outcome = |seed: u64| {
            let disk = SimDisk::new(|| 0);
            disk.append("a.log", &[]).unwrap();
            disk.fsync_dir("").unwrap();
            for i in 0..50u8 {
                disk.append("a.log", &[i; 300]).unwrap();
            }
            disk.power_loss(&mut ChaCha8Rng::seed_from_u64(seed), 0.5, 0);
            (disk.read_all("a.log").unwrap(), disk.stats())
        };
        assert_eq!(outcome(11), outcome(11));
        assert_ne!(outcome(11).0, outcome(12).0);
    }

    #[test]
    fn trace_records_operations() {
        #[derive(Default)]
        struct Collect(Mutex<Vec<(String, Vec<u8>)>>);
        impl Trace for Collect {
            fn record(&self, kind: &str, bytes: &[u8]) {
                self.0
                    .lock()
                    .unwrap()
                    .push((kind.to_string(), bytes.to_vec()));
            }
        }
        let collect = Arc::new(Collect::default());
        let disk = SimDisk::new(|| 0).with_trace(collect.clone());
        disk.append("a", b"xy").unwrap();
        disk.fsync("a").unwrap();
        let events = collect.0.lock().unwrap();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|(kind, _)| kind == "disk"));
        assert!(events[0].1.starts_with(b"append\0a\0"));
    }
}
