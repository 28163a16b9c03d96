use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
    let parent = s.user().cwd.parent();
    super::cwd::change_to(s, parent).await
}
