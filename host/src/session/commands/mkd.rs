use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::protocol::reply::quote_path;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    let path = s.resolve(&arg)?;
    s.gate(&path).await?;
    let p = path.clone();
    match s.fs(move |v| v.mkdir(&p)).await {
        Ok(()) => {
            s.reply(
                Code::PATH_CREATED,
                format!("{} created.", quote_path(&path.as_string())),
            )
            .await
        }
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
