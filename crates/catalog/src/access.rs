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
        self.resources(Kind::Permission, datastore)
    }

    /// A permission.
    pub fn permission(&self, datastore: &str, id: &str) -> Result<Permission, CatalogError> {
        self.resource(Kind::Permission, datastore, id)
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
        self.read(|sql| db::list(sql, Kind::Key, DEFAULT_DATASTORE))
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
fn check_access(tx: &crate::db::Sql<'_>, access: &KeyAccess) -> Result<(), CatalogError> {
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
pub(crate) fn grants(tx: &crate::db::Sql<'_>) -> Result<Vec<KeyGrant>, CatalogError> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{
        catalog, communes_sld, communes_stored, invalid, not_found, publisher, style, wms_vector,
        RecordingPublisher, TestCatalog, DS,
    };
    use crate::uploads::hex;
    use crate::NewOffering;

    /// Two restricted offerings (layers `a` and `b`) and the recording publisher.
    fn restricted(catalog: &TestCatalog) -> (Arc<RecordingPublisher>, [String; 2]) {
        let publisher = publisher(catalog);
        let stored = communes_stored(catalog);
        let style = style(catalog, &communes_sld());
        let offer = |layer: &str| {
            let configuration = catalog
                .create_configuration(DS, wms_vector(layer, &stored.id, "communes_idf", &style))
                .unwrap();
            let new = NewOffering {
                endpoint: "wms-vector".into(),
                open: false,
            };
            catalog
                .create_offering(DS, &configuration.id, &new)
                .unwrap()
                .0
                .id
        };
        let offerings = [offer("a"), offer("b")];
        (publisher, offerings)
    }

    fn permission(catalog: &Catalog, offerings: &[&String], end_date: Option<&str>) -> Permission {
        catalog
            .create_permission(
                DS,
                NewPermission {
                    licence: "licence".into(),
                    end_date: end_date.map(str::to_owned),
                    offerings: offerings.iter().map(|o| (*o).clone()).collect(),
                },
            )
            .unwrap()
    }

    fn access(permission: &Permission, offerings: &[&String]) -> KeyAccess {
        KeyAccess {
            permission: permission.id.clone(),
            offerings: offerings.iter().map(|o| (*o).clone()).collect(),
        }
    }

    fn key(catalog: &Catalog, accesses: Vec<KeyAccess>) -> (Key, String) {
        catalog
            .create_key(NewKey {
                name: "key".into(),
                accesses,
            })
            .unwrap()
    }

    /// The offerings the live layers grant to a key value.
    fn granted(publisher: &RecordingPublisher, value: &str) -> Option<Vec<String>> {
        let hash = hash_key(value);
        publisher
            .live()
            .grants
            .into_iter()
            .find(|g| g.hash == hash)
            .map(|g| g.offerings)
    }

    #[test]
    fn a_key_granted_a_permission_reaches_its_offerings_and_only_its_hash_is_kept() {
        let catalog = catalog();
        let (publisher, [a, b]) = restricted(&catalog);
        let permission = permission(&catalog, &[&a, &b], None);
        let names: Vec<&str> = permission
            .offerings
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"], "offerings are named by their layer");
        assert_eq!(catalog.permission(DS, &permission.id).unwrap(), permission);

        let (all, value) = key(&catalog, vec![access(&permission, &[])]);
        assert_eq!(all.kind, "HASH");
        assert_eq!(value.len(), 64);
        assert!(value.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(all.hash, hex(&hash_key(&value)));
        let answered = serde_json::to_string(&all).unwrap();
        assert!(
            !answered.contains(&value) && !answered.contains(&all.hash),
            "{answered}"
        );
        assert_eq!(
            catalog.keys().unwrap()[0].hash,
            all.hash,
            "the hash is stored"
        );
        let mut both = vec![a.clone(), b.clone()];
        both.sort();
        assert_eq!(granted(&publisher, &value), Some(both));

        // An access may narrow a permission to some of its offerings.
        let (_, only_a) = key(&catalog, vec![access(&permission, &[&a])]);
        assert_eq!(granted(&publisher, &only_a), Some(vec![a.clone()]));
        // A key without access is known, and grants nothing.
        let (_, none) = key(&catalog, Vec::new());
        assert_eq!(granted(&publisher, &none), Some(Vec::new()));
        assert_eq!(granted(&publisher, "a guess"), None);
    }

    #[test]
    fn a_permission_needs_offerings_that_exist_and_a_readable_end_date() {
        let catalog = catalog();
        let (publisher, [a, _]) = restricted(&catalog);
        let before = (catalog.generation().unwrap(), publisher.live());
        let new = |offerings: Vec<String>, end_date: Option<&str>| NewPermission {
            licence: String::new(),
            end_date: end_date.map(str::to_owned),
            offerings,
        };
        let message = invalid(catalog.create_permission(DS, new(Vec::new(), None)));
        assert!(
            message.contains("name the offerings this permission grants"),
            "{message}"
        );
        let message =
            invalid(catalog.create_permission(DS, new(vec![a.clone()], Some("next year"))));
        assert!(
            message
                .contains("end_date 'next year' is not a date: write it as 2027-12-31T23:59:59Z"),
            "{message}"
        );
        assert_eq!(
            not_found(catalog.create_permission(DS, new(vec![a.clone(), "nope".into()], None))),
            ("offering", "nope".to_owned())
        );
        assert_eq!(
            not_found(catalog.create_permission("other", new(vec![a], None))),
            ("datastore", "other".to_owned())
        );
        assert!(catalog.permissions(DS).unwrap().is_empty());
        assert_eq!((catalog.generation().unwrap(), publisher.live()), before);
    }

    #[test]
    fn a_key_needs_a_name_and_accesses_within_existing_permissions() {
        let catalog = catalog();
        let (_publisher, [a, b]) = restricted(&catalog);
        let permission = permission(&catalog, &[&a], None);
        let message = invalid(catalog.create_key(NewKey {
            name: " ".into(),
            accesses: Vec::new(),
        }));
        assert!(message.contains("name the key"), "{message}");
        let unknown = KeyAccess {
            permission: "nope".into(),
            offerings: Vec::new(),
        };
        assert_eq!(
            not_found(catalog.create_key(NewKey {
                name: "k".into(),
                accesses: vec![unknown]
            })),
            ("permission", "nope".to_owned())
        );
        let message = invalid(catalog.create_key(NewKey {
            name: "k".into(),
            accesses: vec![access(&permission, &[&b])],
        }));
        assert_eq!(
            message,
            format!(
                "offering '{b}' is not granted by permission '{}'",
                permission.id
            )
        );
        assert!(catalog.keys().unwrap().is_empty());

        let (created, _) = key(&catalog, Vec::new());
        invalid(catalog.add_key_access(&created.id, access(&permission, &[&b])));
        assert!(catalog.keys().unwrap()[0].accesses.is_empty());
        assert_eq!(
            not_found(catalog.add_key_access("nope", access(&permission, &[]))),
            ("key", "nope".to_owned())
        );
    }

    #[test]
    fn an_ended_permission_grants_nothing_and_deleting_a_permission_or_key_revokes_it() {
        let catalog = catalog();
        let (publisher, [a, b]) = restricted(&catalog);
        let ended = permission(&catalog, &[&a], Some("2000-01-01T00:00:00Z"));
        let current = permission(&catalog, &[&b], Some("2999-12-31T23:59:59Z"));
        let (created, value) = key(&catalog, vec![access(&ended, &[])]);
        assert_eq!(granted(&publisher, &value), Some(Vec::new()));

        let updated = catalog
            .add_key_access(&created.id, access(&current, &[]))
            .unwrap();
        assert_eq!(updated.accesses.len(), 2);
        assert_eq!(granted(&publisher, &value), Some(vec![b.clone()]));

        catalog.delete_permission(DS, &current.id).unwrap();
        assert_eq!(granted(&publisher, &value), Some(Vec::new()));
        not_found(catalog.permission(DS, &current.id));

        catalog.delete_key(&created.id).unwrap();
        assert_eq!(granted(&publisher, &value), None);
        assert_eq!(
            not_found(catalog.delete_key(&created.id)),
            ("key", created.id.clone())
        );
    }

    #[test]
    fn stored_hashes_are_read_back_exactly_and_malformed_ones_are_skipped() {
        let hash = hash_key("secret");
        assert_eq!(parse_hash(&hex(&hash)), Some(hash));
        assert_eq!(parse_hash(""), None);
        assert_eq!(parse_hash(&"a".repeat(63)), None);
        assert_eq!(parse_hash(&"g".repeat(64)), None);
        assert_ne!(random_secret(), random_secret());
    }
}
