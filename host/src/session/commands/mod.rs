//! One file per FTP verb. `dispatch` applies the rules every verb shares, as each verb's row in
//! `protocol::verbs` declares them — login, TLS, EPSV ALL, what REST/RANG/RNFR state survives,
//! the data plan consumed — and path verbs pass their row's gate (`Session::gate`: right, then
//! the `command` hook) once they have resolved their path, so each verb file holds only its
//! own logic. What depends on a verb's argument stays with the verb: PROT C refused on a
//! TLS-only listener (`prot.rs`), and `Session::data_ready` (a plan, not expired, protected
//! when required), which transfers call after their path gate so that a refusal about the
//! path comes before one about the data connection.
//!
//! Adding a verb: a `Command` variant and its parsing (`protocol::parse`), its name in
//! `Command::verb` and its row in `protocol::verbs::VERBS` (the unit test there fails until
//! both exist), a file here with `handle(s, args) -> Handled`, and its arm in `dispatch`.

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
use crate::protocol::verbs::Data;
use std::io;

use crate::session::refusal::Refusal;

use super::state::Session;
use crate::protocol::Command;

pub use crate::protocol::verbs::is_data_verb;

/// Runs one command: the phases its row in `protocol::verbs` declares, in this order, then
/// its handler, then the one place its outcome becomes a reply.
pub async fn dispatch(s: &mut Session, cmd: Command) -> io::Result<()> {
    use Command as C;
    let rules = cmd.rules();
    s.ftp.verb = rules.verb;
    // 1. Login.
    if s.login.is_none() && !cmd.allowed_before_login() {
        return s
            .refuse(Refusal::new(
                Code::NOT_LOGGED_IN,
                "Please log in with USER and PASS first.",
            ))
            .await;
    }
    // 2. TLS: no plaintext login on a listener that requires TLS.
    if rules.clear_refused && s.tls.required && !s.link.control.is_tls() && !s.tls.ccc_done {
        return s
            .refuse(Refusal::new(
                Code::NOT_LOGGED_IN,
                "TLS required: send AUTH TLS before USER (this server does not accept plaintext logins).",
            ))
            .await;
    }
    // 3. EPSV ALL: from then on only EPSV sets up data connections (RFC 2428).
    if rules.epsv_all_refused && s.ftp.epsv_all {
        return s
            .refuse(Refusal::new(
                Code::BAD_ARGUMENTS,
                format!("{} refused after EPSV ALL; use EPSV.", rules.verb),
            ))
            .await;
    }
    // No reply overtakes a TLS handshake the client already began on its data connection
    // (a 150, or a refusal such as curl's SIZE of a missing file, after which the client closes
    // it): the tickets that handshake sends reach the client first (see `data::pending`).
    if let Some(crate::data::DataPlan::Passive(p)) = s.data.as_mut() {
        p.settle_early(s.cfg.tls_handshake_timeout()).await;
    }
    // 4. State that survives only some verbs. REST applies to the transfer that follows it
    // (data setup and transfer parameters may come between); any other verb drops it, so a
    // stale offset never hits a later STOR. RANG sets the range of the next HASH only, and a
    // transfer drops it. RNTO must follow RNFR directly.
    if !rules.keeps_rest {
        s.ftp.rest = 0;
        // ALLO announces the size of the upload that follows (STOU included).
        if !matches!(cmd, C::Stou(_)) {
            s.ftp.declared_size = None;
        }
    }
    if rules.data == Data::Transfers {
        s.ftp.hash_range = None;
    }
    let rename_from = if matches!(cmd, C::Rnto(_)) {
        s.ftp.rename_from.take()
    } else {
        s.ftp.rename_from.take().and(None)
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
        C::Allo(size) => allo::handle(s, size).await,
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
    // 5. A data plan is for one listing or transfer: the verb that would use it consumes it,
    // whether it ran or was refused (rights, plugin, missing file), so a refusal never leaves a
    // listener or an early data connection behind.
    if matches!(rules.data, Data::Lists | Data::Transfers) {
        s.data = None;
    }
    s.conclude(result).await
}
