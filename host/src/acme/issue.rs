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

pub async fn issue(
    section: &AcmeSection,
    dir: &Path,
    pending: &Pending,
) -> Result<Issued, AcmeError> {
    let account = account(section, dir).await?;
    let identifiers: Vec<Identifier> = section
        .domains
        .iter()
        .map(|d| Identifier::Dns(d.clone()))
        .collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(|e| AcmeError::Ca(format!("new order: {e}")))?;
    let _withdraw = ClearOnDrop(pending);
    let kind = match section.challenge {
        Challenge::Http01 => ChallengeType::Http01,
        Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
    };
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| AcmeError::Ca(format!("authorization: {e}")))?;
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
            .map_err(|e| AcmeError::Ca(format!("challenge for {domain}: {e}")))?;
    }
    let status = order
        .poll_ready(&patience())
        .await
        .map_err(|e| AcmeError::Ca(format!("waiting for the challenges: {e}")))?;
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
        .map_err(|e| AcmeError::Ca(format!("finalize: {e}")))?;
    let chain_pem = order
        .poll_certificate(&patience())
        .await
        .map_err(|e| AcmeError::Ca(format!("certificate: {e}")))?;
    Ok(Issued { chain_pem, key_pem })
}

/// The saved account for this directory, or a new one (saved, mode 0600).
async fn account(section: &AcmeSection, dir: &Path) -> Result<Account, AcmeError> {
    let builder = || match &section.ca_root {
        Some(root) => Account::builder_with_root(root)
            .map_err(|e| AcmeError::Local(format!("acme.ca_root {}: {e}", root.display()))),
        None => Account::builder().map_err(|e| AcmeError::Local(e.to_string())),
    };
    let path = dir.join("account.json");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(saved) = serde_json::from_str::<SavedAccount>(&text)
        && saved.directory == section.directory
    {
        return builder()?
            .from_credentials(saved.credentials)
            .await
            .map_err(|e| AcmeError::Ca(format!("account: {e}")));
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
        .map_err(|e| AcmeError::Ca(format!("new account at {}: {e}", section.directory)))?;
    let saved = SavedAccount {
        directory: section.directory.clone(),
        credentials,
    };
    let text = serde_json::to_string_pretty(&saved).map_err(|e| AcmeError::Local(e.to_string()))?;
    super::files::write_private(&path, text.as_bytes())?;
    tracing::info!(directory = %section.directory, id = account.id(), "ACME account created");
    Ok(account)
}
