//! One file per FTP verb. `dispatch` applies the rules every verb shares — login required,
//! what REST/RANG/RNFR state survives a command, the data plan consumed by the verb that uses
//! it — and path verbs pass their declared gates (`session::gates`: right, then the `command`
//! hook), so each verb file holds only its own logic. TLS-required (USER, PROT, data
//! connections) and EPSV ALL (PASV, PORT) stay with the verbs they concern.

pub mod abor;
pub mod allo;
pub mod appe;
pub mod auth;
pub mod avbl;
pub mod ccc;
pub mod cdup;
pub mod cwd;
pub mod dele;
pub mod eprt;
pub mod epsv;
pub mod feat;
pub mod hash;
pub mod help;
pub mod list;
pub mod mdtm;
pub mod mfmt;
pub mod mkd;
pub mod mlsd;
pub mod mlst;
pub mod mode;
pub mod nlst;
pub mod noop;
pub mod opts;
pub mod pass;
pub mod pasv;
pub mod pbsz;
pub mod port;
pub mod prot;
pub mod pwd;
pub mod quit;
pub mod rest;
pub mod retr;
pub mod rmd;
pub mod rnfr;
pub mod rnto;
pub mod site;
pub mod site_chmod;
pub mod size;
pub mod stat;
pub mod stor;
pub mod stou;
pub mod stru;
pub mod syst;
pub mod type_;
pub mod user;

use crate::protocol::Code;
use std::io;

use crate::session::refusal::Refusal;

use super::state::Session;
use crate::protocol::Command;

/// The verbs that consume a pending data plan (PASV/EPSV/PORT/EPRT), whether they run or not.
const DATA_VERBS: [&str; 7] = ["RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD"];

/// Whether a raw control line names a data verb (for lines that do not parse).
pub fn is_data_verb(line: &[u8]) -> bool {
    let verb = line
        .split(|b| b.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    DATA_VERBS
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(verb))
}

/// Commands allowed before login.
fn allowed_before_login(cmd: &Command) -> bool {
    use Command::*;
    matches!(
        cmd,
        User(_)
            | Pass(_)
            | Quit
            | Noop
            | Syst
            | Feat
            | Opts(_)
            | Help(_)
            | Auth(_)
            | Pbsz(_)
            | Prot(_)
            | Ccc
            | Stat(None)
            | Abor
    )
}

pub async fn dispatch(s: &mut Session, cmd: Command) -> io::Result<()> {
    use Command as C;
    if s.login.is_none() && !allowed_before_login(&cmd) {
        return s
            .refuse(Refusal::new(
                Code::NOT_LOGGED_IN,
                "Please log in with USER and PASS first.",
            ))
            .await;
    }
    // No reply overtakes a TLS handshake the client already began on its data connection
    // (a 150, or a refusal such as curl's SIZE of a missing file, after which the client closes
    // it): the tickets that handshake sends reach the client first (see `data::pending`).
    if let Some(crate::data::DataPlan::Passive(p)) = s.data.as_mut() {
        p.settle_early(s.cfg.tls_handshake_timeout()).await;
    }
    // REST applies to the transfer command that follows it (data-channel setup may come in
    // between); any other command drops it, so a stale offset never hits a later STOR. RANG
    // sets the range of the next HASH only (transfers take no range here) and a transfer
    // command drops it too.
    if !matches!(
        cmd,
        C::Rest(_)
            | C::Retr(_)
            | C::Stor(_)
            | C::Appe(_)
            | C::Pasv
            | C::Epsv(_)
            | C::Port(_)
            | C::Eprt(_)
            | C::Type(_)
            | C::Mode(_)
            | C::Stru(_)
            | C::Prot(_)
            | C::Pbsz(_)
            | C::Allo
    ) {
        s.rest = 0;
    }
    if matches!(cmd, C::Retr(_) | C::Stor(_) | C::Appe(_) | C::Stou(_)) {
        s.hash_range = None;
    }
    // A data plan (PASV/EPSV/PORT/EPRT) is for one transfer: the verb that would use it
    // consumes it, whether it runs or is refused (rights, plugin, missing file), so a refusal
    // never leaves a listener or an early data connection behind.
    let uses_data = matches!(
        cmd,
        C::Retr(_) | C::Stor(_) | C::Stou(_) | C::Appe(_) | C::List(_) | C::Nlst(_) | C::Mlsd(_)
    );
    // RNTO must follow RNFR directly.
    let rename_from = if matches!(cmd, C::Rnto(_)) {
        s.rename_from.take()
    } else {
        s.rename_from.take().and(None)
    };
    let result = match cmd {
        C::User(name) => user::handle(s, name).await,
        C::Pass(pass) => pass::handle(s, pass).await,
        C::Quit => quit::handle(s).await,
        C::Noop => noop::handle(s).await,
        C::Syst => syst::handle(s).await,
        C::Feat => feat::handle(s).await,
        C::Opts(arg) => opts::handle(s, arg).await,
        C::Help(arg) => help::handle(s, arg).await,
        C::Stat(arg) => stat::handle(s, arg).await,
        C::Pwd => pwd::handle(s).await,
        C::Cwd(arg) => cwd::handle(s, arg).await,
        C::Cdup => cdup::handle(s).await,
        C::Mkd(arg) => mkd::handle(s, arg).await,
        C::Rmd(arg) => rmd::handle(s, arg).await,
        C::Dele(arg) => dele::handle(s, arg).await,
        C::Rnfr(arg) => rnfr::handle(s, arg).await,
        C::Rnto(arg) => rnto::handle(s, arg, rename_from).await,
        C::Size(arg) => size::handle(s, arg).await,
        C::Mdtm(arg) => mdtm::handle(s, arg).await,
        C::List(arg) => list::handle(s, arg).await,
        C::Nlst(arg) => nlst::handle(s, arg).await,
        C::Mlsd(arg) => mlsd::handle(s, arg).await,
        C::Mlst(arg) => mlst::handle(s, arg).await,
        C::Type(t) => type_::handle(s, t).await,
        C::Mode(_) => mode::handle(s).await,
        C::Stru(_) => stru::handle(s).await,
        C::Allo => allo::handle(s).await,
        C::Rest(n) => rest::handle(s, n).await,
        C::Retr(arg) => retr::handle(s, arg).await,
        C::Stor(arg) => stor::handle(s, arg).await,
        C::Stou(arg) => stou::handle(s, arg).await,
        C::Appe(arg) => appe::handle(s, arg).await,
        C::Abor => abor::handle(s).await,
        C::Pasv => pasv::handle(s).await,
        C::Epsv(arg) => epsv::handle(s, arg).await,
        C::Port(addr) => port::handle(s, addr).await,
        C::Eprt(addr) => eprt::handle(s, addr).await,
        C::Auth(mech) => auth::handle(s, mech).await,
        C::Pbsz(n) => pbsz::handle(s, n).await,
        C::Prot(level) => prot::handle(s, level).await,
        C::Ccc => ccc::handle(s).await,
        C::Site(sub) => site::handle(s, sub).await,
        C::Mfmt { time, path } => mfmt::handle(s, time, path).await,
        C::Hash(arg) => hash::hash(s, arg).await,
        C::XHash { algo, path, range } => hash::xhash(s, algo, path, range).await,
        C::Rang(start, end) => hash::rang(s, start, end).await,
        C::Avbl(arg) => avbl::handle(s, arg).await,
    };
    if uses_data {
        s.data = None;
    }
    s.conclude(result).await
}

#[cfg(test)]
mod tests {
    use super::is_data_verb;

    #[test]
    fn data_verbs_are_known_from_the_raw_line() {
        assert!(is_data_verb(b"RETR"));
        assert!(is_data_verb(b"stor \x00bad"));
        assert!(is_data_verb(b"Mlsd\r\n"));
        assert!(!is_data_verb(b"RETRX a"));
        assert!(!is_data_verb(b"SIZE a"));
        assert!(!is_data_verb(b""));
    }
}
