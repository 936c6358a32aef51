//! Permissions and API keys: what gates restricted offerings (`open: false`).
//!
//! A permission grants offerings; a key's accesses name permissions (and optionally a subset
//! of their offerings). A key's value is random (244 bits), shown once at creation; only its
//! SHA-256 is kept, and servers compare hashes in constant time.

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::db::{self, Kind};
use crate::model::{Key, KeyAccess, Offering, Permission, Reference};
use crate::{check_datastore, new_id, now, Catalog, CatalogError, DEFAULT_DATASTORE};

/// A new permission.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct NewPermission {
    /// Licence text.
    #[serde(default)]
    pub licence: String,
    /// End date (RFC 3339).
    #[serde(default)]
    pub end_date: Option<String>,
    /// Offering ids granted.
    pub offerings: Vec<String>,
}

/// A new key.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct NewKey {
    /// Name.
    pub name: String,
    /// What it may use.
    #[serde(default)]
    pub accesses: Vec<KeyAccess>,
}

/// What one key grants, as servers check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    /// SHA-256 of the key value.
    pub hash: [u8; 32],
    /// Offering ids it grants.
    pub offerings: Vec<String>,
}

/// A random secret (244 bits from two UUID v4s), 64 hex digits: key values and the generated
/// API token.
pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// SHA-256 of a key value.
pub fn hash_key(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

impl Catalog {
    /// Creates a permission granting offerings.
    pub fn create_permission(
        &self,
        datastore: &str,
        new: NewPermission,
    ) -> Result<Permission, CatalogError> {
        check_datastore(datastore)?;
        if let Some(date) = &new.end_date {
            humantime::parse_rfc3339_weak(date).map_err(|_| {
                CatalogError::Invalid(format!(
                    "end_date '{date}' is not a date: write it as 2027-12-31T23:59:59Z"
                ))
            })?;
        }
        if new.offerings.is_empty() {
            return Err(CatalogError::Invalid(
                "offerings is empty: name the offerings this permission grants".to_owned(),
            ));
        }
        self.change(true, |tx| {
            let mut offerings = Vec::new();
            for id in &new.offerings {
                let offering: Offering = db::get(tx, Kind::Offering, datastore, id)?;
                offerings.push(Reference {
                    id: offering.id,
                    name: offering.layer_name,
                });
            }
            let permission = Permission {
                id: new_id(),
                licence: new.licence,
                end_date: new.end_date,
                offerings,
                creation: now(),
            };
            db::put(
                tx,
                Kind::Permission,
                datastore,
                &permission.id,
                &permission.creation,
                &permission,
            )?;
            Ok(permission)
        })
    }

    /// Every permission.
    pub fn permissions(&self, datastore: &str) -> Result<Vec<Permission>, CatalogError> {
        check_datastore(datastore)?;
        db::list(&self.db(), Kind::Permission, datastore)
    }

    /// A permission.
    pub fn permission(&self, datastore: &str, id: &str) -> Result<Permission, CatalogError> {
        check_datastore(datastore)?;
        db::get(&self.db(), Kind::Permission, datastore, id)
    }

    /// Deletes a permission: keys lose what it granted.
    pub fn delete_permission(&self, datastore: &str, id: &str) -> Result<(), CatalogError> {
        self.change(true, |tx| {
            let _: Permission = db::get(tx, Kind::Permission, datastore, id)?;
            db::delete(tx, id)
        })
    }

    /// Creates a key; returns it and its value (shown this once).
    pub fn create_key(&self, new: NewKey) -> Result<(Key, String), CatalogError> {
        if new.name.trim().is_empty() {
            return Err(CatalogError::Invalid(
                "name is empty: name the key".to_owned(),
            ));
        }
        let value = random_secret();
        let key = Key {
            id: new_id(),
            name: new.name,
            kind: "HASH".to_owned(),
            accesses: new.accesses,
            creation: now(),
            hash: crate::uploads::hex(&hash_key(&value)),
        };
        self.change(true, |tx| {
            for access in &key.accesses {
                check_access(tx, access)?;
            }
            db::put(
                tx,
                Kind::Key,
                DEFAULT_DATASTORE,
                &key.id,
                &key.creation,
                &key.stored(),
            )
        })?;
        Ok((key, value))
    }

    /// Adds an access to a key.
    pub fn add_key_access(&self, key: &str, access: KeyAccess) -> Result<Key, CatalogError> {
        self.change(true, |tx| {
            let mut stored: Key = db::get(tx, Kind::Key, DEFAULT_DATASTORE, key)?;
            check_access(tx, &access)?;
            stored.accesses.push(access);
            db::put(
                tx,
                Kind::Key,
                DEFAULT_DATASTORE,
                key,
                &stored.creation,
                &stored.stored(),
            )?;
            Ok(stored)
        })
    }

    /// Every key (without values).
    pub fn keys(&self) -> Result<Vec<Key>, CatalogError> {
        db::list(&self.db(), Kind::Key, DEFAULT_DATASTORE)
    }

    /// Deletes a key.
    pub fn delete_key(&self, id: &str) -> Result<(), CatalogError> {
        self.change(true, |tx| {
            let _: Key = db::get(tx, Kind::Key, DEFAULT_DATASTORE, id)?;
            db::delete(tx, id)
        })
    }
}

/// An access must name an existing permission and only offerings it grants.
fn check_access(tx: &rusqlite::Transaction<'_>, access: &KeyAccess) -> Result<(), CatalogError> {
    let permission: Permission =
        db::get(tx, Kind::Permission, DEFAULT_DATASTORE, &access.permission)?;
    match access
        .offerings
        .iter()
        .find(|o| !permission.offerings.iter().any(|p| &p.id == *o))
    {
        Some(outside) => Err(CatalogError::Invalid(format!(
            "offering '{outside}' is not granted by permission '{}'",
            permission.id
        ))),
        None => Ok(()),
    }
}

/// Every key's grants: the offerings of its accesses' permissions that have not ended.
pub(crate) fn grants(tx: &rusqlite::Transaction<'_>) -> Result<Vec<KeyGrant>, CatalogError> {
    let keys: Vec<Key> = db::list(tx, Kind::Key, DEFAULT_DATASTORE)?;
    let permissions: Vec<Permission> = db::list(tx, Kind::Permission, DEFAULT_DATASTORE)?;
    let now = std::time::SystemTime::now();
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let Some(hash) = parse_hash(&key.hash) else {
            continue;
        };
        let mut offerings: Vec<String> = Vec::new();
        for access in &key.accesses {
            let Some(permission) = permissions.iter().find(|p| p.id == access.permission) else {
                continue;
            };
            let ended = permission
                .end_date
                .as_deref()
                .and_then(|d| humantime::parse_rfc3339_weak(d).ok())
                .is_some_and(|end| end < now);
            if ended {
                continue;
            }
            offerings.extend(
                permission
                    .offerings
                    .iter()
                    .filter(|o| access.offerings.is_empty() || access.offerings.contains(&o.id))
                    .map(|o| o.id.clone()),
            );
        }
        offerings.sort();
        offerings.dedup();
        found.push(KeyGrant { hash, offerings });
    }
    Ok(found)
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (k, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * k..2 * k + 2)?, 16).ok()?;
    }
    Some(hash)
}
