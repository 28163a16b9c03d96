use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::protocol::reply::quote_path;
use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
    let cwd = quote_path(&s.user().cwd.as_string());
    s.reply(
        Code::PATH_CREATED,
        format!("{cwd} is the current directory."),
    )
    .await
}
