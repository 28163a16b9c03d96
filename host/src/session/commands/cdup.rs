use crate::session::Handled;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> Handled {
    let parent = s.user().cwd.parent();
    super::cwd::change_to(s, parent).await
}
