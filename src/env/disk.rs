//! The Disk seam: a small, path-based file API that the storage layer uses for everything.
//!
//! Paths are relative to the log directory and use `/` (e.g. `t-0/00000000000000000000.log`).
//! Durability follows POSIX: a write is only durable once [`Disk::fsync`] covers it, and a
//! create, rename or remove is only durable once [`Disk::fsync_dir`] covers its directory.
//! [`FsDisk`] is real files; SimDisk (in `sim/`) models the page cache and crash semantics;
//! [`MemDisk`] is a trivial always-durable disk for unit tests.
//!
//! Errors are plain `io::Error`s: ENOSPC is `ErrorKind::StorageFull`, a failed fsync is
//! `ErrorKind::Other` and means the log directory must be taken offline.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// The file operations the broker's storage needs.
pub trait Disk: Send + Sync + 'static {
    /// Create a directory and its parents (like `mkdir -p`).
    fn create_dir_all(&self, dir: &str) -> io::Result<()>;
    /// Names (not paths) of the entries of `dir`, sorted. Missing dir: empty list.
    fn list_dir(&self, dir: &str) -> io::Result<Vec<String>>;
    /// Whether a file or directory exists.
    fn exists(&self, path: &str) -> bool;
    /// Length of a file in bytes.
    fn len(&self, path: &str) -> io::Result<u64>;
    /// Up to `len` bytes from `offset`; fewer at end of file.
    fn read_at(&self, path: &str, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// Append `data`, creating the file if needed; returns the position it was written at.
    fn append(&self, path: &str, data: &[u8]) -> io::Result<u64>;
    /// Replace the whole file with `data` (create or truncate, then write).
    fn write_file(&self, path: &str, data: &[u8]) -> io::Result<()>;
    /// Cut the file to `len` bytes.
    fn truncate(&self, path: &str, len: u64) -> io::Result<()>;
    /// Remove a file (not an error if it is missing).
    fn remove(&self, path: &str) -> io::Result<()>;
    /// Atomically rename `from` to `to`, replacing `to`.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Make the file's data durable.
    fn fsync(&self, path: &str) -> io::Result<()>;
    /// Make the directory's entries (creates, renames, removes) durable.
    fn fsync_dir(&self, dir: &str) -> io::Result<()>;

    /// Read a whole file.
    fn read_all(&self, path: &str) -> io::Result<Vec<u8>> {
        let len = self.len(path)? as usize;
        self.read_at(path, 0, len)
    }
}

/// Create `dir` and its parents, and make each new entry durable: a directory's entry survives
/// a power loss only once its parent is fsynced, so every level from `dir` up to the root is
/// fsynced (cheap, and only when something was missing). Existing directories cost one check.
pub fn create_dir_durable(disk: &dyn Disk, dir: &str) -> io::Result<()> {
    let dir = dir.trim_matches('/');
    if dir.is_empty() || disk.exists(dir) {
        return Ok(());
    }
    disk.create_dir_all(dir)?;
    let mut level = dir;
    while let Some((parent, _)) = level.rsplit_once('/') {
        disk.fsync_dir(parent)?;
        level = parent;
    }
    disk.fsync_dir("")
}

/// Real files under a root directory, for real mode.
///
/// Open handles are cached so that appends do not reopen the file each time.
pub struct FsDisk {
    root: PathBuf,
    /// Open handles by relative path; BTreeMap so nothing depends on hash order.
    files: Mutex<BTreeMap<String, File>>,
}

impl FsDisk {
    /// A disk rooted at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsDisk {
            root: root.into(),
            files: Mutex::new(BTreeMap::new()),
        }
    }

    fn full(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    fn with_file<T>(
        &self,
        path: &str,
        f: impl FnOnce(&mut File) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut files = self.files.lock().unwrap();
        if !files.contains_key(path) {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(self.full(path))?;
            files.insert(path.to_string(), file);
        }
        f(files.get_mut(path).expect("inserted above"))
    }

    fn forget(&self, path: &str) {
        self.files.lock().unwrap().remove(path);
    }
}

impl Disk for FsDisk {
    fn create_dir_all(&self, dir: &str) -> io::Result<()> {
        std::fs::create_dir_all(self.full(dir))
    }

    fn list_dir(&self, dir: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        match std::fs::read_dir(self.full(dir)) {
            Ok(entries) => {
                for entry in entries {
                    names.push(entry?.file_name().to_string_lossy().into_owned());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &str) -> bool {
        self.full(path).exists()
    }

    fn len(&self, path: &str) -> io::Result<u64> {
        Ok(std::fs::metadata(self.full(path))?.len())
    }

    fn read_at(&self, path: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        if !self.files.lock().unwrap().contains_key(path) && !self.exists(path) {
            return Err(io::Error::new(io::ErrorKind::NotFound, path.to_string()));
        }
        self.with_file(path, |file| {
            file.seek(SeekFrom::Start(offset))?;
            let mut buf = Vec::with_capacity(len);
            file.take(len as u64).read_to_end(&mut buf)?;
            Ok(buf)
        })
    }

    fn append(&self, path: &str, data: &[u8]) -> io::Result<u64> {
        self.with_file(path, |file| {
            let position = file.seek(SeekFrom::End(0))?;
            file.write_all(data)?;
            Ok(position)
        })
    }

    fn write_file(&self, path: &str, data: &[u8]) -> io::Result<()> {
        self.forget(path);
        std::fs::write(self.full(path), data)
    }

    fn truncate(&self, path: &str, len: u64) -> io::Result<()> {
        self.with_file(path, |file| file.set_len(len))
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        self.forget(path);
        match std::fs::remove_file(self.full(path)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.forget(from);
        self.forget(to);
        std::fs::rename(self.full(from), self.full(to))
    }

    fn fsync(&self, path: &str) -> io::Result<()> {
        self.with_file(path, |file| file.sync_data())
    }

    fn fsync_dir(&self, dir: &str) -> io::Result<()> {
        File::open(self.full(dir))?.sync_all()
    }
}

/// An in-memory disk where every operation is immediately durable: for unit tests of the
/// storage layer's logic. Crash behaviour is SimDisk's job.
#[derive(Default)]
pub struct MemDisk {
    /// File contents by path; directories are implied by their files plus `dirs`.
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    dirs: Mutex<std::collections::BTreeSet<String>>,
}

impl MemDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, path.to_string())
}

impl Disk for MemDisk {
    fn create_dir_all(&self, dir: &str) -> io::Result<()> {
        self.dirs
            .lock()
            .unwrap()
            .insert(dir.trim_end_matches('/').to_string());
        Ok(())
    }

    fn list_dir(&self, dir: &str) -> io::Result<Vec<String>> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            prefix
        };
        let mut names: Vec<String> = Vec::new();
        let files = self.files.lock().unwrap();
        let dirs = self.dirs.lock().unwrap();
        for path in files.keys().chain(dirs.iter()) {
            if let Some(rest) = path.strip_prefix(&prefix) {
                let name = rest.split('/').next().unwrap_or("");
                if !name.is_empty() && !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &str) -> bool {
        self.files.lock().unwrap().contains_key(path) || self.dirs.lock().unwrap().contains(path)
    }

    fn len(&self, path: &str) -> io::Result<u64> {
        self.files
            .lock()
            .unwrap()
            .get(path)
            .map(|f| f.len() as u64)
            .ok_or_else(|| not_found(path))
    }

    fn read_at(&self, path: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let files = self.files.lock().unwrap();
        let file = files.get(path).ok_or_else(|| not_found(path))?;
        let start = (offset as usize).min(file.len());
        let end = start.saturating_add(len).min(file.len());
        Ok(file[start..end].to_vec())
    }

    fn append(&self, path: &str, data: &[u8]) -> io::Result<u64> {
        let mut files = self.files.lock().unwrap();
        let file = files.entry(path.to_string()).or_default();
        let position = file.len() as u64;
        file.extend_from_slice(data);
        Ok(position)
    }

    fn write_file(&self, path: &str, data: &[u8]) -> io::Result<()> {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_string(), data.to_vec());
        Ok(())
    }

    fn truncate(&self, path: &str, len: u64) -> io::Result<()> {
        let mut files = self.files.lock().unwrap();
        let file = files.get_mut(path).ok_or_else(|| not_found(path))?;
        file.resize(len as usize, 0);
        Ok(())
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        self.files.lock().unwrap().remove(path);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut files = self.files.lock().unwrap();
        let data = files.remove(from).ok_or_else(|| not_found(from))?;
        files.insert(to.to_string(), data);
        Ok(())
    }

    fn fsync(&self, path: &str) -> io::Result<()> {
        if self.files.lock().unwrap().contains_key(path) {
            Ok(())
        } else {
            Err(not_found(path))
        }
    }

    fn fsync_dir(&self, _dir: &str) -> io::Result<()> {
        Ok(())
    }
}
