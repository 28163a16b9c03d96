//! What a reload finds changed: what it puts in force for new sessions, and what needs a
//! restart.

use super::{Config, ListenerSection};

impl Config {
    /// What differs between this config and `newer` that a reload cannot put in force: the
    /// sockets, files and subsystems set up once at start. `[[plugins]]` is applied by the
    /// plugin watcher; everything else by `live_changes`.
    pub fn changes_needing_restart(&self, newer: &Config) -> Vec<&'static str> {
        let d = |x: &dyn std::fmt::Debug| format!("{x:?}");
        let listen = |l: &Option<ListenerSection>| l.as_ref().map(|l| l.listen.clone());
        let (a, b) = (&self.server, &newer.server);
        [
            ("[server] data_dir", a.data_dir != b.data_dir),
            ("[server] users_file", a.users_file != b.users_file),
            ("[server] log_level", a.log_level != b.log_level),
            (
                "[server] shutdown_grace_secs",
                a.shutdown_grace_secs != b.shutdown_grace_secs,
            ),
            (
                "[explicit] listen",
                listen(&self.explicit) != listen(&newer.explicit),
            ),
            (
                "[implicit] listen",
                listen(&self.implicit) != listen(&newer.implicit),
            ),
            ("[message]", d(&self.message) != d(&newer.message)),
            ("[exec]", d(&self.exec) != d(&newer.exec)),
            (
                "[admin]",
                (
                    &self.admin.enabled,
                    &self.admin.listen,
                    &self.admin.token_file,
                ) != (
                    &newer.admin.enabled,
                    &newer.admin.listen,
                    &newer.admin.token_file,
                ),
            ),
            ("[log]", d(&self.log) != d(&newer.log)),
            ("[acme]", self.acme != newer.acme),
            (
                "[proxy_protocol]",
                d(&self.proxy_protocol) != d(&newer.proxy_protocol),
            ),
            ("[state]", d(&self.state) != d(&newer.state)),
            (
                "[tls] ticket_key_file",
                self.tls.ticket_key_file != newer.tls.ticket_key_file,
            ),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }

    /// Sections that differ between this config and `newer` and that a reload puts in force
    /// for new sessions (and new data connections of sessions started after it).
    pub fn live_changes(&self, newer: &Config) -> Vec<&'static str> {
        let d = |x: &dyn std::fmt::Debug| format!("{x:?}");
        let options = |l: &Option<ListenerSection>| {
            l.as_ref().map(|l| (l.require_tls, l.require_session_reuse))
        };
        let (a, b) = (&self.server, &newer.server);
        [
            ("[server] banner", a.banner != b.banner),
            ("[server] login_message", a.login_message != b.login_message),
            ("[server] sync_uploads", a.sync_uploads != b.sync_uploads),
            (
                "[admin] metrics_public",
                self.admin.metrics_public != newer.admin.metrics_public,
            ),
            (
                "[server] timeouts",
                (
                    a.idle_timeout_secs,
                    a.login_timeout_secs,
                    a.tls_handshake_timeout_secs,
                    a.data_timeout_secs,
                ) != (
                    b.idle_timeout_secs,
                    b.login_timeout_secs,
                    b.tls_handshake_timeout_secs,
                    b.data_timeout_secs,
                ),
            ),
            (
                "[server] login_failure_delay_ms",
                a.login_failure_delay_ms != b.login_failure_delay_ms,
            ),
            (
                "[server] connection limits",
                (a.max_users, a.max_connections_per_ip) != (b.max_users, b.max_connections_per_ip),
            ),
            ("[tls]", d(&self.tls) != d(&newer.tls)),
            (
                "[explicit] options",
                options(&self.explicit) != options(&newer.explicit),
            ),
            (
                "[implicit] options",
                options(&self.implicit) != options(&newer.implicit),
            ),
            ("[passive]", d(&self.passive) != d(&newer.passive)),
            ("[active]", d(&self.active) != d(&newer.active)),
            ("[listing]", d(&self.listing) != d(&newer.listing)),
            ("[access]", d(&self.access) != d(&newer.access)),
            ("[login]", d(&self.login) != d(&newer.login)),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }
}
