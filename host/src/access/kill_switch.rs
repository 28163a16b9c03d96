//! How a logged-in session is told to end (a users-file reload that deletes or disables its
//! user, an admin kick): a reason set once, and a wake-up. Every logged-in session holds one,
//! so it is small (a `watch` channel carried eight wait lists, ~370 bytes per session).

use std::sync::OnceLock;

use tokio::sync::Notify;

#[derive(Default)]
pub struct KillSwitch {
    reason: OnceLock<String>,
    wake: Notify,
}

impl KillSwitch {
    /// Ends the session with `reason`; the first reason given is the one it reports.
    pub fn pull(&self, reason: &str) {
        let _ = self.reason.set(reason.to_string());
        self.wake.notify_waiters();
    }

    pub fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }

    /// [`KillSwitch::pulled`] of a session's switch; never without one (not logged in).
    pub async fn pulled_or_never(switch: Option<&KillSwitch>) -> String {
        match switch {
            Some(k) => k.pulled().await,
            None => std::future::pending().await,
        }
    }

    /// Resolves with the reason once the switch is pulled (at once if it already was).
    pub async fn pulled(&self) -> String {
        loop {
            let woken = self.wake.notified();
            let mut woken = std::pin::pin!(woken);
            // Registered before the check: a pull between the check and the wait still wakes.
            woken.as_mut().enable();
            if let Some(r) = self.reason.get() {
                return r.clone();
            }
            woken.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_waiting_session_hears_the_first_reason() {
        let k = Arc::new(KillSwitch::default());
        let waiting = tokio::spawn({
            let k = k.clone();
            async move { k.pulled().await }
        });
        tokio::task::yield_now().await;
        k.pull("deleted");
        k.pull("kicked");
        assert_eq!(waiting.await.unwrap(), "deleted");
        assert_eq!(k.reason(), Some("deleted"));
        assert_eq!(
            k.pulled().await,
            "deleted",
            "pulled before the wait: at once"
        );
    }
}
