//! CDUP: up one level. When the parent is gone (a share withdrawn, a folder removed by another
//! session), the nearest ancestor that still exists: the user is never stuck in a folder that
//! no longer has a way up.

use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
    let mut target = s.user().cwd.parent();
    while !target.is_root() {
        let p = target.clone();
        if s.fs(move |v| v.is_dir(&p)).await.unwrap_or(false) {
            break;
        }
        target = target.parent();
    }
    super::cwd::change_to(s, target).await
}
