use std::io;
use std::net::SocketAddr;

use crate::session::Session;

pub async fn handle(s: &mut Session, target: SocketAddr) -> io::Result<()> {
    super::port::set_active(s, target, "EPRT").await
}
