use crate::session::refusal::Handled;
use std::net::SocketAddr;

use crate::session::state::Session;

pub async fn handle(s: &mut Session, target: SocketAddr) -> Handled {
    super::port::set_active(s, target, "EPRT").await
}
