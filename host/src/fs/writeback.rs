//! Early writeback of an upload: the kernel starts writing each few MiB to disk while the
//! rest is still arriving, so the fsync before 226 finds little left to write (a 1 GiB upload
//! otherwise receives at memory speed, then waits for the whole GiB at the end). Waiting for
//! the ranges a few windows back also bounds each upload's dirty pages, so many parallel
//! uploads do not fill memory with data the disk has not taken.
//!
//! Errors of the wait are returned, not dropped: the wait consumes the file's writeback
//! error, and the final fsync would then not report it.

/// Bytes written before their writeback is started.
pub const WINDOW: u64 = 8 << 20;
/// Bytes started but not waited for: the writer waits for what lies further back.
pub const LAG: u64 = 4 * WINDOW;

/// What the writer asks of the kernel after a write.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    /// Start writing back `(offset, len)`.
    pub start: Option<(u64, u64)>,
    /// Wait until `(offset, len)` is on disk.
    pub wait: Option<(u64, u64)>,
}

/// Which ranges of a file have had their writeback started and waited for. Pure: the file
/// calls are made by [`Writeback::after_write`].
#[derive(Debug, Default)]
pub struct Ranges {
    /// Where this upload began writing (None until its first write).
    started_to: Option<u64>,
    waited_to: u64,
}

impl Ranges {
    /// The steps due once the file has been written up to `end`, of which this write was
    /// `len` bytes.
    pub fn after_write(&mut self, end: u64, len: u64) -> Steps {
        let started_to = *self.started_to.get_or_insert_with(|| {
            let begin = end.saturating_sub(len);
            self.waited_to = begin;
            begin
        });
        let mut steps = Steps::default();
        if end >= started_to + WINDOW {
            steps.start = Some((started_to, end - started_to));
            self.started_to = Some(end);
            if end >= self.waited_to + LAG + WINDOW {
                let upto = end - LAG;
                steps.wait = Some((self.waited_to, upto - self.waited_to));
                self.waited_to = upto;
            }
        }
        steps
    }
}

/// [`Ranges`] applied to one file.
#[derive(Debug, Default)]
pub struct Writeback(Ranges);

impl Writeback {
    #[cfg(target_os = "linux")]
    pub fn after_write(&mut self, file: &mut std::fs::File, len: usize) -> std::io::Result<()> {
        use std::io::Seek;
        use std::os::fd::AsRawFd;
        let end = file.stream_position()?;
        let steps = self.0.after_write(end, len as u64);
        let fd = file.as_raw_fd();
        let call = |(offset, len): (u64, u64), flags: libc::c_uint| -> std::io::Result<()> {
            // SAFETY: a plain system call on a descriptor borrowed for its duration.
            let r = unsafe { libc::sync_file_range(fd, offset as i64, len as i64, flags) };
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        if let Some(range) = steps.start {
            call(range, libc::SYNC_FILE_RANGE_WRITE)?;
        }
        if let Some(range) = steps.wait {
            call(
                range,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            )?;
        }
        Ok(())
    }

    /// Elsewhere the final fsync does it all.
    #[cfg(not(target_os = "linux"))]
    pub fn after_write(&mut self, _file: &mut std::fs::File, _len: usize) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn writeback_starts_a_window_at_a_time_and_waits_a_lag_behind() {
        let mut r = Ranges::default();
        let mut starts = Vec::new();
        let mut waits = Vec::new();
        for i in 1..=64u64 {
            let s = r.after_write(i * MIB, MIB);
            starts.extend(s.start);
            waits.extend(s.wait);
        }
        assert_eq!(starts.len(), 8);
        assert!(starts.iter().all(|&(_, len)| len == WINDOW));
        // Contiguous, from the first byte written.
        assert_eq!(starts[0].0, 0);
        assert!(starts.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0));
        // Waits cover everything up to LAG behind the last start, contiguously.
        assert_eq!(waits[0].0, 0);
        assert!(waits.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0));
        let (o, l) = *waits.last().unwrap();
        assert_eq!(o + l, 64 * MIB - LAG);
    }

    #[test]
    fn an_append_or_resume_starts_where_the_upload_began() {
        let mut r = Ranges::default();
        let base = 5_000 * MIB + 17;
        assert_eq!(r.after_write(base + MIB, MIB), Steps::default());
        let s = r.after_write(base + WINDOW, WINDOW - MIB);
        assert_eq!(s.start, Some((base, WINDOW)));
        assert_eq!(s.wait, None);
    }

    #[test]
    fn small_uploads_ask_nothing_of_the_kernel() {
        let mut r = Ranges::default();
        for i in 1..8u64 {
            assert_eq!(r.after_write(i * MIB, MIB), Steps::default());
        }
    }

    #[test]
    fn writes_larger_than_a_window_are_started_whole() {
        let mut r = Ranges::default();
        let s = r.after_write(100 * MIB, 100 * MIB);
        assert_eq!(s.start, Some((0, 100 * MIB)));
        assert_eq!(s.wait, Some((0, 100 * MIB - LAG)));
    }
}
