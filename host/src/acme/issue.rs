//! One certificate order, start to finish: the account (created once, then reused from
//! `account.json`), the order for the configured domains, the challenges answered by the
//! responders, the CSR for a fresh key, the chain.

use std::path::Path;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use serde::{Deserialize, Serialize};

use super::AcmeError;
use super::pending::{ClearOnDrop, Pending};
use super::section::{AcmeSection, Challenge};

/// A certificate chain and its new private key, both PEM.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
}

/// What `account.json` holds: the account of one directory.
#[derive(Serialize, Deserialize)]
struct SavedAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// How long the CA may take to check the challenges, and to sign.
fn patience() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(Duration::from_secs(120))
}

/// An ACME error in words: the whole chain of causes (a connection error says why), and what
/// to check for the kinds an operator can fix.
pub fn explain(stage: &str, e: &instant_acme::Error, section: &AcmeSection) -> AcmeError {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    let network = matches!(
        e,
        instant_acme::Error::Hyper(_) | instant_acme::Error::Other(_)
    );
    let hint = if network && text.to_ascii_lowercase().contains("certificate") {
        Some(match &section.ca_root {
            Some(root) => format!(
                "the directory's HTTPS certificate is not trusted: acme.ca_root ({}) must be the certificate that {} presents, or the CA that signed it",
                root.display(),
                section.directory
            ),
            None => format!(
                "the directory's HTTPS certificate is not trusted by this system; for a private CA set acme.ca_root to the certificate {} presents",
                section.directory
            ),
        })
    } else if network {
        Some(format!(
            "is {} reachable from this server?",
            section.directory
        ))
    } else if matches!(e, instant_acme::Error::Json(_)) {
        Some(format!(
            "{} did not answer like an ACME directory: is acme.directory the CA's directory URL?",
            section.directory
        ))
    } else {
        None
    };
    AcmeError::Ca(match hint {
        Some(h) => format!("{stage}: {text} ({h})"),
        None => format!("{stage}: {text}"),
    })
}

fn account_gone(e: &instant_acme::Error) -> bool {
    matches!(e, instant_acme::Error::Api(p)
        if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:accountDoesNotExist"))
}

pub async fn issue(
    section: &AcmeSection,
    dir: &Path,
    pending: &Pending,
) -> Result<Issued, AcmeError> {
    let identifiers: Vec<Identifier> = section
        .domains
        .iter()
        .map(|d| Identifier::Dns(d.clone()))
        .collect();
    let saved = account(section, dir).await?;
    let mut order = match saved.new_order(&NewOrder::new(&identifiers)).await {
        Ok(o) => o,
        // The CA forgot the saved account (a test CA restarted, an account deactivated
        // elsewhere): register a new one, once.
        Err(e) if account_gone(&e) => {
            tracing::warn!(directory = %section.directory, "the CA no longer knows the saved ACME account; registering a new one");
            let _ = std::fs::remove_file(dir.join("account.json"));
            account(section, dir)
                .await?
                .new_order(&NewOrder::new(&identifiers))
                .await
                .map_err(|e| explain("new order", &e, section))?
        }
        Err(e) => return Err(explain("new order", &e, section)),
    };
    let _withdraw = ClearOnDrop(pending);
    let kind = match section.challenge {
        Challenge::Http01 => ChallengeType::Http01,
        Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
    };
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| explain("authorization", &e, section))?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => {
                return Err(AcmeError::Ca(format!(
                    "authorization for {} is {other:?}",
                    authz.identifier()
                )));
            }
        }
        let domain = authz.identifier().to_string();
        let mut challenge = authz.challenge(kind.clone()).ok_or_else(|| {
            AcmeError::Ca(format!(
                "the CA offers no {} challenge for {domain}",
                section.challenge.as_str()
            ))
        })?;
        let key_auth = challenge.key_authorization();
        match section.challenge {
            Challenge::Http01 => {
                pending.publish_http(challenge.token.clone(), key_auth.as_str().to_string())
            }
            Challenge::TlsAlpn01 => pending.publish_alpn(
                &domain,
                super::tls_alpn01::challenge_cert(&domain, key_auth.digest().as_ref())
                    .map_err(AcmeError::Local)?,
            ),
        }
        challenge
            .set_ready()
            .await
            .map_err(|e| explain(&format!("challenge for {domain}"), &e, section))?;
    }
    let status = order
        .poll_ready(&patience())
        .await
        .map_err(|e| explain("waiting for the challenges", &e, section))?;
    if status != OrderStatus::Ready {
        return Err(AcmeError::Ca(format!(
            "the CA did not accept the {} challenge (order {status:?}); check that {} reaches this server",
            section.challenge.as_str(),
            match section.challenge {
                Challenge::Http01 => "port 80 of every domain",
                Challenge::TlsAlpn01 => "port 443 of every domain",
            }
        )));
    }
    let key_pem = order
        .finalize()
        .await
        .map_err(|e| explain("finalize", &e, section))?;
    let chain_pem = order
        .poll_certificate(&patience())
        .await
        .map_err(|e| explain("certificate", &e, section))?;
    Ok(Issued { chain_pem, key_pem })
}

/// The saved account for this directory, or a new one (saved, mode 0600).
async fn account(section: &AcmeSection, dir: &Path) -> Result<Account, AcmeError> {
    let builder = || -> Result<instant_acme::AccountBuilder, AcmeError> {
        let client = super::http_client::BoundedClient::new(section.ca_root.as_deref())
            .map_err(AcmeError::Local)?;
        Ok(Account::builder_with_http(Box::new(client)))
    };
    let path = dir.join("account.json");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(saved) = serde_json::from_str::<SavedAccount>(&text)
        && saved.directory == section.directory
    {
        match builder()?.from_credentials(saved.credentials).await {
            Ok(a) => return Ok(a),
            // Unusable credentials (a damaged key): a new account, not the same failure forever.
            Err(e @ (instant_acme::Error::KeyRejected | instant_acme::Error::Crypto)) => {
                tracing::warn!(file = %path.display(), error = %e, "the saved ACME account cannot be used; registering a new one");
            }
            Err(e) => return Err(explain("account", &e, section)),
        }
    }
    let contact: Vec<&str> = section.contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder()?
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            section.directory.clone(),
            None,
        )
        .await
        .map_err(|e| {
            explain(
                &format!("new account at {}", section.directory),
                &e,
                section,
            )
        })?;
    let saved = SavedAccount {
        directory: section.directory.clone(),
        credentials,
    };
    let text = serde_json::to_string_pretty(&saved).map_err(|e| AcmeError::Local(e.to_string()))?;
    super::files::write_private(&path, text.as_bytes())?;
    tracing::info!(directory = %section.directory, id = account.id(), "ACME account created");
    Ok(account)
}
