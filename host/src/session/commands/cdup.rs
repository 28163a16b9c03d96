use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> io::Result<()> {
    let parent = s.user().cwd.parent();
    super::cwd::change_to(s, parent).await
}
