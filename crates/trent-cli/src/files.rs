//! Inputs and outputs: `-` for stdin/stdout, single files, `--recursive` directory trees, and
//! all-or-nothing output (a temporary file renamed into place only when the operation succeeded;
//! stdout is spooled through an anonymous temporary file and copied out only on success).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

const BUF: usize = 256 * 1024;
/// Inputs at least this large show a progress bar when stderr is a terminal.
const PROGRESS_MIN_BYTES: u64 = 64 * 1024 * 1024;

/// `--no-progress`: never draw a progress bar.
static NO_PROGRESS: AtomicBool = AtomicBool::new(false);
/// A `--recursive` bar is drawn, so single files draw none of their own.
static FILES_BAR: AtomicBool = AtomicBool::new(false);

/// Turns progress bars off (`--no-progress`).
pub fn disable_progress() {
    NO_PROGRESS.store(true, Ordering::Relaxed);
}

/// Whether a progress bar may be drawn: only on a terminal (stderr), never with --no-progress.
fn progress_allowed(stderr_is_terminal: bool) -> bool {
    stderr_is_terminal && !NO_PROGRESS.load(Ordering::Relaxed)
}

/// Whether a single input of `len` bytes gets its own byte-count bar.
fn file_bar_wanted(stderr_is_terminal: bool, len: u64) -> bool {
    progress_allowed(stderr_is_terminal) && len >= PROGRESS_MIN_BYTES && !FILES_BAR.load(Ordering::Relaxed)
}

/// A bar counting the files of a `--recursive` run (on a terminal only). Messages printed
/// through [`FilesProgress::say`] appear above it.
pub struct FilesProgress(Option<indicatif::ProgressBar>);

impl FilesProgress {
    pub fn new(recursive: bool, files: usize) -> FilesProgress {
        if !recursive || files == 0 || !progress_allowed(io::stderr().is_terminal()) {
            return FilesProgress(None);
        }
        let bar = indicatif::ProgressBar::new(files as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("[{bar:30}] {pos}/{len} files {elapsed} {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        FILES_BAR.store(true, Ordering::Relaxed);
        FilesProgress(Some(bar))
    }

    pub fn say(&self, msg: &str) {
        match &self.0 {
            Some(bar) => bar.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }

    pub fn done_one(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }
}

impl Drop for FilesProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
            FILES_BAR.store(false, Ordering::Relaxed);
        }
    }
}

/// A reader that advances a progress bar on stderr; the bar is cleared when the reader is dropped.
struct WithProgress<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R> WithProgress<R> {
    fn new(inner: R, len: u64, name: &str) -> Self {
        let bar = indicatif::ProgressBar::new(len);
        let style =
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(name.to_string());
        WithProgress { inner, bar }
    }
}

impl<R: Read> Read for WithProgress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

impl<R> Drop for WithProgress<R> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    File(PathBuf),
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".into(),
            Source::File(p) => p.display().to_string(),
        }
    }
    pub fn open(&self) -> io::Result<(Box<dyn Read>, Option<u64>)> {
        match self {
            Source::Stdin => Ok((Box::new(BufReader::with_capacity(BUF, io::stdin().lock())), None)),
            Source::File(p) => {
                let f = File::open(p)?;
                let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
                let reader = BufReader::with_capacity(BUF, f);
                match len {
                    Some(n) if file_bar_wanted(io::stderr().is_terminal(), n) => {
                        Ok((Box::new(WithProgress::new(reader, n, &p.display().to_string())), len))
                    }
                    _ => Ok((Box::new(reader), len)),
                }
            }
        }
    }
}

impl Sink {
    pub fn describe(&self) -> String {
        match self {
            Sink::Stdout => "<stdout>".into(),
            Sink::File(p) => p.display().to_string(),
        }
    }
}

/// How output names are derived from input names when the output is a directory.
pub type Rename = fn(&str) -> String;

pub fn encrypted_name(name: &str) -> String {
    format!("{name}.encrypted")
}

pub fn decrypted_name(name: &str) -> String {
    match name.strip_suffix(".encrypted") {
        Some(base) if !base.is_empty() => base.to_string(),
        _ => format!("{name}.decrypted"),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let t = e.file_type()?;
        if t.is_dir() {
            walk(&e.path(), out)?;
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Pairs every input with its output.
pub fn plan(input: &str, output: &str, recursive: bool, rename: Rename) -> Result<Vec<(Source, Sink)>, String> {
    if input == "-" {
        if Path::new(output).is_dir() {
            return Err(format!("output {output} is a directory; stdin needs an output file or -"));
        }
        let sink = if output == "-" { Sink::Stdout } else { Sink::File(output.into()) };
        return Ok(vec![(Source::Stdin, sink)]);
    }
    let in_path = Path::new(input);
    let meta = std::fs::metadata(in_path).map_err(|e| format!("{input}: {e}"))?;
    if meta.is_dir() {
        if !recursive {
            return Err(format!("{input} is a directory; add --recursive to process its files"));
        }
        if output == "-" {
            return Err("a directory cannot be written to stdout".into());
        }
        let out_dir = PathBuf::from(output);
        if out_dir.exists() && !out_dir.is_dir() {
            return Err(format!("output {output} exists and is not a directory"));
        }
        let mut files = Vec::new();
        walk(in_path, &mut files).map_err(|e| format!("{input}: {e}"))?;
        let mut pairs = Vec::with_capacity(files.len());
        for f in files {
            let rel = f.strip_prefix(in_path).expect("walked from input");
            let name = rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let target = out_dir.join(rel.parent().unwrap_or(Path::new(""))).join(rename(&name));
            pairs.push((Source::File(f), Sink::File(target)));
        }
        return Ok(pairs);
    }
    let sink = if output == "-" {
        Sink::Stdout
    } else if Path::new(output).is_dir() {
        let name = in_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Sink::File(Path::new(output).join(rename(&name)))
    } else {
        Sink::File(output.into())
    };
    if let Sink::File(o) = &sink {
        if let (Ok(a), Ok(b)) = (std::fs::canonicalize(in_path), std::fs::canonicalize(o)) {
            if a == b {
                return Err(format!("output {} is the input file", o.display()));
            }
        }
    }
    Ok(vec![(Source::File(in_path.into()), sink)])
}

/// Runs `f` on every job, several files at a time when there are several (files are independent:
/// their KMS round trips, reads, writes and fsyncs overlap). `f` reports its own failure and
/// returns false; the number of failures is returned. A single file runs on the calling thread
/// (its frames are spread over the cores by trent-envelope instead), and so does every file when
/// `in_order` (a data key cache hands keys out in file order).
pub fn for_each_file<J: Sync>(jobs: &[J], in_order: bool, f: impl Fn(&J) -> bool + Sync) -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let workers = jobs.len().min((2 * cores).clamp(4, 16));
    if workers <= 1 || in_order {
        return jobs.iter().filter(|j| !f(j)).count();
    }
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                if !f(job) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    failures.into_inner()
}

/// Runs `f` with a writer for `sink`; the output appears only if `f` succeeds.
pub fn write_all_or_nothing<T, E: From<io::Error>>(
    sink: &Sink,
    f: impl FnOnce(&mut (dyn Write + Send)) -> Result<T, E>,
) -> Result<T, E> {
    match sink {
        Sink::File(path) => {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            std::fs::create_dir_all(&dir)?;
            let tmp = tempfile::Builder::new().prefix(".trent-").suffix(".tmp").tempfile_in(&dir)?;
            // Through `&File`: its vectored writes reach `writev` (NamedTempFile's do not), so a
            // batch of decrypted frames is one system call and no copy.
            let mut w = BufWriter::with_capacity(BUF, tmp.as_file());
            let out = f(&mut w)?;
            w.into_inner().map_err(|e| e.into_error())?;
            tmp.as_file().sync_all()?;
            tmp.persist(path).map_err(|e| e.error)?;
            Ok(out)
        }
        Sink::Stdout => {
            let spool = tempfile::tempfile()?;
            let mut w = BufWriter::with_capacity(BUF, spool);
            let out = f(&mut w)?;
            let mut spool = w.into_inner().map_err(|e| e.into_error())?;
            spool.rewind()?;
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            io::copy(&mut spool, &mut lock)?;
            lock.flush()?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bars_only_on_a_terminal_for_big_files_and_never_with_no_progress() {
        assert!(!file_bar_wanted(false, 1 << 40), "never when stderr is not a terminal");
        assert!(!file_bar_wanted(true, PROGRESS_MIN_BYTES - 1), "not for small files");
        assert!(file_bar_wanted(true, PROGRESS_MIN_BYTES));
        assert!(FilesProgress::new(true, 3).0.is_none() || std::io::stderr().is_terminal());
        disable_progress();
        assert!(!file_bar_wanted(true, 1 << 40), "--no-progress");
        NO_PROGRESS.store(false, Ordering::Relaxed);
    }

    #[test]
    fn decrypted_name_strips_the_encrypted_suffix_or_adds_one() {
        assert_eq!(decrypted_name("a.txt.encrypted"), "a.txt");
        assert_eq!(decrypted_name("a.txt"), "a.txt.decrypted");
        assert_eq!(decrypted_name(".encrypted"), ".encrypted.decrypted");
    }

    #[test]
    fn recursive_plan_mirrors_the_tree_and_directory_needs_recursive() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a"), b"1").unwrap();
        std::fs::write(src.join("sub/b"), b"2").unwrap();
        let out = d.path().join("out");
        let p = plan(src.to_str().unwrap(), out.to_str().unwrap(), true, encrypted_name).unwrap();
        let sinks: Vec<_> = p.iter().map(|(_, s)| s.clone()).collect();
        assert_eq!(sinks, vec![Sink::File(out.join("a.encrypted")), Sink::File(out.join("sub/b.encrypted"))]);
        assert!(plan(src.to_str().unwrap(), out.to_str().unwrap(), false, encrypted_name).is_err());
    }

    #[test]
    fn failed_operation_leaves_no_output_file() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("out");
        let r: Result<(), io::Error> = write_all_or_nothing(&Sink::File(target.clone()), |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "temporary file left behind");
        write_all_or_nothing::<_, io::Error>(&Sink::File(target.clone()), |w| w.write_all(b"whole")).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
    }

    #[test]
    fn every_file_runs_once_and_failures_are_counted_in_parallel_and_in_order() {
        let jobs: Vec<usize> = (0..100).collect();
        for in_order in [false, true] {
            let seen = std::sync::Mutex::new(Vec::new());
            let failures = for_each_file(&jobs, in_order, |j| {
                seen.lock().unwrap().push(*j);
                j % 7 != 0
            });
            assert_eq!(failures, 15);
            let mut seen = seen.into_inner().unwrap();
            if in_order {
                assert_eq!(seen, jobs, "in_order keeps the file order");
            }
            seen.sort();
            assert_eq!(seen, jobs);
        }
    }

    #[test]
    fn output_equal_to_input_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        std::fs::write(&f, b"1").unwrap();
        assert!(plan(f.to_str().unwrap(), f.to_str().unwrap(), false, encrypted_name).is_err());
    }
}
