//! The open-file limit, raised at start. Each session holds a few descriptors (control
//! connection, passive listener, data connection, an open file), and the usual soft limit of
//! 1024 would cap a server at a few hundred sessions (and `max_users` defaults to a quarter of
//! it) while the hard limit allows far more. Servers raise it themselves (nginx's
//! `worker_rlimit_nofile`, the Go runtime since 1.19); so does ftpsd, to the hard limit (at most
//! 1,048,576), before the config is read.

/// Raises the soft limit to the hard one; the limits before and after, or None if unchanged.
pub fn raise() -> Option<(u64, u64)> {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given; nothing else is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } != 0 {
        return None;
    }
    let want = l.rlim_max.min(1 << 20);
    if l.rlim_cur == libc::RLIM_INFINITY || l.rlim_cur >= want {
        return None;
    }
    let before = l.rlim_cur;
    l.rlim_cur = want;
    // SAFETY: setrlimit reads the struct it is given.
    (unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } == 0).then_some((before, want))
}
